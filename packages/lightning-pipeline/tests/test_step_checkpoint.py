"""StepCheckpoint: every N steps plus the final step, newest K kept, and a clear refusal when the
installed Lightning lacks the ModelCheckpoint internals it builds on."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint
from torch.utils.data import DataLoader

from lightning_pipeline.callbacks.step_checkpoint import StepCheckpoint
from lightning_pipeline.errors import CheckpointError
from lightning_pipeline.module import LanguageModelingModule


def _data(n=40, seq=8, vocab=30):
    ids = torch.randint(0, vocab, (n, seq), generator=torch.Generator().manual_seed(0))
    return [
        {"input_ids": r, "attention_mask": torch.ones_like(r), "labels": r.clone()} for r in ids
    ]


def test_saves_every_n_steps_and_the_final_step_keeping_the_newest(tmp_path: Path, tiny_lm) -> None:
    callback = StepCheckpoint(tmp_path / "checkpoints", every_n_train_steps=3, keep_last=2)
    trainer = pl.Trainer(
        max_steps=7,
        callbacks=[callback],
        logger=False,
        enable_progress_bar=False,
        accelerator="cpu",
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(
        LanguageModelingModule(tiny_lm(30), warmup_steps=0), DataLoader(_data(), batch_size=4)
    )

    # steps 3 and 6 are due; 7 is where training stopped (3 does not divide it); keep the newest 2
    names = sorted(p.name for p in (tmp_path / "checkpoints").glob("*.ckpt"))
    assert names == ["step-0000006.ckpt", "step-0000007.ckpt"]


def test_refuses_a_lightning_without_the_internals_it_needs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delattr(ModelCheckpoint, "_save_topk_checkpoint")
    with pytest.raises(
        CheckpointError, match=r"lacks ModelCheckpoint\._save_topk_checkpoint.*pip install"
    ):
        StepCheckpoint(tmp_path, every_n_train_steps=3)
