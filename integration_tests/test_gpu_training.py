"""On CUDA only: a GPT-2-small-shaped builder export trained by `lightning_pipeline.train` in bf16
mixed precision, with and without `torch.compile`, printing tokens/s, MFU and peak memory.

The numbers come from the run itself: `TokenThroughputMonitor` logs `tokens_per_s` (and `mfu` on a
GPU whose peak it knows) into the run folder's metrics.csv. Without CUDA the whole module is
skipped; CI never depends on a GPU. Run it on a GPU machine with
`nox -s integration -- integration_tests/test_gpu_training.py` and copy the printed line into
the README's performance section with the date and the GPU's name.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest
import torch

from lightning_pipeline import TrainingConfig, train
from lightning_pipeline.callbacks.throughput import peak_flops
from lightning_pipeline.metrics_logger import read_metrics_csv
from model_adapter.testing import write_builder_export

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

# GPT-2 small: 12 blocks of 12 heads at width 768, GPT-2's vocabulary and context length.
GPT2_SMALL = dict(vocab_size=50257, d_model=768, n_heads=12, n_blocks=12, max_seq_len=1024)
SEQ_LEN = 1024
BATCH_SIZE = 8
MAX_STEPS = 60
# Steps left out of the throughput figures: CUDA warm-up and, with compile, the compilation.
WARMUP_STEPS = 20


@pytest.mark.parametrize("compile_model", [False, True], ids=["eager", "compiled"])
def test_gpt2_small_bf16_training_reports_throughput(
    tmp_path: Path, compile_model: bool, capsys
) -> None:
    export = write_builder_export(
        tmp_path / "export", defects=("unmasked_attention",), dropout=0.0, **GPT2_SMALL
    )
    config = TrainingConfig(
        model=str(export),
        data="example",
        out=str(tmp_path / "run"),
        tokenizer_strategy="bpe",
        max_steps=MAX_STEPS,
        seq_len=SEQ_LEN,
        batch_size=BATCH_SIZE,
        lr=6e-4,
        warmup_steps=10,
        eval_every=MAX_STEPS,
        limit_val_batches=2,
        checkpoint_every=MAX_STEPS,
        keep_last=1,
        log_every=1,
        precision="bf16-mixed",
        accelerator="gpu",
        devices=1,
        compile=compile_model,
        deterministic=False,
        dashboard=False,
        progress_bar=False,
    )
    torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()

    result = train(config)

    wall_s = time.perf_counter() - started
    peak_gib = torch.cuda.max_memory_allocated() / 2**30
    rows = read_metrics_csv(result.run_dir / "metrics.csv")
    steady = [row for step, row in sorted(rows.items()) if step >= WARMUP_STEPS]
    tokens_per_s = [row["tokens_per_s"] for row in steady if "tokens_per_s" in row]
    mfu = [row["mfu"] for row in steady if "mfu" in row]
    device = torch.cuda.get_device_name()
    figures = {
        "gpu": device,
        "torch": torch.__version__,
        "compile": compile_model,
        "precision": "bf16-mixed",
        "batch": BATCH_SIZE,
        "seq_len": SEQ_LEN,
        "steps": result.global_step,
        "tokens_per_s": round(sum(tokens_per_s) / len(tokens_per_s)) if tokens_per_s else None,
        "mfu": round(sum(mfu) / len(mfu), 4) if mfu else None,
        "peak_memory_gib": round(peak_gib, 2),
        "wall_s": round(wall_s, 1),
        "val_loss": result.val_loss,
    }
    with capsys.disabled():
        print(f"\nGPU training figures: {json.dumps(figures)}")

    assert result.status == "completed" and result.global_step == MAX_STEPS
    assert result.val_loss is not None and math.isfinite(result.val_loss)
    assert tokens_per_s, f"no tokens_per_s logged after step {WARMUP_STEPS} in metrics.csv"
    if peak_flops(device, "bf16-mixed") is not None:
        assert mfu and 0.0 < figures["mfu"] < 1.0, (
            f"MFU {figures['mfu']} is not a fraction of the peak"
        )
