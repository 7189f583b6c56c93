"""`AdaptiveTokenizer`: the one call that gives a model a tokenizer of exactly its vocab size."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence, Sized
from typing import TYPE_CHECKING, Any

from .bpe import FastBPETrainer
from .character import DEFAULT_ALPHABET, CharacterLevelTokenizer
from .errors import PretrainedUnavailableError, StrategyError, TokenizerValidationError
from .hub import fetch_tokenizer_files
from .known_tokenizers import KnownTokenizer
from .special_tokens import SpecialTokens
from .strategy import Strategy, StrategyChoice, check_vocab_size, choose_strategy
from .upload import TokenizerSource, load_tokenizer_files
from .validator import TokenizerValidator
from .vocab_contract import fit_to_vocab_size

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

__all__ = ["AdaptiveTokenizer"]

logger = logging.getLogger(__name__)


def _dataset_size(dataset: Any) -> int | None:
    if dataset is None:
        return 0
    num_lines = getattr(dataset, "num_lines", None)  # TextFiles
    if isinstance(num_lines, int):
        return num_lines
    if isinstance(dataset, Sized) and not isinstance(dataset, (str, bytes)):
        return len(dataset)
    return None


class AdaptiveTokenizer:
    """Four tiers behind one call: pretrained, BPE on your data, character-level, your upload.

    Example:
        >>> from adaptive_tokenizer import AdaptiveTokenizer
        >>> texts = [f"line {i}: to be, or not to be" for i in range(200)]
        >>> tok = AdaptiveTokenizer.load_or_create(1234, texts)
        >>> len(tok), tok.pad_token_id, tok.eos_token_id
        (1234, 0, 3)
    """

    @staticmethod
    def detect_strategy(
        vocab_size: int,
        dataset_size: int | None = None,
        *,
        known_tokenizers: Mapping[int, KnownTokenizer] | None = None,
    ) -> StrategyChoice:
        """Pick a tier for this vocab size and number of samples; the reason is logged and returned."""
        choice = choose_strategy(vocab_size, dataset_size, known=known_tokenizers)
        logger.info("tokenizer strategy: %s (%s)", choice.strategy.value, choice.reason)
        return choice

    @classmethod
    def load_or_create(
        cls,
        vocab_size: int,
        dataset: Any = None,
        cache_dir: str | os.PathLike[str] | None = None,
        strategy: str | Strategy = "auto",
        *,
        tokenizer_path: TokenizerSource | None = None,
        pretrained: str | None = None,
        special_tokens: SpecialTokens | Sequence[str] | None = None,
        text_column: str | None = None,
        min_frequency: int = 2,
        local_files_only: bool = False,
        known_tokenizers: Mapping[int, KnownTokenizer] | None = None,
        show_progress: bool = True,
    ) -> PreTrainedTokenizerFast:
        """A `PreTrainedTokenizerFast` with `len == vocab_size`, pad/unk/bos/eos set, ids < vocab_size.

        `dataset`: iterable of strings, `datasets.Dataset` (text column found or `text_column`),
        or `TextFiles`. `cache_dir`: Hub downloads and trained BPE tokenizers live there.
        `tokenizer_path` (upload tier): a folder, a tokenizer.json, or (vocab.json, merges.txt).
        `pretrained`: a Hub repo id or local folder to use instead of the known-vocab table.
        With `strategy="auto"`, a pretrained tokenizer that cannot be fetched falls through to
        BPE (or character-level) and the log says why; an explicit strategy raises instead.
        """
        check_vocab_size(vocab_size)
        wanted = Strategy.parse(strategy)
        if wanted is Strategy.AUTO:
            if tokenizer_path is not None:
                choice = StrategyChoice(
                    Strategy.UPLOAD, "a tokenizer was uploaded (tokenizer_path)"
                )
            elif pretrained is not None:
                choice = StrategyChoice(Strategy.PRETRAINED, f"pretrained={pretrained!r} was given")
            else:
                choice = choose_strategy(vocab_size, _dataset_size(dataset), known=known_tokenizers)
        else:
            choice = StrategyChoice(wanted, f"strategy={wanted.value!r} was requested")
        logger.info("tokenizer strategy: %s (%s)", choice.strategy.value, choice.reason)

        if choice.strategy is Strategy.PRETRAINED:
            try:
                tokenizer = cls._pretrained(
                    vocab_size, pretrained, cache_dir, local_files_only, known_tokenizers
                )
                return cls._checked(tokenizer, vocab_size, require_round_trip=False)
            except PretrainedUnavailableError as error:
                if wanted is not Strategy.AUTO:
                    raise
                fallback = choose_strategy(vocab_size, _dataset_size(dataset), known={})
                logger.warning(
                    "pretrained tokenizer unavailable (%s); falling back to %s (%s)",
                    error,
                    fallback.strategy.value,
                    fallback.reason,
                )
                choice = fallback
        if choice.strategy is Strategy.UPLOAD:
            if tokenizer_path is None:
                raise StrategyError(
                    "strategy 'upload' needs tokenizer_path=... (a folder, tokenizer.json, "
                    "or vocab.json + merges.txt)"
                )
            tokenizer = fit_to_vocab_size(
                load_tokenizer_files(tokenizer_path),
                vocab_size,
                source=f"uploaded tokenizer {tokenizer_path!s}",
            )
            return cls._checked(tokenizer, vocab_size, require_round_trip=False)
        if choice.strategy is Strategy.BPE:
            trainer = FastBPETrainer(
                min_frequency=min_frequency, show_progress=show_progress, text_column=text_column
            )
            if dataset is None:
                tokenizer = trainer.byte_level_only(vocab_size, special_tokens)
            else:
                tokenizer = trainer.train_on_dataset(dataset, vocab_size, special_tokens, cache_dir)
            return cls._checked(tokenizer, vocab_size)
        if choice.strategy is Strategy.CHARACTER:
            builder = CharacterLevelTokenizer(special_tokens, text_column=text_column)
            if dataset is None:
                tokenizer = builder.from_characters(DEFAULT_ALPHABET, vocab_size)
            else:
                tokenizer = builder.train(dataset, vocab_size)
            return cls._checked(tokenizer, vocab_size)
        raise StrategyError(
            f"strategy {choice.strategy.value!r} cannot build a tokenizer"
        )  # pragma: no cover

    @staticmethod
    def _pretrained(
        vocab_size: int,
        pretrained: str | None,
        cache_dir: Any,
        local_files_only: bool,
        known_tokenizers: Mapping[int, KnownTokenizer] | None,
    ) -> PreTrainedTokenizerFast:
        from .known_tokenizers import KNOWN_TOKENIZERS

        if pretrained is None:
            entry = (KNOWN_TOKENIZERS if known_tokenizers is None else known_tokenizers).get(
                vocab_size
            )
            if entry is None or entry.repo_id is None:
                what = "no known tokenizer" if entry is None else f"{entry.family} (not on the Hub)"
                raise PretrainedUnavailableError(
                    f"vocab_size {vocab_size} matches {what}: pass pretrained='org/name' or use strategy='bpe'"
                )
            pretrained = entry.repo_id
        folder = fetch_tokenizer_files(
            pretrained, cache_dir=cache_dir, local_files_only=local_files_only
        )
        tokenizer = load_tokenizer_files(folder)
        return fit_to_vocab_size(tokenizer, vocab_size, source=f"pretrained tokenizer {pretrained}")

    @staticmethod
    def _checked(
        tokenizer: PreTrainedTokenizerFast, vocab_size: int, *, require_round_trip: bool = True
    ) -> PreTrainedTokenizerFast:
        report = TokenizerValidator.validate(
            tokenizer, vocab_size, require_round_trip=require_round_trip
        )
        for warning in report.warnings:
            logger.warning("tokenizer check: %s", warning)
        if not report.passed:
            raise TokenizerValidationError("; ".join(report.errors))
        return tokenizer
