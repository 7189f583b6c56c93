"""Adapter overhead: forward+backward through UniversalModelAdapter vs calling the model directly.

Two working models, each measured in one run, baseline and adapter interleaved step by step so
that machine noise hits both alike; the median of many steps is compared:

- "forward" strategy: a nanoGPT-style hand-written model (dataclass config, SDPA causal
  attention, forward(idx, targets) returning (logits, loss));
- "graph" strategy: a builder export whose own forward works (causal mask included), run by
  the adapter through the ComputationalGraphExecutor.

Target: median paired ratio <= 1.02 (each adapter step divided by the direct step beside it).
Usage:
    python packages/model-adapter/benchmarks/adapter_overhead.py [--steps 60] [--batch 8] [--seq 128]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from model_adapter import UniversalModelAdapter, load_model
from model_adapter.testing import write_builder_export


@dataclass
class GPTConfig:
    vocab_size: int = 3001
    block_size: int = 128
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 128


class Block(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.qkv = nn.Linear(config.n_embd, 3 * config.n_embd)
        self.proj = nn.Linear(config.n_embd, config.n_embd)
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.mlp = nn.Sequential(
            nn.Linear(config.n_embd, 4 * config.n_embd),
            nn.GELU(),
            nn.Linear(4 * config.n_embd, config.n_embd),
        )
        self.n_head = config.n_head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = (
            z.view(b, t, self.n_head, c // self.n_head).transpose(1, 2)
            for z in self.qkv(self.ln_1(x)).split(c, dim=2)
        )
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(b, t, c)
        x = x + self.proj(y)
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.block_size, config.n_embd)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)

    def features(self, idx: torch.Tensor) -> torch.Tensor:
        """The final normalised hidden states `[B, T, n_embd]`."""
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1], device=idx.device))
        for block in self.blocks:
            x = block(x)
        return self.ln_f(x)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        return self.lm_head(self.features(idx)), None


def _step(call, ids: torch.Tensor, targets: torch.Tensor) -> float:
    start = time.perf_counter()
    logits = call(ids)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
    loss.backward()
    return time.perf_counter() - start


def interleaved_steps(
    model: nn.Module, first, second, vocab_size: int, args
) -> tuple[list[float], list[float]]:
    """Seconds per training step of `first` and `second` (callables over `model`), one of each
    per round, the order alternating, after `args.warmup` rounds."""
    torch.manual_seed(0)
    ids = torch.randint(0, vocab_size, (args.batch, args.seq))
    targets = torch.randint(0, vocab_size, (args.batch, args.seq))
    model.train()
    for _ in range(args.warmup):
        _step(first, ids, targets)
        _step(second, ids, targets)
    first_times: list[float] = []
    second_times: list[float] = []
    for i in range(args.steps):
        order = [(first_times, first), (second_times, second)]
        if i % 2:
            order.reverse()  # alternate who goes first
        for times, call in order:
            model.zero_grad(set_to_none=True)
            times.append(_step(call, ids, targets))
    return first_times, second_times


def medians_and_paired_ratio(
    ours: list[float], baseline: list[float]
) -> tuple[float, float, float]:
    """Median of each, and the median of each step divided by the baseline step beside it: load
    from other processes (this is a shared machine) hits both alike, so the paired ratio is the
    robust number."""
    paired = statistics.median(a / b for a, b in zip(ours, baseline))
    return statistics.median(ours), statistics.median(baseline), paired


def measure(name: str, model: nn.Module, adapter: UniversalModelAdapter, direct, args) -> float:
    baseline, ours = interleaved_steps(model, direct, adapter, adapter.vocab_size, args)
    adapted, base, paired = medians_and_paired_ratio(ours, baseline)
    print(
        f"{name:<28} direct {base * 1e3:8.2f} ms   adapter {adapted * 1e3:8.2f} ms   "
        f"ratio of medians {adapted / base:.3f}   median paired ratio {paired:.3f}"
    )
    return paired


def per_call_overhead(calls: int = 3000) -> float:
    """Absolute adapter cost per call in microseconds: forward only, on a model small enough
    that the adapter's own Python work is visible at all."""
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=101, block_size=16, n_layer=1, n_head=2, n_embd=16)).eval()
    adapter = UniversalModelAdapter(model)
    ids = torch.randint(0, 101, (1, 4))
    direct, ours = [], []
    with torch.no_grad():
        for _ in range(calls):
            start = time.perf_counter()
            model(ids)
            direct.append(time.perf_counter() - start)
            start = time.perf_counter()
            adapter(ids)
            ours.append(time.perf_counter() - start)
    overhead = (statistics.median(ours) - statistics.median(direct)) * 1e6
    print(
        f"{'per-call overhead (tiny)':<28} direct {statistics.median(direct) * 1e6:8.1f} us   "
        f"adapter {statistics.median(ours) * 1e6:8.1f} us   overhead {overhead:.1f} us per call"
    )
    return overhead


def step_parser(description: str, *, batch: int, seq: int) -> argparse.ArgumentParser:
    """--steps, --warmup, --batch and --seq: what `interleaved_steps` reads."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--batch", type=int, default=batch)
    parser.add_argument("--seq", type=int, default=seq)
    return parser


def main() -> None:
    args = step_parser(__doc__.splitlines()[0], batch=8, seq=128).parse_args()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch}, seq {args.seq}, "
        f"median of {args.steps} interleaved forward+backward steps"
    )

    torch.manual_seed(0)
    gpt = GPT(GPTConfig(block_size=max(128, args.seq)))
    gpt_adapter = UniversalModelAdapter(gpt)
    ratios = [measure("nanoGPT-style (forward)", gpt, gpt_adapter, lambda ids: gpt(ids)[0], args)]

    with tempfile.TemporaryDirectory() as folder:
        export, config = load_model(
            write_builder_export(
                folder,
                vocab_size=3001,
                d_model=128,
                n_heads=4,
                n_blocks=2,
                max_seq_len=max(128, args.seq),
            )
        )
        export_adapter = UniversalModelAdapter(export, config)
        assert export_adapter.strategy == "graph"
        ratios.append(measure("builder export (graph)", export, export_adapter, export, args))
    per_call_overhead()
    print(f"worst median paired ratio {max(ratios):.3f} (target <= 1.02)")


if __name__ == "__main__":
    main()
