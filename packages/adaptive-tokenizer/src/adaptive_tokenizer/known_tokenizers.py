"""Model vocab sizes that identify a published tokenizer.

A model's vocab size (rows of its token embedding) is often that of a famous tokenizer; using
that tokenizer keeps the model compatible with pretrained weights and tooling. Each entry was
checked against the repository's own `config.json` (`vocab_size`) and tokenizer files
(`len(tokenizer)`): the two differ for models whose embedding is rounded up (T5, OPT, Phi-2,
Qwen2.5), and then the tokenizer is padded with reserved tokens up to the model's size.

Corrections to the table this package replaced: 250002 is XLM-RoBERTa (not OPT; mBART-cc25 is
250027); 51200 is Phi-2 (49152 is StarCoder / SmolLM); 100277 is OpenAI's tiktoken `cl100k_base`,
which is not a Hugging Face repository at all (and not Qwen, whose models use 151936); Llama 3
is 128256.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["KNOWN_TOKENIZERS", "KnownTokenizer"]


@dataclass(frozen=True)
class KnownTokenizer:
    """A published tokenizer that fits models of `vocab_size`.

    `repo_id` is what `load_or_create` downloads (None when it is not on the Hub);
    `tokenizer_size` is `len(tokenizer)` as published (<= `vocab_size`, padded up to it);
    `gated` says the repo needs an accepted license and a token (`hf auth login` / `HF_TOKEN`);
    `upstream` is the original repo when `repo_id` is an ungated copy of it.
    """

    vocab_size: int
    repo_id: str | None
    tokenizer_size: int
    family: str
    gated: bool = False
    upstream: str | None = None
    note: str = ""

    @property
    def on_hub(self) -> bool:
        return self.repo_id is not None


_ENTRIES = (
    KnownTokenizer(28996, "google-bert/bert-base-cased", 28996, "BERT (cased)"),
    KnownTokenizer(
        30522,
        "google-bert/bert-base-uncased",
        30522,
        "BERT (uncased)",
        note="WordPiece, lowercases: decoding is not an exact round trip",
    ),
    KnownTokenizer(
        32000,
        "hf-internal-testing/llama-tokenizer",
        32000,
        "Llama 2",
        upstream="meta-llama/Llama-2-7b-hf",
        note="ungated copy of the Llama 2 tokenizer kept by Hugging Face for tests; "
        "the upstream repo is gated",
    ),
    KnownTokenizer(
        32100, "google-t5/t5-small", 32100, "T5", note="32000 SentencePiece + 100 sentinels"
    ),
    KnownTokenizer(
        32128,
        "google-t5/t5-small",
        32100,
        "T5 checkpoints",
        note="T5 models round the embedding up to 32128; 28 reserved tokens pad it",
    ),
    KnownTokenizer(
        49152,
        "HuggingFaceTB/SmolLM-135M",
        49152,
        "StarCoder / SmolLM",
        upstream="bigcode/starcoder",
        note="SmolLM reuses the StarCoder vocab size; bigcode/starcoder is gated",
    ),
    KnownTokenizer(50257, "openai-community/gpt2", 50257, "GPT-2 / GPT-Neo (r50k)"),
    KnownTokenizer(50265, "FacebookAI/roberta-base", 50265, "RoBERTa / BART"),
    KnownTokenizer(
        50272,
        "facebook/opt-125m",
        50265,
        "OPT",
        note="OPT rounds its embedding up to 50272; 7 reserved tokens pad it",
    ),
    KnownTokenizer(
        51200,
        "microsoft/phi-2",
        50295,
        "Phi-1.5 / Phi-2",
        note="CodeGen tokenizer (50295) in a 51200-row embedding; 905 reserved tokens",
    ),
    KnownTokenizer(
        100277,
        None,
        100277,
        "OpenAI cl100k_base (tiktoken)",
        note="a tiktoken encoding (GPT-4 / GPT-3.5), not a Hugging Face repository; "
        "ids have gaps (100256 and 100261-100275 are unused)",
    ),
    KnownTokenizer(128256, "meta-llama/Meta-Llama-3-8B", 128256, "Llama 3", gated=True),
    KnownTokenizer(
        151936,
        "Qwen/Qwen2.5-0.5B",
        151665,
        "Qwen2 / Qwen2.5",
        note="151643 BPE + 22 special tokens in a 151936-row embedding",
    ),
    KnownTokenizer(250002, "FacebookAI/xlm-roberta-base", 250002, "XLM-RoBERTa"),
    KnownTokenizer(256000, "google/gemma-2b", 256000, "Gemma", gated=True),
)

#: model vocab size -> the tokenizer to use for it
KNOWN_TOKENIZERS: dict[int, KnownTokenizer] = {entry.vocab_size: entry for entry in _ENTRIES}
