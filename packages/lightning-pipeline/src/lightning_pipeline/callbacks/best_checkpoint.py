"""`BestCheckpoint`: the checkpoint with the lowest validation loss (Lightning's `ModelCheckpoint`).

Its weights are the ones `train()` evaluates at the end and writes to `final/model.safetensors`.
Like `StepCheckpoint`, it removes at the end the `best-*` files it no longer tracks (left behind
by a run killed between saving a new best and deleting the old one).
"""

from __future__ import annotations

import os

import pytorch_lightning as pl

from lightning_pipeline.callbacks.step_checkpoint import RelocatableCheckpoint, prune_untracked


class BestCheckpoint(RelocatableCheckpoint):
    """Keep `best-step-0000300.ckpt`, the checkpoint of the lowest `val_loss` so far.

    Example:
        >>> pl.Trainer(callbacks=[BestCheckpoint("runs/demo/checkpoints")])  # doctest: +SKIP
    """

    PREFIX = "best-"

    def __init__(self, dirpath: str | os.PathLike[str], *, monitor: str = "val_loss") -> None:
        super().__init__(
            dirpath=os.fspath(dirpath),
            filename=self.PREFIX + "step-{step:07d}",
            auto_insert_metric_name=False,
            monitor=monitor,
            mode="min",
            save_top_k=1,
            save_on_train_epoch_end=False,
        )

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_train_end(trainer, pl_module)
        if not trainer.interrupted:
            prune_untracked(self, trainer, self.PREFIX)
