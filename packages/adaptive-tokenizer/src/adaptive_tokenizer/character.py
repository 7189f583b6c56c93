"""Character-level tokenizer: one token per Unicode code point, for tiny data or tiny vocabs.

It is a real `PreTrainedTokenizerFast` over a `tokenizers` WordLevel model: a `Split`
pre-tokenizer isolates every code point (newlines included), a `Fuse` decoder joins them back
without inserting spaces. So padding, truncation, `return_tensors`, `batch_decode`,
`save_pretrained` and plain `AutoTokenizer.from_pretrained` all work, and in-vocabulary text
round-trips exactly (emoji, CJK, combining marks and right-to-left scripts included).
"""

from __future__ import annotations

import logging
import string
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .data import DEFAULT_BATCH_SIZE, TextSource
from .errors import DatasetError, VocabSizeError
from .special_tokens import SpecialTokens
from .vocab_contract import pad_backend_to_size, wrap_backend

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

__all__ = ["DEFAULT_ALPHABET", "CharacterLevelTokenizer"]

logger = logging.getLogger(__name__)

# Used when there is no data to count: printable ASCII, the characters most text starts with.
DEFAULT_ALPHABET = tuple(" \n\t" + string.ascii_letters + string.digits + string.punctuation)


class CharacterLevelTokenizer:
    """Builds character-level `PreTrainedTokenizerFast` tokenizers.

    The vocab is the special tokens (ids 0..3), then the data's characters, most frequent first
    (ties by code point), as many as the budget allows; rarer characters map to `<unk>`. A budget
    larger than the data's alphabet is filled with `<|reserved_N|>` tokens.

    Example:
        >>> from adaptive_tokenizer import CharacterLevelTokenizer
        >>> tok = CharacterLevelTokenizer().train(["héllo 世界 👋"], vocab_size=64)
        >>> len(tok), tok.decode(tok("héllo 世界 👋")["input_ids"])
        (64, 'héllo 世界 👋')
    """

    def __init__(
        self,
        special_tokens: SpecialTokens | Sequence[str] | None = None,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        text_column: str | None = None,
    ) -> None:
        self.special = SpecialTokens.coerce(special_tokens)
        self.batch_size = batch_size
        self.text_column = text_column

    def count_characters(self, texts: Any) -> Counter[str]:
        """Frequency of every code point in `texts` (streamed in batches)."""
        counts: Counter[str] = Counter()
        with TextSource(texts, batch_size=self.batch_size, text_column=self.text_column) as source:
            for batch in source.batches():
                for text in batch:
                    counts.update(text)
        if not counts:
            raise DatasetError("the training data holds no text: pass non-empty strings")
        return counts

    def train(self, texts: Any, vocab_size: int) -> PreTrainedTokenizerFast:
        """A tokenizer with exactly `vocab_size` tokens whose characters come from `texts`."""
        self._check_size(vocab_size)
        counts = self.count_characters(texts)
        ranked = sorted(counts, key=lambda ch: (-counts[ch], ord(ch)))
        budget = vocab_size - len(self.special.all())
        specials = set(self.special.all())
        chars = [ch for ch in ranked if ch not in specials][:budget]
        dropped = len(ranked) - len(chars)
        if dropped:
            covered = sum(counts[ch] for ch in chars) / sum(counts.values())
            logger.info(
                "character vocab keeps the %d most frequent of %d characters (%.2f%% of the "
                "text); the rest become <unk>",
                len(chars),
                len(ranked),
                100 * covered,
            )
        return self.from_characters(chars, vocab_size)

    def from_characters(
        self, characters: Iterable[str] = DEFAULT_ALPHABET, vocab_size: int | None = None
    ) -> PreTrainedTokenizerFast:
        """A tokenizer over exactly these characters (in this id order), padded to `vocab_size`."""
        from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

        chars = list(dict.fromkeys(characters))
        bad = [c for c in chars if not isinstance(c, str) or len(c) != 1]
        if bad:
            raise ValueError(f"characters must be single code points, got {bad[:5]!r}")
        specials = self.special.all()
        chars = [c for c in chars if c not in specials]
        if vocab_size is None:
            vocab_size = len(specials) + len(chars)
        self._check_size(vocab_size)
        chars = chars[: vocab_size - len(specials)]
        vocab = {token: i for i, token in enumerate([*specials, *chars])}
        backend = Tokenizer(models.WordLevel(vocab, unk_token=self.special.unk))
        backend.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
        backend.decoder = decoders.Fuse()
        backend.add_special_tokens(specials)
        backend, _ = pad_backend_to_size(backend, vocab_size)
        return wrap_backend(backend, self.special)

    def _check_size(self, vocab_size: int) -> None:
        minimum = len(self.special.all()) + 1
        if not isinstance(vocab_size, int) or isinstance(vocab_size, bool) or vocab_size < minimum:
            raise VocabSizeError(
                f"a character-level vocab needs vocab_size >= {minimum} ({minimum - 1} special tokens "
                f"+ at least one character), got {vocab_size!r}: pass a larger vocab_size"
            )
