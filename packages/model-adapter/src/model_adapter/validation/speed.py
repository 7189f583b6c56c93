"""Inference speed: tokens per second at a few batch sizes (median of several timed runs).

The numbers size a run before it starts (how long an epoch takes, whether batching pays) and
give the export's parity report a baseline. One warm-up run per batch size is discarded; the
median ignores the odd slow run caused by other work on the machine.
"""

from __future__ import annotations

import statistics
import time

from model_adapter.report import CheckResult
from model_adapter.validation.context import ValidationContext

NAME = "inference_speed"
_RUNS = 5
_SLOW_RUN_S = 0.25  # above this per run, 3 repeats keep the whole Tier 1 run short


def _timed_forward(ctx: ValidationContext, ids) -> float:
    import torch

    if ctx.device.type == "cuda":
        torch.cuda.synchronize(ctx.device)
    start = time.perf_counter()
    ctx.logits(ids)
    if ctx.device.type == "cuda":
        torch.cuda.synchronize(ctx.device)
    return time.perf_counter() - start


def check(ctx: ValidationContext) -> CheckResult:
    batch_sizes = sorted({1, ctx.batch_size, 2 * ctx.batch_size})
    per_batch: dict[str, dict[str, float]] = {}
    for batch in batch_sizes:
        ids = ctx.random_ids(batch, ctx.seq_len)
        warmup = _timed_forward(ctx, ids)
        runs = _RUNS if warmup < _SLOW_RUN_S else 3
        median = statistics.median(_timed_forward(ctx, ids) for _ in range(runs))
        per_batch[str(batch)] = {
            "median_s": median,
            "tokens_per_s": batch * ctx.seq_len / median if median > 0 else float("inf"),
            "runs": runs,
        }
    best_batch = max(per_batch, key=lambda b: per_batch[b]["tokens_per_s"])
    values: dict = {
        "best_tokens_per_s": per_batch[best_batch]["tokens_per_s"],
        "best_batch_size": int(best_batch),
        "seq_len": ctx.seq_len,
        "device": str(ctx.device),
    }
    for label, stats in per_batch.items():
        values[f"tokens_per_s_batch_{label}"] = stats["tokens_per_s"]
    values["per_batch"] = per_batch
    rates = ", ".join(f"b{b}: {s['tokens_per_s']:.0f}" for b, s in per_batch.items())
    counts = sorted({int(s["runs"]) for s in per_batch.values()})
    runs_text = str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
    return CheckResult(
        NAME,
        "passed",
        values,
        f"tokens/s at length {ctx.seq_len} on {ctx.device} ({rates}; median of {runs_text} runs)",
    )
