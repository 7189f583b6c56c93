"""Callbacks of the training job, one per file (Lightning's own are used for early stopping and LR)."""

from lightning_pipeline.callbacks.best_checkpoint import BestCheckpoint
from lightning_pipeline.callbacks.dashboard import LiveDashboard, plot_curves
from lightning_pipeline.callbacks.durable_metrics import DurableMetrics
from lightning_pipeline.callbacks.step_checkpoint import StepCheckpoint
from lightning_pipeline.callbacks.throughput import (
    TokenThroughputMonitor,
    flops_per_token,
    peak_flops,
)

__all__ = [
    "BestCheckpoint",
    "DurableMetrics",
    "LiveDashboard",
    "StepCheckpoint",
    "TokenThroughputMonitor",
    "flops_per_token",
    "peak_flops",
    "plot_curves",
]
