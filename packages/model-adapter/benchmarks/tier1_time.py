"""How long Tier 1 validation takes: a ~10M-parameter builder export and the bundled example.

The issue's budget: the full Tier 1 run on a ~10M-parameter model in under 30 s on a 2-core
CPU. Next to each run this prints the time of one training step (forward + backward at the
same batch and length) measured in the same process, so the ratio says what validation costs
in training steps whatever the machine. It also prints the process CPU time: on a shared
machine wall time grows with other people's load, while CPU time does not, and on an idle
machine the wall time is at most the CPU time (the work never waits on anything but the CPU).

    python packages/model-adapter/benchmarks/tier1_time.py [--repeats 3] [--seq-len 256]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from model_adapter import UniversalModelAdapter, example_export_path, load_model, validate_model
from model_adapter.testing import write_builder_export

BUDGET_S = 30.0


def ten_million_export(folder: Path, defects: tuple[str, ...]) -> Path:
    """A ~10M-parameter builder export (vocab 10k, d_model 256, 6 blocks, max_seq_len 256)."""
    return write_builder_export(
        folder,
        vocab_size=10_000,
        d_model=256,
        n_heads=4,
        n_blocks=6,
        max_seq_len=256,
        defects=defects,
    )


def training_step_s(adapter: torch.nn.Module, batch: int, length: int, repeats: int) -> float:
    """Median seconds of one forward + backward (the baseline unit)."""
    ids = torch.randint(0, adapter.vocab_size, (batch, length))
    adapter.train()
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        logits = adapter(ids)
        F.cross_entropy(
            logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1)
        ).backward()
        times.append(time.perf_counter() - start)
        adapter.zero_grad(set_to_none=True)
    return statistics.median(times[1:])


def bench(label: str, folder: Path, seq_len: int | None, repeats: int) -> None:
    model, config = load_model(folder)
    n_params = sum(p.numel() for p in model.parameters())
    adapter = UniversalModelAdapter(model, config, causal=True)
    full, quick, full_cpu, quick_cpu = [], [], [], []
    report = None
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        report = validate_model(adapter, seq_len=seq_len)
        full.append(time.perf_counter() - start)
        full_cpu.append(time.process_time() - start_cpu)
        start, start_cpu = time.perf_counter(), time.process_time()
        validate_model(adapter, seq_len=seq_len, quick=True)
        quick.append(time.perf_counter() - start)
        quick_cpu.append(time.process_time() - start_cpu)
    assert report is not None
    length = report.settings["seq_len"]
    step = training_step_s(adapter, report.settings["batch_size"], length, repeats=3)
    full_s, quick_s = statistics.median(full), statistics.median(quick)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"\n== {label}: {n_params / 1e6:.2f}M parameters, vocab {config.vocab_size}, "
        f"seq_len {length}, batch {report.settings['batch_size']}, {torch.get_num_threads()} threads, "
        f"load average {load:.1f} on {os.cpu_count()} CPUs"
    )
    print(f"baseline: one training step (fwd+bwd)  {step:8.3f} s")
    full_cpu_s, quick_cpu_s = statistics.median(full_cpu), statistics.median(quick_cpu)
    print(
        f"Tier 1 full  (median of {repeats})          {full_s:8.3f} s  = {full_s / step:6.1f} training steps  "
        f"(CPU time {full_cpu_s:.1f} s) [{'within' if min(full_s, full_cpu_s) < BUDGET_S else 'OVER'} "
        f"the {BUDGET_S:.0f} s budget]"
    )
    print(
        f"Tier 1 quick (median of {repeats})          {quick_s:8.3f} s  = {quick_s / step:6.1f} training steps  "
        f"(CPU time {quick_cpu_s:.1f} s)"
    )
    print(
        "per check (last full run): "
        + ", ".join(f"{c.name} {c.duration_s:.2f}s" for c in report.checks)
    )
    print(f"verdict: {'PASSED' if report.passed else 'FAILED'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seq-len", type=int, default=None, help="default: max_seq_len (256)")
    args = parser.parse_args()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        ten_m = ten_million_export(
            Path(tmp) / "ten_m", ("unmasked_attention", "leaked_intermediates")
        )
        bench("~10M builder export", ten_m, args.seq_len, args.repeats)
    bench("bundled example export", example_export_path(), None, args.repeats)


if __name__ == "__main__":
    main()
