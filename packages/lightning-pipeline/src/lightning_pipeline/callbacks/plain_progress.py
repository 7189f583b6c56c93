"""`PlainProgress`: one plain line every N steps (step, loss, tokens/s, ETA) for logs and pipes.

A progress bar redrawn in place turns into noise (or nothing) when the output is a file, a CI
log or `| tee`. `train()` uses this callback instead of the bar whenever the output is not a
terminal or a notebook, so ten minutes of training never print nothing.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import pytorch_lightning as pl

logger = logging.getLogger(__name__)


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class PlainProgress(pl.Callback):
    """Log `step 120/300  loss 3.214  5,432 tokens/s  ETA 1:12` every `every` optimizer steps.

    Example:
        >>> trainer = pl.Trainer(enable_progress_bar=False, callbacks=[PlainProgress(every=50)])  # doctest: +SKIP
    """

    def __init__(self, every: int, *, tokens_per_step: int | None = None) -> None:
        super().__init__()
        self.every = max(1, int(every))
        self.tokens_per_step = tokens_per_step
        self._start_time: float | None = None
        self._start_step = 0
        self._last_step = -1

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start_time = time.perf_counter()
        self._start_step = trainer.global_step

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        step = trainer.global_step
        if step == self._last_step or step % self.every != 0 or not trainer.is_global_zero:
            return
        self._last_step = step
        logger.info(self.line(trainer, step))

    def line(self, trainer: pl.Trainer, step: int) -> str:
        """The progress line for `step` (also used by tests)."""
        parts = [
            f"step {step}/{trainer.max_steps}"
            if trainer.max_steps and trainer.max_steps > 0
            else f"step {step}"
        ]
        loss = trainer.callback_metrics.get("train_loss")
        if loss is not None:
            parts.append(f"loss {float(loss):.4f}")
        elapsed = time.perf_counter() - (self._start_time or time.perf_counter())
        done = step - self._start_step
        if done > 0 and elapsed > 0:
            seconds_per_step = elapsed / done
            if self.tokens_per_step:
                parts.append(f"{self.tokens_per_step / seconds_per_step:,.0f} tokens/s")
            if trainer.max_steps and trainer.max_steps > 0:
                parts.append(f"ETA {_duration((trainer.max_steps - step) * seconds_per_step)}")
        return "  ".join(parts)
