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
    """Lightning's rich bar, reading "Epoch 3" rather than "Epoch 3/-2" when no epoch bound is set."""

    def _get_train_description(self, current_epoch: int) -> str:
        description = super()._get_train_description(current_epoch)
        if self.trainer.max_epochs == -1:  # no epoch bound: Lightning appended "/-2"
            description = description.replace(f"Epoch {current_epoch}/-2", f"Epoch {current_epoch}   ", 1)
        return description


def step_bounded_progress_bar() -> pl.Callback | None:
    """The bar `train()` uses; None without `rich` (Lightning then adds its tqdm bar itself)."""
    if importlib.util.find_spec("rich") is None:
        return None
    return StepBoundedRichProgressBar()
