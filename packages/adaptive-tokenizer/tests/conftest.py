"""Shared fixtures: small real corpora and local tokenizer folders standing in for the Hub.

The Hugging Face Hub cannot be reached from tests, so "pretrained" tokenizers are real
tokenizers trained here with `tokenizers` and saved with `save_pretrained`; the known-vocab
table is pointed at their folders (a local folder is a valid repo id for the Hub loader).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

WORDS = [
    "the",
    "king",
    "queen",
    "crown",
    "castle",
    "sword",
    "river",
    "bread",
    "wine",
    "night",
    "morning",
    "storm",
    "letter",
    "horse",
    "garden",
    "winter",
    "summer",
    "voice",
    "silence",
    "battle",
    "peace",
    "honour",
    "truth",
    "friend",
    "enemy",
    "father",
    "mother",
]
UNICODE_LINES = [
    "naïve café — déjà vu",
    "日本語のテキストと中文文本",
    "emoji 😀🎉👩‍👩‍👧 and flags 🇫🇷",
    "combining: e\u0301 a\u0308 n\u0303",
    "עברית וערבית: مرحبا بالعالم",
    "tabs\tand\nnewlines  double  spaces",
]


def make_corpus(num_lines: int, seed: int = 0) -> list[str]:
    """Deterministic English-like lines plus a few Unicode ones (newlines kept)."""
    rng = random.Random(seed)
    lines = []
    for i in range(num_lines):
        words = rng.choices(WORDS, k=rng.randint(3, 12))
        lines.append(f"{' '.join(words).capitalize()}, said voice {i % 97}.\n")
    return lines + [line + "\n" for line in UNICODE_LINES]


@pytest.fixture(scope="session")
def corpus() -> list[str]:
    return make_corpus(600)


def save_gpt2_like(folder: Path, texts: list[str], target: int) -> int:
    """A GPT-2 style tokenizer (byte-level BPE, `<|endoftext|>` as bos/eos/unk, no pad)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=target,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer=trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )
    tok.save_pretrained(str(folder))
    return len(tok)


def save_bert_like(folder: Path, texts: list[str]) -> int:
    """A BERT style tokenizer: lowercasing WordPiece with [PAD] [UNK] [CLS] [SEP] [MASK]."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    backend.normalizer = normalizers.BertNormalizer(lowercase=True)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(
        vocab_size=400,
        show_progress=False,
        special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
    )
    backend.train_from_iterator(texts, trainer=trainer)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token="[PAD]",
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )
    tok.save_pretrained(str(folder))
    return len(tok)


@pytest.fixture(scope="session")
def gpt2_like(tmp_path_factory: pytest.TempPathFactory, corpus: list[str]) -> tuple[Path, int]:
    folder = tmp_path_factory.mktemp("hub") / "gpt2-like"
    return folder, save_gpt2_like(folder, corpus, 700)


@pytest.fixture(scope="session")
def bert_like(tmp_path_factory: pytest.TempPathFactory, corpus: list[str]) -> tuple[Path, int]:
    folder = tmp_path_factory.mktemp("hub") / "bert-like"
    return folder, save_bert_like(folder, corpus)


@pytest.fixture(scope="session")
def unicode_lines() -> list[str]:
    return list(UNICODE_LINES)


@pytest.fixture(scope="session")
def corpus_factory():
    return make_corpus
