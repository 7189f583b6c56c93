"""The package's exception types.

Every message is one line that names the problem and the fix. CLIs catch
`LightningPipelineError`, print the message and exit 2; anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

from adaptive_tokenizer.errors import VocabSizeMismatchError as TokenizerVocabSizeMismatchError


class LightningPipelineError(Exception):
    """Base class of every error this package raises on purpose."""


class DataSourceError(LightningPipelineError):
    """A data source could not be found, read or understood."""


class TextColumnError(DataSourceError):
    """The text column was not found or could not be chosen unambiguously."""


class EmptyDatasetError(DataSourceError):
    """The data source holds no usable text."""


class VocabSizeMismatchError(LightningPipelineError, TokenizerVocabSizeMismatchError):
    """The tokenizer produces ids the model's embedding cannot look up.

    The same error adaptive-tokenizer raises for the same contract, so one `except` catches both.
    """


class DataModuleError(LightningPipelineError):
    """The data module was configured with values that cannot work (sizes, fractions)."""


class ColabUnavailableError(LightningPipelineError):
    """A Colab-only feature (Drive, the upload widget) was asked for outside Colab."""


class RunFolderError(LightningPipelineError):
    """A run folder is missing, unreadable or of an unknown format."""


class RunFolderConflictError(RunFolderError):
    """The run folder belongs to a different model or configuration."""


class CheckpointError(LightningPipelineError):
    """A checkpoint could not be written or read."""


class ConfigError(LightningPipelineError):
    """A TrainingConfig value (or CLI flag) cannot work."""


class ModelRejectedError(LightningPipelineError):
    """The model failed the quick validation that runs before training (e.g. a causal leak)."""


def first_line(error: BaseException) -> str:
    """The first line of an exception's message (its type name when it has none): what a
    one-line error quotes from an underlying library's multi-line message."""
    message = str(error).strip()
    return message.splitlines()[0] if message else type(error).__name__
