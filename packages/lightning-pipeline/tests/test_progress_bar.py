"""The terminal progress bar of step-bounded runs reads "Epoch N", not Lightning's "Epoch N/-2"."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from lightning_pipeline.callbacks.progress import step_bounded_progress_bar
from lightning_pipeline.module import LanguageModelingModule

pytest.importorskip("rich", reason="the rich bar is only used when rich is installed")


def _fit(tmp_path: Path, tiny_lm, **bounds) -> pl.Callback:
    ids = torch.randint(0, 30, (8, 8), generator=torch.Generator().manual_seed(0))
    data = [
        {"input_ids": r, "attention_mask": torch.ones_like(r), "labels": r.clone()} for r in ids
    ]
    bar = step_bounded_progress_bar()
    assert bar is not None
    trainer = pl.Trainer(
        callbacks=[bar],
        logger=False,
        enable_checkpointing=False,
        accelerator="cpu",
        enable_model_summary=False,
        default_root_dir=tmp_path,
        **bounds,
    )
    trainer.fit(LanguageModelingModule(tiny_lm(30), warmup_steps=0), DataLoader(data, batch_size=4))
    return bar


def _train_description(bar) -> str:
    """The label the bar shows on its training task (read through rich's public task list)."""
    return bar.progress.tasks[bar.train_progress_bar_id].description


def test_step_bounded_run_shows_no_negative_epoch_bound(tmp_path: Path, tiny_lm) -> None:
    bar = _fit(tmp_path, tiny_lm, max_steps=3, max_epochs=-1)  # what train() passes

    description = _train_description(bar)

    assert description.startswith("Epoch 1")  # 3 steps of 2 batches an epoch end in epoch 1
    assert "/-" not in description


def test_epoch_bounded_run_keeps_lightnings_bound(tmp_path: Path, tiny_lm) -> None:
    bar = _fit(tmp_path, tiny_lm, max_epochs=3)

    assert _train_description(bar).startswith("Epoch 2/2")  # the last of epochs 0..2
