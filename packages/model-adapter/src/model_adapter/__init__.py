"""model-adapter: load any PyTorch language model and run it as (input_ids, attention_mask) -> logits.

Builder exports (Transformer Builder's model.py + config.json, defects included), hand-written
models and Hugging Face models all come out as one `UniversalModelAdapter` whose `forward`
returns logits `[batch, seq, vocab_size]`.
"""

from importlib.metadata import version as _distribution_version

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

__version__ = _distribution_version("model-adapter")  # pyproject.toml is the one version source

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
