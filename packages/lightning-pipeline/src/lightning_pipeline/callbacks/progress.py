"""The terminal progress bar: Lightning's own, labelled right for runs bounded by steps.

`train()` bounds runs by `max_steps` and sets `max_epochs=-1`; Lightning's rich bar then reads
"Epoch 1/-2" (it prints `max_epochs - 1`). This subclass drops the bound when there is none and
keeps everything else (and the bar's width, so it does not flicker). Without `rich` installed,
Lightning's tqdm bar is used as is: it never printed the bound.
"""

from __future__ import annotations

import importlib.util

import pytorch_lightning as pl
from pytorch_lightning.callbacks import RichProgressBar


class StepBoundedRichProgressBar(RichProgressBar):
    """Lightning's rich bar, reading "Epoch 3" rather than "Epoch 3/-2" when no epoch bound is set.

    Only public members are used: after Lightning labels the epoch's task, the label is replaced
    through the bar's `progress` (a rich `Progress`) and `train_progress_bar_id`.
    """

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_train_epoch_start(trainer, pl_module)
        if trainer.max_epochs != -1 or self.progress is None or self.train_progress_bar_id is None:
            return
        label = f"Epoch {trainer.current_epoch}"
        self.progress.update(
            self.train_progress_bar_id, description=f"{label:{len(self.validation_description)}}"
        )


def step_bounded_progress_bar() -> pl.Callback | None:
    """The bar `train()` uses; None without `rich` (Lightning then adds its tqdm bar itself)."""
    if importlib.util.find_spec("rich") is None:
        return None
    return StepBoundedRichProgressBar()
