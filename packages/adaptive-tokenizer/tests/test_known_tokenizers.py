from __future__ import annotations

from adaptive_tokenizer import KNOWN_TOKENIZERS


def test_table_keys_match_entries_and_tokenizers_fit_their_models():
    for vocab_size, entry in KNOWN_TOKENIZERS.items():
        assert entry.vocab_size == vocab_size
        assert entry.tokenizer_size <= vocab_size


def test_table_has_the_corrected_entries():
    assert KNOWN_TOKENIZERS[50257].repo_id == "openai-community/gpt2"
    assert KNOWN_TOKENIZERS[51200].repo_id == "microsoft/phi-2"
    assert KNOWN_TOKENIZERS[49152].family.startswith("StarCoder")
    assert KNOWN_TOKENIZERS[250002].repo_id == "FacebookAI/xlm-roberta-base"
    assert KNOWN_TOKENIZERS[128256].gated
    assert (
        not KNOWN_TOKENIZERS[32000].gated
        and KNOWN_TOKENIZERS[32000].upstream == "meta-llama/Llama-2-7b-hf"
    )
    cl100k = KNOWN_TOKENIZERS[100277]
    assert cl100k.repo_id is None and "tiktoken" in cl100k.family
    assert all(
        "qwen" not in (e.repo_id or "").lower()
        for e in KNOWN_TOKENIZERS.values()
        if e.vocab_size != 151936
    )
