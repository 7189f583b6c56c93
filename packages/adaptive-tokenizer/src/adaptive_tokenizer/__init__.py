"""adaptive-tokenizer: a tokenizer whose ids fit any model vocab size exactly.

`AdaptiveTokenizer.load_or_create(vocab_size, dataset)` picks one of four tiers (a published
tokenizer of that size, byte-level BPE trained on your data, character-level, or your own
upload) and returns a `transformers.PreTrainedTokenizerFast` with `len == vocab_size`.

Importing this package is cheap: `transformers` and `tokenizers` load on first use, torch never.
"""

from __future__ import annotations

from importlib.metadata import version as _distribution_version

from .adaptive import AdaptiveTokenizer
from .bpe import FastBPETrainer, trim_bpe_to_size
from .character import CharacterLevelTokenizer
from .data import TextFiles
from .errors import (
    AdaptiveTokenizerError,
    DatasetError,
    PretrainedUnavailableError,
    StrategyError,
    TokenizerLoadError,
    TokenizerValidationError,
    VocabSizeError,
    VocabSizeMismatchError,
)
from .known_tokenizers import KNOWN_TOKENIZERS, KnownTokenizer
from .special_tokens import DEFAULT_SPECIAL_TOKENS, SpecialTokens, reserved_token
from .strategy import Strategy, StrategyChoice
from .upload import load_tokenizer_files
from .validator import CheckResult, TokenizerValidator, ValidationCheck, ValidationReport
from .vocab_contract import fit_to_vocab_size

__version__ = _distribution_version(
    "adaptive-tokenizer"
)  # pyproject.toml is the one version source

__all__ = [
    "DEFAULT_SPECIAL_TOKENS",
    "KNOWN_TOKENIZERS",
    "AdaptiveTokenizer",
    "AdaptiveTokenizerError",
    "CharacterLevelTokenizer",
    "CheckResult",
    "DatasetError",
    "FastBPETrainer",
    "KnownTokenizer",
    "PretrainedUnavailableError",
    "SpecialTokens",
    "Strategy",
    "StrategyChoice",
    "StrategyError",
    "TextFiles",
    "TokenizerLoadError",
    "TokenizerValidationError",
    "TokenizerValidator",
    "ValidationCheck",
    "ValidationReport",
    "VocabSizeError",
    "VocabSizeMismatchError",
    "__version__",
    "fit_to_vocab_size",
    "load_tokenizer_files",
    "reserved_token",
    "trim_bpe_to_size",
]
