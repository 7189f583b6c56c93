from __future__ import annotations

import logging
import shutil

import pytest
from tokenizers import Tokenizer

from adaptive_tokenizer import (
    AdaptiveTokenizer,
    KnownTokenizer,
    PretrainedUnavailableError,
    Strategy,
    StrategyError,
    TokenizerLoadError,
    TokenizerValidator,
    VocabSizeError,
    VocabSizeMismatchError,
)


def _known(folder, size, tokenizer_size=None):
    return {size: KnownTokenizer(size, str(folder), tokenizer_size or size, "test family")}


@pytest.mark.parametrize(
    ("vocab_size", "dataset_size", "expected"),
    [
        (50257, 10_000, Strategy.PRETRAINED),
        (32000, None, Strategy.PRETRAINED),
        (3001, 10_000, Strategy.BPE),
        (3001, None, Strategy.BPE),
        (3001, 0, Strategy.BPE),
        (3001, 20, Strategy.CHARACTER),
        (259, 10_000, Strategy.CHARACTER),
        (100277, 10_000, Strategy.BPE),  # cl100k is tiktoken, not on the Hub
    ],
)
def test_detect_strategy(vocab_size, dataset_size, expected, caplog):
    with caplog.at_level(logging.INFO, logger="adaptive_tokenizer"):
        choice = AdaptiveTokenizer.detect_strategy(vocab_size, dataset_size)

    assert choice.strategy is expected
    assert choice.reason in caplog.text


def test_detect_strategy_names_the_repo_and_rejects_bad_sizes():
    assert "openai-community/gpt2" in AdaptiveTokenizer.detect_strategy(50257, 100).reason
    assert "gated" in AdaptiveTokenizer.detect_strategy(128256, 100).reason
    assert "tiktoken" in AdaptiveTokenizer.detect_strategy(100277, 1000).reason
    for bad in (0, -5, 3.5, "100"):
        with pytest.raises(VocabSizeError, match="positive integer"):
            AdaptiveTokenizer.detect_strategy(bad, 10)


def test_unknown_strategy_is_rejected(corpus):
    with pytest.raises(StrategyError, match="unknown strategy 'magic'"):
        AdaptiveTokenizer.load_or_create(300, corpus, strategy="magic")


def test_pretrained_of_exact_size_is_used_as_is_and_pad_reuses_eos(gpt2_like, corpus):
    folder, size = gpt2_like

    tok = AdaptiveTokenizer.load_or_create(size, corpus, known_tokenizers=_known(folder, size))

    assert len(tok) == size
    assert tok.pad_token == tok.eos_token == "<|endoftext|>"  # no free slot: pad reuses eos
    original = Tokenizer.from_file(str(folder / "tokenizer.json"))
    assert tok("the king")["input_ids"] == original.encode("the king").ids


def test_smaller_pretrained_is_padded_and_gets_a_real_pad_token(gpt2_like):
    folder, size = gpt2_like

    tok = AdaptiveTokenizer.load_or_create(
        size + 25, known_tokenizers=_known(folder, size + 25, size)
    )

    assert len(tok) == size + 25
    assert tok.pad_token == "<pad>" and tok.pad_token_id == size
    assert tok.eos_token_id == tok.convert_tokens_to_ids("<|endoftext|>")
    assert tok.convert_tokens_to_ids("<|reserved_0|>") == size + 1
    assert TokenizerValidator.validate(tok, size + 25).passed


def test_larger_pretrained_is_rejected_with_a_clear_message(gpt2_like):
    folder, size = gpt2_like

    with pytest.raises(
        VocabSizeMismatchError, match=f"has {size} tokens but the model's vocab is 300"
    ):
        AdaptiveTokenizer.load_or_create(300, pretrained=str(folder))


def test_lossy_pretrained_tokenizer_is_accepted_with_a_warning(bert_like, caplog):
    folder, size = bert_like

    with caplog.at_level(logging.WARNING, logger="adaptive_tokenizer"):
        tok = AdaptiveTokenizer.load_or_create(size, pretrained=str(folder))

    assert len(tok) == size
    assert tok.bos_token == "[CLS]" and tok.eos_token == "[SEP]"  # no slot: reuse existing roles
    assert "tokenizer check:" in caplog.text  # the lossy round trip is a warning, not a failure


def test_unreachable_hub_falls_through_to_bpe_and_says_why(corpus, caplog):
    known = {700: KnownTokenizer(700, "no-such-org/no-such-tokenizer", 700, "nowhere")}

    with caplog.at_level(logging.INFO, logger="adaptive_tokenizer"):
        tok = AdaptiveTokenizer.load_or_create(
            700, corpus, local_files_only=True, known_tokenizers=known, show_progress=False
        )

    assert len(tok) == 700
    assert tok.pad_token_id == 0  # our BPE layout
    assert "no-such-org/no-such-tokenizer is not in the local cache" in caplog.text
    assert "falling back to bpe" in caplog.text


def test_unreachable_hub_with_explicit_pretrained_strategy_raises(corpus):
    known = {700: KnownTokenizer(700, "no-such-org/no-such-tokenizer", 700, "nowhere")}

    with pytest.raises(PretrainedUnavailableError, match="not in the local cache"):
        AdaptiveTokenizer.load_or_create(
            700, corpus, strategy="pretrained", local_files_only=True, known_tokenizers=known
        )


def test_hub_probe_reports_unreachable_host(monkeypatch):
    from huggingface_hub import constants

    from adaptive_tokenizer.hub import hub_unreachable_reason

    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "ENDPOINT", "https://does-not-exist.invalid")
    assert "does-not-exist.invalid:443 unreachable" in hub_unreachable_reason(timeout=1.0)


def test_no_data_gives_a_byte_level_tokenizer_that_covers_any_text(unicode_lines):
    tok = AdaptiveTokenizer.load_or_create(1000)

    assert len(tok) == 1000
    for text in unicode_lines:
        assert tok.decode(tok(text)["input_ids"]) == text


def test_tiny_vocab_without_data_uses_printable_ascii():
    tok = AdaptiveTokenizer.load_or_create(60)

    assert len(tok) == 60
    assert tok.decode(tok("Hello")["input_ids"]) == "Hello"


def test_auto_uses_character_level_for_few_samples(unicode_lines):
    tok = AdaptiveTokenizer.load_or_create(3001, unicode_lines)

    assert len(tok) == 3001
    assert len(tok(unicode_lines[1])["input_ids"]) == len(unicode_lines[1])


def test_datasets_dataset_is_accepted(corpus):
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_dict({"text": corpus})

    tok = AdaptiveTokenizer.load_or_create(500, ds, show_progress=False)

    assert len(tok) == 500


@pytest.mark.parametrize(
    "form", ["folder", "tokenizer.json", "vocab+merges", "vocab+merges folder"]
)
def test_uploaded_tokenizer_in_every_form_meets_the_contract(tmp_path, gpt2_like, form):
    folder, size = gpt2_like
    if form == "folder":
        path = folder
    elif form == "tokenizer.json":
        path = folder / "tokenizer.json"
    else:
        Tokenizer.from_file(str(folder / "tokenizer.json")).model.save(str(tmp_path))
        path = (
            tmp_path
            if form == "vocab+merges folder"
            else [tmp_path / "vocab.json", tmp_path / "merges.txt"]
        )

    tok = AdaptiveTokenizer.load_or_create(size + 10, tokenizer_path=path)

    assert len(tok) == size + 10
    assert TokenizerValidator.validate(tok, size + 10).passed
    assert tok.decode(tok("the queen rides")["input_ids"]) == "the queen rides"
    assert tok.eos_token == "<|endoftext|>"


def test_bad_uploads_give_clear_errors(tmp_path):
    (tmp_path / "vocab.json").write_text('{"a": 0}')
    with pytest.raises(TokenizerLoadError, match="merges"):
        AdaptiveTokenizer.load_or_create(100, tokenizer_path=tmp_path / "vocab.json")
    with pytest.raises(TokenizerLoadError, match="does not exist"):
        AdaptiveTokenizer.load_or_create(100, tokenizer_path=tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(TokenizerLoadError, match=r"no tokenizer.json"):
        AdaptiveTokenizer.load_or_create(100, tokenizer_path=empty)
    with pytest.raises(StrategyError, match="tokenizer_path"):
        AdaptiveTokenizer.load_or_create(100, strategy="upload")


def test_upload_without_specials_and_without_room_is_rejected(tmp_path, corpus):
    from tokenizers import models, pre_tokenizers, trainers

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel()
    backend.train_from_iterator(
        corpus,
        trainer=trainers.BpeTrainer(
            vocab_size=300,
            show_progress=False,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    backend.save(str(tmp_path / "tokenizer.json"))
    size = backend.get_vocab_size()

    with pytest.raises(VocabSizeMismatchError, match="no pad token and no free slot"):
        AdaptiveTokenizer.load_or_create(size, tokenizer_path=tmp_path / "tokenizer.json")
    tok = AdaptiveTokenizer.load_or_create(size + 4, tokenizer_path=tmp_path / "tokenizer.json")
    assert [tok.pad_token, tok.unk_token, tok.bos_token, tok.eos_token] == [
        "<pad>",
        "<unk>",
        "<s>",
        "</s>",
    ]
    assert len(tok) == size + 4


def test_setting_pad_never_grows_the_vocab(gpt2_like, tmp_path):
    folder, size = gpt2_like
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)

    tok = AdaptiveTokenizer.load_or_create(size, tokenizer_path=copy)

    assert len(tok) == size
    assert tok.pad_token_id is not None and tok.pad_token_id < size


def test_padding_an_already_padded_upload_keeps_reserved_names_unique(tmp_path, corpus):
    first = AdaptiveTokenizer.load_or_create(
        2000, corpus, show_progress=False
    )  # has reserved tokens
    first.save_pretrained(str(tmp_path))

    tok = AdaptiveTokenizer.load_or_create(2010, tokenizer_path=tmp_path)

    vocab = tok.get_vocab()
    reserved = [t for t in vocab if t.startswith("<|reserved_")]
    assert len(tok) == 2010 and len(vocab) == 2010
    assert len(reserved) == len(set(reserved))
    assert vocab["<|reserved_0|>"] == first.convert_tokens_to_ids("<|reserved_0|>")


def test_real_download_path_falls_through_when_the_hub_host_is_unreachable(
    monkeypatch, tmp_path, corpus, caplog
):
    from huggingface_hub import constants

    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "ENDPOINT", "https://does-not-exist.invalid")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    known = {700: KnownTokenizer(700, "some-org/some-tokenizer", 700, "somewhere")}

    with caplog.at_level(logging.WARNING, logger="adaptive_tokenizer"):
        tok = AdaptiveTokenizer.load_or_create(
            700, corpus, cache_dir=tmp_path, known_tokenizers=known, show_progress=False
        )

    assert len(tok) == 700
    assert "cannot reach the Hugging Face Hub to download some-org/some-tokenizer" in caplog.text
