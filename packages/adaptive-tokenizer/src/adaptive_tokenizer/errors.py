"""The package's exception types. Every message names the problem and the fix in one line."""

from __future__ import annotations

__all__ = [
    "AdaptiveTokenizerError",
    "DatasetError",
    "PretrainedUnavailableError",
    "StrategyError",
    "TokenizerLoadError",
    "TokenizerValidationError",
    "VocabSizeError",
    "VocabSizeMismatchError",
]


class AdaptiveTokenizerError(Exception):
    """Base of every error this package raises on purpose (the CLI catches exactly these)."""


class VocabSizeError(AdaptiveTokenizerError, ValueError):
    """The requested vocab size is invalid, or too small for the chosen strategy."""


class VocabSizeMismatchError(AdaptiveTokenizerError):
    """A tokenizer has more tokens than the model's vocab (its ids would overflow the embedding)."""


class StrategyError(AdaptiveTokenizerError, ValueError):
    """An unknown strategy name, or a strategy that cannot work with the inputs given."""


class DatasetError(AdaptiveTokenizerError, ValueError):
    """The training data is missing, empty, binary, not UTF-8, or of an unsupported type."""


class TokenizerLoadError(AdaptiveTokenizerError):
    """An uploaded or pretrained tokenizer could not be read."""


class PretrainedUnavailableError(TokenizerLoadError):
    """A known pretrained tokenizer could not be fetched (Hub unreachable, gated, not cached)."""


class TokenizerValidationError(AdaptiveTokenizerError):
    """A tokenizer breaks the vocab contract; the message lists what is wrong and what to do."""
