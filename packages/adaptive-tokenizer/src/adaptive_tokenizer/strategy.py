"""Which of the four tiers fits a vocab size and a dataset, and why."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import NamedTuple

from .errors import StrategyError, VocabSizeError
from .known_tokenizers import KNOWN_TOKENIZERS, KnownTokenizer
from .special_tokens import DEFAULT_SPECIAL_TOKENS

__all__ = ["MIN_BPE_SAMPLES", "Strategy", "StrategyChoice", "check_vocab_size", "choose_strategy"]

#: below this many samples there is too little text to learn useful merges: use characters
MIN_BPE_SAMPLES = 100


class Strategy(str, Enum):
    """The four ways to get a tokenizer (plus `auto`, which picks one)."""

    AUTO = "auto"
    PRETRAINED = "pretrained"
    BPE = "bpe"
    CHARACTER = "character"
    UPLOAD = "upload"

    @classmethod
    def parse(cls, value: str | Strategy) -> Strategy:
        try:
            return cls(value)
        except ValueError:
            names = ", ".join(s.value for s in cls)
            raise StrategyError(f"unknown strategy {value!r}: choose one of {names}") from None


class StrategyChoice(NamedTuple):
    """What `detect_strategy` picked and the reason (also logged)."""

    strategy: Strategy
    reason: str
    known: KnownTokenizer | None = None


def check_vocab_size(vocab_size: object) -> int:
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size <= 0:
        raise VocabSizeError(
            f"vocab_size must be a positive integer (the model's embedding rows), got {vocab_size!r}"
        )
    return vocab_size


def choose_strategy(
    vocab_size: int, dataset_size: int | None, *, known: Mapping[int, KnownTokenizer] | None = None
) -> StrategyChoice:
    """Pick a tier. `dataset_size` is the number of text samples (None: unknown, 0: no data).

    1. a published tokenizer has exactly this vocab size -> pretrained;
    2. below 256 bytes + 4 special tokens -> character-level (byte-level BPE cannot fit);
    3. fewer than `MIN_BPE_SAMPLES` samples -> character-level (too little text for merges),
       except with no data at all, where a byte-level vocab (no merges) covers any text;
    4. otherwise BPE trained on the data.
    """
    check_vocab_size(vocab_size)
    table = KNOWN_TOKENIZERS if known is None else known
    entry = table.get(vocab_size)
    bpe_minimum = 256 + len(DEFAULT_SPECIAL_TOKENS.all())
    note = ""
    if entry is not None:
        if entry.on_hub:
            gated = " (gated: needs an accepted license and a token)" if entry.gated else ""
            return StrategyChoice(
                Strategy.PRETRAINED,
                f"vocab_size {vocab_size} matches {entry.family}: using {entry.repo_id}{gated}",
                entry,
            )
        note = f"vocab_size {vocab_size} matches {entry.family}, which is not on the Hugging Face Hub; "
    if vocab_size < bpe_minimum:
        return StrategyChoice(
            Strategy.CHARACTER,
            note
            + (
                f"vocab_size {vocab_size} is below {bpe_minimum} (256 bytes + 4 special tokens) that "
                "byte-level BPE needs: one token per character"
            ),
        )
    if dataset_size == 0:
        return StrategyChoice(
            Strategy.BPE,
            note
            + (
                "no training data: byte-level vocab without merges (covers any text), padded with "
                "reserved tokens"
            ),
        )
    if dataset_size is not None and dataset_size < MIN_BPE_SAMPLES:
        return StrategyChoice(
            Strategy.CHARACTER,
            note
            + (
                f"only {dataset_size} samples (< {MIN_BPE_SAMPLES}): too little text to learn BPE "
                "merges, one token per character"
            ),
        )
    size = "an unknown number of" if dataset_size is None else str(dataset_size)
    return StrategyChoice(
        Strategy.BPE,
        note
        + (
            f"no published tokenizer has {vocab_size} tokens: byte-level BPE trained on {size} samples"
        ),
    )
