"""The exception types of model-adapter.

Every message is one line that names the problem and says how to fix it, because the first
reader is usually a notebook user looking at the last line of a traceback. CLIs catch
`ModelAdapterError`, print the message and exit 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = [
    "GraphResolutionError",
    "ModelAdapterError",
    "ModelLoadError",
    "ModelValidationError",
]


class ModelAdapterError(Exception):
    """Base class of every error model-adapter raises on purpose."""


class ModelLoadError(ModelAdapterError):
    """The model could not be loaded: bad file, bad config.json, missing class or arguments."""


class GraphResolutionError(ModelAdapterError):
    """A builder export's node graph could not be recovered or run; the message names the node."""


class ModelValidationError(ModelAdapterError):
    """The model runs but breaks the model contract (wrong output shape, vocab, length, ...)."""
