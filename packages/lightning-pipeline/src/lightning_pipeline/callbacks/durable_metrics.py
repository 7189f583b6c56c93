"""`DurableMetrics`: metrics.csv is on disk before any checkpoint that covers its rows is published.

Lightning saves a checkpoint while the rows it covers may still sit in the logger's memory (the
logger writes every few seconds), and a resumed run never logs those steps again; a SIGKILL in
between loses them for good. This callback closes the gap from both ends:

* saving: the logger's rows are written and fsynced while the checkpoint is being assembled,
  i.e. before the checkpoint file exists under its final name, and the checkpoint records the
  last step of those rows;
* resuming: rows after that step (logged by the killed run after its last checkpoint, and
  logged again by the resumed run) are dropped, so each step appears exactly once, with the
  values of an uninterrupted run.
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl

from lightning_pipeline.metrics_logger import RunMetricsLogger


def log_pending_step_metrics(trainer: pl.Trainer) -> None:
    """Hand the current training step's logged values to the loggers now (rank zero).

    Inside `on_train_batch_end` (where step checkpoints are saved) Lightning has not yet passed
    this step's `self.log` values to its loggers; it does so right after the callbacks return.
    A checkpoint saved there covers the step, so its row must be on disk first. Logging it here
    writes the same values at the same step that Lightning logs a moment later (rows merge by
    step), so the file is identical to a run without checkpoints.
    """
    connector = getattr(trainer, "_logger_connector", None)
    update = getattr(connector, "update_train_step_metrics", None)
    if update is not None and trainer.training:
        update()


class DurableMetrics(pl.Callback):
    """Flush + fsync `metrics.csv` into every checkpoint save; trim it to the checkpoint on resume.

    Example:
        >>> metrics = RunMetricsLogger("runs/demo")                                       # doctest: +SKIP
        >>> pl.Trainer(logger=metrics, callbacks=[DurableMetrics(metrics), StepCheckpoint(...)])  # doctest: +SKIP
    """

    def __init__(self, metrics: RunMetricsLogger) -> None:
        super().__init__()
        self.metrics = metrics
        self._resumed_through: int | None = None

    def state_dict(self) -> dict[str, Any]:
        return {"last_row_step": self.metrics.last_step}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        value = state_dict.get("last_row_step")
        self._resumed_through = int(value) if value is not None else -1

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        if trainer.is_global_zero:
            self.metrics.flush(force=True)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        if self._resumed_through is not None:
            self.metrics.truncate_after(self._resumed_through)
        else:  # a new run (rows of a run killed before its first checkpoint go) or an older checkpoint
            self.metrics.truncate_after(trainer.global_step if trainer.global_step else -1)
