"""How long the default Tier 2 analysis takes on a ~10M-parameter model on CPU.

The issue's budget: `analyze_model` with its defaults (every section, 16 windows of
min(max_seq_len, 128) tokens) on a ~10M-parameter model within 60 s on CPU. Next to the time
this prints one training step (forward + backward at the probe's batch and length) measured
in the same process, so the ratio says what analysis costs in training steps on any machine,
and the process CPU time, which other people's load on a shared machine does not inflate.
Two models: a builder export (nn.MultiheadAttention, run by the graph executor) and a
nanoGPT-style model whose attention is F.scaled_dot_product_attention (captured by the
TorchFunctionMode).

    python packages/model-adapter/benchmarks/analysis_time.py [--repeats 1] [--sections attention,context]
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

# Run as a script: its folder is on sys.path.
from tier1_time import ten_million_export, training_step_s
from torch import nn

from model_adapter import UniversalModelAdapter, load_model
from model_adapter.analysis import SECTIONS, analyze_model

BUDGET_S = 60.0


class _Block(nn.Module):
    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.ln_1, self.ln_2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc, self.out = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = (
            z.view(b, t, self.heads, -1).transpose(1, 2)
            for z in self.qkv(self.ln_1(x)).split(c, dim=2)
        )
        x = x + self.proj(
            F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(b, t, c)
        )
        return x + self.out(F.gelu(self.fc(self.ln_2(x))))


class SDPAGPT(nn.Module):
    """nanoGPT's shape: wte/wpe, a ModuleList of pre-norm blocks, a tied head."""

    def __init__(
        self,
        vocab: int = 10_000,
        d: int = 256,
        heads: int = 4,
        layers: int = 9,
        max_seq_len: int = 256,
    ) -> None:
        super().__init__()
        self.max_seq_len = max_seq_len
        self.wte, self.wpe = nn.Embedding(vocab, d), nn.Embedding(max_seq_len, d)
        self.h = nn.ModuleList([_Block(d, heads) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(d)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1], device=idx.device))
        for block in self.h:
            x = block(x)
        return self.ln_f(x) @ self.wte.weight.T


def bench(label: str, adapter: UniversalModelAdapter, sections: list[str], repeats: int) -> None:
    n_params = sum(p.numel() for p in adapter.parameters())
    walls, cpus, report = [], [], None
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        report = analyze_model(adapter, sections=sections)
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - start_cpu)
    assert report is not None
    windows, length = report.settings["windows"], report.settings["seq_len"]
    step = training_step_s(adapter, windows, length, repeats=3)
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"\n== {label}: {n_params / 1e6:.2f}M parameters, {windows} windows x {length} tokens, "
        f"{torch.get_num_threads()} threads, load average {load:.1f} on {os.cpu_count()} CPUs"
    )
    print(f"baseline: one training step (fwd+bwd) {step:8.3f} s")
    verdict = "within" if min(wall, cpu) <= BUDGET_S else "OVER"
    print(
        f"analysis (median of {repeats})          {wall:8.3f} s = {wall / step:6.1f} training steps "
        f"(CPU time {cpu:.1f} s) [{verdict} the {BUDGET_S:.0f} s budget]"
    )
    print(
        "per section: "
        + ", ".join(f"{s.name} {s.duration_s:.2f}s ({s.status})" for s in report.sections)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument(
        "--sections", default=",".join(SECTIONS), help="comma-separated sections (default: all)"
    )
    args = parser.parse_args()
    sections = [s for s in args.sections.split(",") if s]
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = ten_million_export(Path(tmp) / "ten_m", ("unmasked_attention",))
        model, config = load_model(folder)
        bench(
            "~10M builder export (nn.MultiheadAttention)",
            UniversalModelAdapter(model, config),
            sections,
            args.repeats,
        )
    bench(
        "~10M nanoGPT-style (scaled_dot_product_attention)",
        UniversalModelAdapter(SDPAGPT()),
        sections,
        args.repeats,
    )


if __name__ == "__main__":
    main()
