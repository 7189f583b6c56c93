"""lightning-pipeline: train any PyTorch language model with Lightning, resumably, in one run folder.

    >>> from lightning_pipeline import TrainingConfig, train, generate
    >>> result = train(TrainingConfig(model="my_export/", data="example", out="runs/demo", max_steps=300))  # doctest: +SKIP
    >>> generate("runs/demo", "The module", max_new_tokens=30)  # doctest: +SKIP

Importing the package is cheap: the names backed by torch / Lightning / datasets are imported on
first use (PEP 562 module `__getattr__`), so `lightning-pipeline --help` and the notebook's first
cell stay fast. `train` and `generate` are imported eagerly (their modules import torch only when
called) so that these names always mean the functions, never the submodules of the same name.
"""

from __future__ import annotations

import importlib
from importlib.metadata import version as _distribution_version
from typing import TYPE_CHECKING, Any

from lightning_pipeline.config import TrainingConfig
from lightning_pipeline.errors import (
    CheckpointError,
    ColabUnavailableError,
    ConfigError,
    DataModuleError,
    DataSourceError,
    EmptyDatasetError,
    LightningPipelineError,
    ModelRejectedError,
    RunFolderConflictError,
    RunFolderError,
    TextColumnError,
    VocabSizeMismatchError,
)
from lightning_pipeline.generate import (
    generate,
    generate_samples,
    load_trained_model,
    sample_tokens,
)
from lightning_pipeline.train import TrainingResult, train

__version__ = _distribution_version(
    "lightning-pipeline"
)  # pyproject.toml is the one version source

# public name -> module that defines it (imported lazily)
_LAZY = {
    "load_text_dataset": "lightning_pipeline.data_sources",
    "load_text_source": "lightning_pipeline.data_sources",
    "TextDocuments": "lightning_pipeline.text_documents",
    "AdaptiveTokenizerDataModule": "lightning_pipeline.datamodule",
    "ResumableDataLoader": "lightning_pipeline.resumable_loader",
    "RunFolder": "lightning_pipeline.run_folder",
    "AtomicCheckpointIO": "lightning_pipeline.checkpoint_io",
    "mount_drive": "lightning_pipeline.colab",
    "upload_files": "lightning_pipeline.colab",
    "LanguageModelingModule": "lightning_pipeline.module",
    "causal_lm_loss": "lightning_pipeline.module",
    "RunMetricsLogger": "lightning_pipeline.metrics_logger",
    "SetupWizard": "lightning_pipeline.wizard",
    "LiveDashboard": "lightning_pipeline.callbacks.dashboard",
    "TokenThroughputMonitor": "lightning_pipeline.callbacks.throughput",
    "StepCheckpoint": "lightning_pipeline.callbacks.step_checkpoint",
    "BestCheckpoint": "lightning_pipeline.callbacks.best_checkpoint",
    "SamplingSettings": "lightning_pipeline.sampling",
    "Sample": "lightning_pipeline.sampling",
    "DurableMetrics": "lightning_pipeline.callbacks.durable_metrics",
}

if TYPE_CHECKING:
    from lightning_pipeline.callbacks.best_checkpoint import BestCheckpoint
    from lightning_pipeline.callbacks.dashboard import LiveDashboard
    from lightning_pipeline.callbacks.durable_metrics import DurableMetrics
    from lightning_pipeline.callbacks.step_checkpoint import StepCheckpoint
    from lightning_pipeline.callbacks.throughput import TokenThroughputMonitor
    from lightning_pipeline.checkpoint_io import AtomicCheckpointIO
    from lightning_pipeline.colab import mount_drive, upload_files
    from lightning_pipeline.data_sources import load_text_dataset, load_text_source
    from lightning_pipeline.datamodule import AdaptiveTokenizerDataModule
    from lightning_pipeline.metrics_logger import RunMetricsLogger
    from lightning_pipeline.module import LanguageModelingModule, causal_lm_loss
    from lightning_pipeline.resumable_loader import ResumableDataLoader
    from lightning_pipeline.run_folder import RunFolder
    from lightning_pipeline.sampling import Sample, SamplingSettings
    from lightning_pipeline.text_documents import TextDocuments
    from lightning_pipeline.wizard import SetupWizard


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lightning_pipeline' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "AdaptiveTokenizerDataModule",
    "AtomicCheckpointIO",
    "BestCheckpoint",
    "CheckpointError",
    "ColabUnavailableError",
    "ConfigError",
    "DataModuleError",
    "DataSourceError",
    "DurableMetrics",
    "EmptyDatasetError",
    "LanguageModelingModule",
    "LightningPipelineError",
    "LiveDashboard",
    "ModelRejectedError",
    "ResumableDataLoader",
    "RunFolder",
    "RunFolderConflictError",
    "RunFolderError",
    "RunMetricsLogger",
    "Sample",
    "SamplingSettings",
    "SetupWizard",
    "StepCheckpoint",
    "TextColumnError",
    "TextDocuments",
    "TokenThroughputMonitor",
    "TrainingConfig",
    "TrainingResult",
    "VocabSizeMismatchError",
    "__version__",
    "causal_lm_loss",
    "generate",
    "generate_samples",
    "load_text_dataset",
    "load_text_source",
    "load_trained_model",
    "mount_drive",
    "sample_tokens",
    "train",
    "upload_files",
]
