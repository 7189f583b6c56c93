"""TokenThroughputMonitor: tokens/s logged from a real fit; MFU peaks looked up by device name."""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from lightning_pipeline.callbacks.throughput import (
    TokenThroughputMonitor,
    flops_per_token,
    peak_flops,
)
from lightning_pipeline.metrics_logger import RunMetricsLogger
from lightning_pipeline.module import LanguageModelingModule


def _data(n=48, seq=10, vocab=30):
    ids = torch.randint(0, vocab, (n, seq), generator=torch.Generator().manual_seed(0))
    return [
        {"input_ids": r, "attention_mask": torch.ones_like(r), "labels": r.clone()} for r in ids
    ]


def test_tokens_per_second_is_logged_every_logged_step(tmp_path, tiny_lm):
    metrics = RunMetricsLogger(tmp_path)
    monitor = TokenThroughputMonitor(window=5)
    trainer = pl.Trainer(
        max_steps=12,
        logger=metrics,
        callbacks=[monitor],
        log_every_n_steps=2,
        enable_checkpointing=False,
        enable_progress_bar=False,
        accelerator="cpu",
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(
        LanguageModelingModule(tiny_lm(30), warmup_steps=0), DataLoader(_data(), batch_size=4)
    )
    rows = [r for r in metrics.rows if "tokens_per_s" in r]
    assert len(rows) >= 5
    assert all(r["tokens_per_s"] > 0 for r in rows)
    assert monitor.total_tokens == 12 * 4 * 10


@pytest.mark.parametrize(
    ("name", "precision", "expected"),
    [
        ("NVIDIA A100-SXM4-40GB", "bf16-mixed", 312e12),
        ("NVIDIA H100 PCIe", "bf16-mixed", 756e12),
        ("NVIDIA H100 80GB HBM3", "bf16-mixed", 989e12),
        ("Tesla T4", "16-mixed", 65e12),
        ("Tesla T4", "32-true", 8.1e12),
        ("NVIDIA L4", "bf16-mixed", 121e12),
    ],
)
def test_peak_flops_by_device_name(name, precision, expected):
    assert peak_flops(name, precision) == pytest.approx(expected)


def test_unknown_device_or_precision_has_no_peak():
    assert peak_flops("Some Future GPU", "bf16-mixed") is None
    assert peak_flops("Tesla T4", "bf16-mixed") is None  # T4 has no bf16 tensor cores


def test_flops_per_token_counts_parameters_and_attention():
    assert flops_per_token(1000, layers=None, d_model=None, seq_len=64) == 6000
    assert flops_per_token(1000, layers=2, d_model=32, seq_len=64) == 6000 + 12 * 2 * 32 * 64
