"""Byte-level BPE trained on the user's data, with exactly the requested number of tokens.

`tokenizers`' `BpeTrainer` cannot promise a size: on a small corpus it runs out of pairs seen
`min_frequency` times and stops short (whole tinyshakespeare reaches ~12.7K tokens for a 32K
target), and it never drops tokens it was told to keep. `FastBPETrainer` trains with the raw
Rust trainer, then pads a short vocab with reserved tokens or trims the last merges of a long
one, so `len(tokenizer) == vocab_size` always holds.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .cache import TokenizerCache, cache_key
from .data import DEFAULT_BATCH_SIZE, TextSource
from .errors import DatasetError, VocabSizeError
from .special_tokens import SpecialTokens
from .vocab_contract import pad_backend_to_size, padded_bpe_json, wrap_backend, wrap_json

if TYPE_CHECKING:
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

__all__ = ["BYTE_ALPHABET_SIZE", "FastBPETrainer", "trim_bpe_to_size"]

logger = logging.getLogger(__name__)

BYTE_ALPHABET_SIZE = 256
_ALGORITHM_VERSION = 2


@functools.cache
def _byte_alphabet() -> tuple[str, ...]:
    """The 256 printable stand-ins of GPT-2's byte-level BPE (computed once per process)."""
    from tokenizers import pre_tokenizers

    return tuple(sorted(pre_tokenizers.ByteLevel.alphabet()))


def trim_bpe_to_size(tokenizer: Tokenizer, vocab_size: int) -> Tokenizer:
    """Drop the last-learned merges until the BPE model has `vocab_size` tokens.

    BPE ids follow merge order, so removing every token with id >= `vocab_size` and every merge
    that produces or uses one of them leaves the tokenizer a trainer would have stopped at.
    """
    from tokenizers import Tokenizer

    state = json.loads(tokenizer.to_str())
    model = state["model"]
    kept = {token: i for token, i in model["vocab"].items() if i < vocab_size}
    merges = []
    for merge in model["merges"]:
        left, right = merge.split(" ", 1) if isinstance(merge, str) else merge
        if left in kept and right in kept and left + right in kept:
            merges.append(merge)
    model["vocab"] = kept
    model["merges"] = merges
    state["added_tokens"] = [t for t in state.get("added_tokens", []) if t["id"] < vocab_size]
    return Tokenizer.from_str(json.dumps(state))


class FastBPETrainer:
    """Byte-level BPE (GPT-2 style, no unknown tokens) trained from a stream of texts.

    Example:
        >>> from adaptive_tokenizer import FastBPETrainer
        >>> tok = FastBPETrainer(show_progress=False).train_on_dataset(["hello world"] * 50, 300)
        >>> len(tok), tok.pad_token_id, tok.decode(tok("hello world")["input_ids"])
        (300, 0, 'hello world')
    """

    def __init__(
        self,
        *,
        min_frequency: int = 2,
        batch_size: int = DEFAULT_BATCH_SIZE,
        show_progress: bool = True,
        text_column: str | None = None,
    ) -> None:
        if min_frequency < 1:
            raise ValueError(f"min_frequency must be >= 1, got {min_frequency}")
        self.min_frequency = min_frequency
        self.batch_size = batch_size
        self.show_progress = show_progress
        self.text_column = text_column

    @staticmethod
    def minimum_vocab_size(special_tokens: SpecialTokens | Sequence[str] | None = None) -> int:
        """256 byte tokens plus the special tokens: the smallest byte-level BPE vocab."""
        return BYTE_ALPHABET_SIZE + len(SpecialTokens.coerce(special_tokens).all())

    def _checked_special_tokens(
        self, vocab_size: int, special_tokens: SpecialTokens | Sequence[str] | None
    ) -> SpecialTokens:
        special = SpecialTokens.coerce(special_tokens)
        minimum = self.minimum_vocab_size(special)
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < minimum:
            raise VocabSizeError(
                f"byte-level BPE needs vocab_size >= {minimum} (256 bytes + {minimum - 256} special "
                f"tokens), got {vocab_size!r}: use CharacterLevelTokenizer (strategy='character') instead"
            )
        return special

    def _settings(self, vocab_size: int, special: SpecialTokens) -> dict[str, Any]:
        import tokenizers

        return {
            "vocab_size": vocab_size,
            "special_tokens": special.all(),
            "min_frequency": self.min_frequency,
            "algorithm": _ALGORITHM_VERSION,
            "tokenizers": ".".join(tokenizers.__version__.split(".")[:2]),
        }

    def train_on_dataset(
        self,
        texts: Any,
        vocab_size: int,
        special_tokens: SpecialTokens | Sequence[str] | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> PreTrainedTokenizerFast:
        """Train (or load from `cache_dir`) a tokenizer with exactly `vocab_size` tokens.

        `texts`: an iterable of strings (list or generator), a `datasets.Dataset` or
        `IterableDataset` (its `text` column, or `text_column`), or `TextFiles`.
        Special tokens take ids 0..3 (pad, unk, bos, eos), then the 256 bytes, then merges, then
        `<|reserved_N|>` fillers if the data ran out of merges.
        """
        special = self._checked_special_tokens(vocab_size, special_tokens)
        settings = self._settings(vocab_size, special)
        with TextSource(texts, batch_size=self.batch_size, text_column=self.text_column) as source:
            cache = TokenizerCache(cache_dir) if cache_dir is not None else None
            key = None
            if cache is not None:
                started = time.perf_counter()
                key = cache_key("bpe", source.fingerprint(), settings)
                cached = cache.load(key, vocab_size)
                if cached is not None:
                    logger.info(
                        "loaded BPE tokenizer from cache %s in %.2fs",
                        cache.path(key),
                        time.perf_counter() - started,
                    )
                    return cached
            tokenizer = self._train(source, vocab_size, special)
        if cache is not None and key is not None:
            cache.store(key, tokenizer, {"settings": settings, "chars": source.chars_seen})
        return tokenizer

    def byte_level_only(
        self, vocab_size: int, special_tokens: SpecialTokens | Sequence[str] | None = None
    ) -> PreTrainedTokenizerFast:
        """The same byte-level tokenizer with no merges (for when there is no data to learn from).

        It still encodes any text without unknown tokens, one token per byte.
        """
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers

        special = self._checked_special_tokens(vocab_size, special_tokens)
        tokens = [*special.all(), *_byte_alphabet()]
        tokenizer = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=[]))
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        tokenizer.add_special_tokens(special.all())
        tokenizer, _ = pad_backend_to_size(tokenizer, vocab_size)
        return wrap_backend(tokenizer, special)

    def _train(
        self, source: TextSource, vocab_size: int, special: SpecialTokens
    ) -> PreTrainedTokenizerFast:
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        tokenizer = Tokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=self.min_frequency,
            special_tokens=special.all(),
            initial_alphabet=list(_byte_alphabet()),
            show_progress=self.show_progress,
        )
        started = time.perf_counter()
        tokenizer.train_from_iterator(source.batches(), trainer=trainer, length=source.num_batches)
        if source.chars_seen == 0:
            raise DatasetError("the training data holds no text: pass non-empty strings")
        trained = tokenizer.get_vocab_size(with_added_tokens=True)
        logger.info(
            "trained byte-level BPE on %d characters in %.2fs: %d tokens for a target of %d",
            source.chars_seen,
            time.perf_counter() - started,
            trained,
            vocab_size,
        )
        if trained > vocab_size:
            tokenizer = trim_bpe_to_size(tokenizer, vocab_size)
            logger.info(
                "trimmed the last %d merges to hit %d exactly", trained - vocab_size, vocab_size
            )
        missing = vocab_size - tokenizer.get_vocab_size(with_added_tokens=True)
        if missing:
            logger.info(
                "the data ran out of merges at %d tokens: adding %d reserved tokens",
                vocab_size - missing,
                missing,
            )
        text = padded_bpe_json(tokenizer, vocab_size)
        if text is not None:
            wrapped = wrap_json(text, special)
            if len(wrapped) == vocab_size:
                return wrapped
        tokenizer, _ = pad_backend_to_size(tokenizer, vocab_size)  # the slower, general path
        return wrap_backend(tokenizer, special)
