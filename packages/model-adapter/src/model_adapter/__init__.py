"""model-adapter: load any PyTorch language model and run it as (input_ids, attention_mask) -> logits.

Builder exports (Transformer Builder's model.py + config.json, defects included), hand-written
models and Hugging Face models all come out as one `UniversalModelAdapter` whose `forward`
returns logits `[batch, seq, vocab_size]`.

Importing the package is cheap and never imports torch: every public name below is looked up
in `_LAZY` and imported from its module on first access (PEP 562 module `__getattr__`), so
`model-adapter --help`, the error types and `__version__` cost milliseconds. To add a public
name, add one line to `_LAZY`, one to the `TYPE_CHECKING` block and one to `__all__`.
"""

from __future__ import annotations

import importlib
from importlib.metadata import version as _distribution_version
from typing import TYPE_CHECKING, Any

__version__ = _distribution_version("model-adapter")  # pyproject.toml is the one version source

# public name -> module that defines it (imported on first access)
_LAZY = {
    "AnalysisReport": "model_adapter.analysis",
    "CheckResult": "model_adapter.report",
    "ComputationalGraphExecutor": "model_adapter.executor",
    "GraphResolutionError": "model_adapter.errors",
    "LoadedModel": "model_adapter.loading",
    "ModelAdapterError": "model_adapter.errors",
    "ModelConfig": "model_adapter.config",
    "ModelLoadError": "model_adapter.errors",
    "ModelSignatureInspector": "model_adapter.signature",
    "ModelValidationError": "model_adapter.errors",
    "UniversalModelAdapter": "model_adapter.adapter",
    "ValidationReport": "model_adapter.report",
    "example_export_path": "model_adapter.example_export",
    "extract_logits": "model_adapter.adapter",
    "load_model": "model_adapter.loading",
    "analyze_model": "model_adapter.analysis",
    "validate_model": "model_adapter.validation",
}

if TYPE_CHECKING:
    from model_adapter.adapter import UniversalModelAdapter, extract_logits
    from model_adapter.analysis import AnalysisReport, analyze_model
    from model_adapter.config import ModelConfig
    from model_adapter.errors import (
        GraphResolutionError,
        ModelAdapterError,
        ModelLoadError,
        ModelValidationError,
    )
    from model_adapter.example_export import example_export_path
    from model_adapter.executor import ComputationalGraphExecutor
    from model_adapter.loading import LoadedModel, load_model
    from model_adapter.report import CheckResult, ValidationReport
    from model_adapter.signature import ModelSignatureInspector
    from model_adapter.validation import validate_model


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'model_adapter' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(__all__) | set(globals()))


__all__ = [
    "AnalysisReport",
    "CheckResult",
    "ComputationalGraphExecutor",
    "GraphResolutionError",
    "LoadedModel",
    "ModelAdapterError",
    "ModelConfig",
    "ModelLoadError",
    "ModelSignatureInspector",
    "ModelValidationError",
    "UniversalModelAdapter",
    "ValidationReport",
    "__version__",
    "analyze_model",
    "example_export_path",
    "extract_logits",
    "load_model",
    "validate_model",
]
