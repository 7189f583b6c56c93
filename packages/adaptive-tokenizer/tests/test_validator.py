from __future__ import annotations

import pytest
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from adaptive_tokenizer import CharacterLevelTokenizer, FastBPETrainer, TokenizerValidator


@pytest.fixture(scope="module")
def good(corpus) -> PreTrainedTokenizerFast:
    return FastBPETrainer(show_progress=False).train_on_dataset(corpus, 400)


def _failed(report):
    return {c.name for c in report.checks if not c.passed and c.severity == "error"}


def test_valid_tokenizer_passes_every_check(good):
    report = TokenizerValidator.validate(good, 400)

    assert report.passed and not report.errors and not report.warnings
    assert [c.name for c in report.checks] == [
        "size",
        "id_range",
        "special_tokens",
        "pad_token",
        "encoded_ids",
        "round_trip",
    ]
    assert "PASSED" in report.to_text()
    assert report.to_dict()["passed"] is True


def test_size_mismatch_says_what_to_do(good):
    report = TokenizerValidator.validate(good, 300)

    assert not report.passed
    assert {"size", "id_range", "encoded_ids"} <= _failed(report)
    assert any(
        "has 400 tokens but the model's vocab is 300" in e and "load_or_create(300" in e
        for e in report.errors
    )


def test_missing_pad_token_fails_and_hints_at_an_existing_token():
    vocab = {"<unk>": 0, "a": 1, "b": 2}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>")

    report = TokenizerValidator.validate(tok, 3, sample_text="ab")

    assert {"special_tokens", "pad_token"} <= _failed(report)
    assert any("no pad token" in e for e in report.errors)
    assert any("adding a new one grows the vocab" in e for e in report.errors)


def test_lossy_round_trip_is_an_error_unless_allowed(good):
    backend = Tokenizer.from_str(good.backend_tokenizer.to_str())
    backend.normalizer = normalizers.Lowercase()
    lossy = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token="<pad>",
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
    )

    strict = TokenizerValidator.validate(lossy, 400)
    lenient = TokenizerValidator.validate(lossy, 400, require_round_trip=False)

    assert _failed(strict) == {"round_trip"}
    assert "normalizes or loses text" in strict.errors[0]
    assert lenient.passed and lenient.warnings


def test_out_of_vocab_characters_are_only_a_warning():
    tok = CharacterLevelTokenizer().train(["abc"], vocab_size=10)

    report = TokenizerValidator.validate(tok, 10, sample_text="abcxyz")

    assert report.passed
    assert any("outside the vocab" in w for w in report.warnings)


def test_report_names_match_model_adapters_and_serialise_to_json() -> None:
    import json

    from adaptive_tokenizer import (
        CharacterLevelTokenizer,
        CheckResult,
        TokenizerValidator,
        ValidationCheck,
    )

    tok = CharacterLevelTokenizer().train(["abc"], vocab_size=10)
    report = TokenizerValidator.validate(tok, 12, sample_text="cab")
    assert ValidationCheck is CheckResult  # the old name still imports
    assert [check.name for check in report.failed] == ["size"]
    assert all(isinstance(check, CheckResult) for check in report.checks)
    assert json.loads(report.to_json())["errors"] == report.errors
