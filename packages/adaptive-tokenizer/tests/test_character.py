from __future__ import annotations

import numpy as np
import pytest
from transformers import PreTrainedTokenizerFast

from adaptive_tokenizer import (
    CharacterLevelTokenizer,
    DatasetError,
    TokenizerValidator,
    VocabSizeError,
)


@pytest.fixture(scope="module")
def char_tok(corpus) -> PreTrainedTokenizerFast:
    return CharacterLevelTokenizer().train(corpus, vocab_size=200)


def test_character_tokenizer_is_a_real_fast_tokenizer_of_exact_size(char_tok):
    assert isinstance(char_tok, PreTrainedTokenizerFast)
    assert len(char_tok) == 200
    assert (
        char_tok.pad_token_id,
        char_tok.unk_token_id,
        char_tok.bos_token_id,
        char_tok.eos_token_id,
    ) == (0, 1, 2, 3)
    assert TokenizerValidator.validate(char_tok, 200, sample_text="the king\n").passed


def test_character_round_trip_is_exact_for_any_unicode(char_tok, unicode_lines):
    for text in unicode_lines:
        ids = char_tok(text)["input_ids"]
        assert char_tok.unk_token_id not in ids, text
        assert char_tok.decode(ids) == text
        assert len(ids) == len(text)  # one token per code point, no inserted spaces


def test_unknown_characters_become_unk(char_tok):
    ids = char_tok("king ☃")["input_ids"]

    assert ids[-1] == char_tok.unk_token_id
    assert char_tok.decode(ids, skip_special_tokens=True) == "king "


def test_vocab_keeps_the_most_frequent_characters_within_budget():
    texts = ["aaaa bbb cc d"] * 3

    tok = CharacterLevelTokenizer().train(texts, vocab_size=7)

    vocab = tok.get_vocab()
    assert len(tok) == 7
    # a (12), then space and b (9 each, ties by code point: " " < "b")
    assert [vocab["a"], vocab[" "], vocab["b"]] == [4, 5, 6]
    assert "c" not in vocab and "d" not in vocab
    assert tok.decode(tok("ccd")["input_ids"]) == "<unk><unk><unk>"


def test_small_alphabet_is_padded_with_reserved_tokens():
    tok = CharacterLevelTokenizer().train(["abc"], vocab_size=50)

    assert len(tok) == 50
    assert "<|reserved_0|>" in tok.get_vocab()
    # reserved tokens are inert: their spelling is split into characters like any text
    assert tok.convert_tokens_to_ids("<|reserved_0|>") not in tok("<|reserved_0|>")["input_ids"]


def test_padding_truncation_and_numpy_tensors_work(char_tok):
    batch = char_tok(
        ["king", "the queen rides"],
        padding=True,
        truncation=True,
        max_length=8,
        return_tensors="np",
    )

    assert isinstance(batch["input_ids"], np.ndarray)
    assert batch["input_ids"].shape == (2, 8)
    assert batch["input_ids"][0, 4:].tolist() == [char_tok.pad_token_id] * 4
    assert batch["attention_mask"][0].tolist() == [1, 1, 1, 1, 0, 0, 0, 0]
    assert char_tok.batch_decode(batch["input_ids"], skip_special_tokens=True) == [
        "king",
        "the quee",
    ]


def test_saved_character_tokenizer_round_trips(tmp_path, char_tok, unicode_lines):
    char_tok.save_pretrained(str(tmp_path))

    loaded = PreTrainedTokenizerFast.from_pretrained(str(tmp_path))

    assert len(loaded) == 200
    text = unicode_lines[2]
    assert loaded(text)["input_ids"] == char_tok(text)["input_ids"]
    assert loaded.decode(loaded(text)["input_ids"]) == text


def test_character_level_rejects_too_small_vocab_and_empty_data():
    with pytest.raises(VocabSizeError, match="at least one character"):
        CharacterLevelTokenizer().train(["abc"], vocab_size=4)
    with pytest.raises(DatasetError, match="no text"):
        CharacterLevelTokenizer().train(["", ""], vocab_size=10)
