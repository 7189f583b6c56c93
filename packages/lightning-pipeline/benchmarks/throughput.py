"""Pipeline vs a hand-written PyTorch loop: same model, same packed batches, one process.

    python benchmarks/throughput.py [--steps 40] [--warmup 5] [--rounds 5] [--threads 1] [--data PATH]

Both sides train the bundled example export (`model_adapter.example_export_path()`) from the same
initial weights on the same `AdaptiveTokenizerDataModule` batches, with the same AdamW groups,
schedule and gradient clipping. The pipeline side is a real `pytorch_lightning.Trainer` running
`LanguageModelingModule` with the callbacks `train()` uses every step (metrics logger, LR monitor,
throughput monitor); validation and checkpoints are left out of both. The rounds alternate
(hand, pipeline, hand, pipeline, ...) so that a machine shared with other work slows both alike;
the headline is CPU time per token (CPU seconds of this process, which other work on a shared
machine barely moves, with torch pinned to `--threads` threads so that spinning idle threads are
not counted as work): the ratio of the medians, pipeline / hand loop (target <= 1.03), and the
median of the per-round ratios with its range, which a slow drift of the machine's speed moves
least. Tokens per wall-clock second are reported too. Last, the fixed cost each side adds per
step (CPU ms) is measured on a model so small that compute is ~0: that number hardly depends on
machine noise, and gives the ratio the noise hides.

It also reports the share of real (non-padding) tokens for packed blocks vs one padded row per
line, on tinyshakespeare when available (the issue's motivating example), else the built-in data.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

# ../shared/data beside the checkout (the monorepo root is three levels above this file), or
# wherever TINYSHAKESPEARE points.
SHAKESPEARE = Path(
    os.environ.get("TINYSHAKESPEARE")
    or Path(__file__).resolve().parents[3].parent / "shared" / "data" / "tinyshakespeare.txt"
)


def _data_source(path: str | None) -> str:
    if path:
        return path
    return str(SHAKESPEARE) if SHAKESPEARE.exists() else "example"


def _datamodule(tokenizer, dataset, *, seq_len: int, batch_size: int, packing: bool, vocab: int):
    from lightning_pipeline import AdaptiveTokenizerDataModule

    dm = AdaptiveTokenizerDataModule(
        tokenizer,
        dataset,
        seq_len=seq_len,
        batch_size=batch_size,
        packing=packing,
        model_vocab_size=vocab,
    )
    dm.setup("fit")
    return dm


def _fresh_adapter(state):
    from model_adapter import UniversalModelAdapter, example_export_path, load_model

    model, config = load_model(example_export_path())
    adapter = UniversalModelAdapter(model, config)
    adapter.load_state_dict(state)
    return adapter


def _batches(dm, count: int):
    out = []
    for batch in dm.train_dataloader():
        out.append(batch)
        if len(out) == count:
            return out
    raise SystemExit(f"not enough data for {count} batches; lower --steps")


def hand_loop(
    state, batches, *, warmup: int, lr: float, make_adapter=_fresh_adapter
) -> tuple[float, float]:
    """The loop a careful user writes by hand; tokens per wall-clock second and per CPU second
    over the batches after `warmup`."""
    import torch

    from lightning_pipeline.module import causal_lm_loss, lr_lambda_for, parameter_groups

    torch.manual_seed(0)
    adapter = make_adapter(state).train()
    optimizer = torch.optim.AdamW(parameter_groups(adapter, 0.1), lr=lr, betas=(0.9, 0.95))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_lambda_for("cosine", 2, len(batches), 0.1)
    )
    start = cpu_start = None
    tokens = 0
    for index, batch in enumerate(batches):
        if index == warmup:
            start, cpu_start = time.perf_counter(), time.process_time()
        logits = adapter(batch["input_ids"], batch["attention_mask"])
        loss = causal_lm_loss(logits, batch["labels"])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(adapter.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        loss.item()  # what a hand loop prints/logs; Lightning reads it for the logger too
        if index >= warmup:
            tokens += batch["input_ids"].numel()
    assert start is not None and cpu_start is not None
    return tokens / (time.perf_counter() - start), tokens / (time.process_time() - cpu_start)


def pipeline(
    state, batches, *, warmup: int, lr: float, run_dir: Path, make_adapter=_fresh_adapter
) -> tuple[float, float]:
    """The pipeline's module and per-step callbacks in a real Lightning Trainer; tokens per
    wall-clock second and per CPU second after `warmup`."""
    import pytorch_lightning as pl
    import torch

    from lightning_pipeline import LanguageModelingModule, RunMetricsLogger, TokenThroughputMonitor

    class Clock(pl.Callback):
        def __init__(self) -> None:
            self.start: float | None = None
            self.cpu_start = 0.0
            self.end = self.cpu_end = 0.0
            self.tokens = 0

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            if batch_idx == warmup:
                self.start, self.cpu_start = time.perf_counter(), time.process_time()

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            if batch_idx >= warmup:
                self.tokens += batch["input_ids"].numel()
                self.end, self.cpu_end = time.perf_counter(), time.process_time()

    torch.manual_seed(0)
    module = LanguageModelingModule(
        make_adapter(state), lr=lr, warmup_steps=2, total_steps=len(batches)
    )
    clock = Clock()
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=len(batches),
        logger=RunMetricsLogger(run_dir),
        callbacks=[
            pl.callbacks.LearningRateMonitor(logging_interval="step"),
            TokenThroughputMonitor(),
            clock,
        ],
        gradient_clip_val=1.0,
        log_every_n_steps=10,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        deterministic=True,
    )
    trainer.fit(module, train_dataloaders=torch.utils.data.DataLoader(batches, batch_size=None))
    assert clock.start is not None
    return clock.tokens / (clock.end - clock.start), clock.tokens / (
        clock.cpu_end - clock.cpu_start
    )


def framework_overhead(
    *, steps: int = 600, warmup: int = 50, rounds: int = 3
) -> tuple[float, float]:
    """CPU milliseconds per step each side spends around a model so small that compute is ~0 (an
    embedding and a linear layer, batch 2 x 16): the pipeline's fixed per-step cost, which the
    tokens/s ratio hides in machine noise. Medians over `rounds` alternating runs."""
    import torch

    from model_adapter import UniversalModelAdapter

    class Tiny(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = torch.nn.Embedding(64, 8)
            self.head = torch.nn.Linear(8, 64)

        def forward(self, input_ids, attention_mask=None):
            return self.head(self.embed(input_ids))

    def tiny_adapter(state):
        adapter = UniversalModelAdapter(Tiny())
        adapter.load_state_dict(state)
        return adapter

    generator = torch.Generator().manual_seed(0)
    batches = []
    for _ in range(steps):
        ids = torch.randint(0, 64, (2, 16), generator=generator)
        batches.append(
            {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids.clone()}
        )
    state = UniversalModelAdapter(Tiny()).state_dict()
    tokens = 2 * 16
    hand_ms, ours_ms = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(rounds):
            hand_ms.append(
                tokens
                / hand_loop(state, batches, warmup=warmup, lr=1e-3, make_adapter=tiny_adapter)[1]
                * 1e3
            )
            ours_ms.append(
                tokens
                / pipeline(
                    state,
                    batches,
                    warmup=warmup,
                    lr=1e-3,
                    run_dir=Path(tmp) / f"tiny{index}",
                    make_adapter=tiny_adapter,
                )[1]
                * 1e3
            )
    return statistics.median(hand_ms), statistics.median(ours_ms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--steps", type=int, default=40, help="batches per measurement (warmup included)"
    )
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per side")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (fixed, so CPU time is work)"
    )
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument(
        "--data", default=None, help="text file or 'example' (default: tinyshakespeare if present)"
    )
    args = parser.parse_args()

    import logging

    import torch

    from adaptive_tokenizer import AdaptiveTokenizer
    from lightning_pipeline import load_text_dataset
    from model_adapter import UniversalModelAdapter, example_export_path, load_model

    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(0)
    model, config = load_model(example_export_path())
    state = UniversalModelAdapter(model, config).state_dict()
    source = _data_source(args.data)
    dataset = load_text_dataset(
        source, document_split="line"
    )  # one document per line: the padding case
    tokenizer = AdaptiveTokenizer.load_or_create(config.vocab_size, dataset=dataset)

    packed = _datamodule(
        tokenizer,
        dataset,
        seq_len=args.seq_len,
        batch_size=args.batch_size,
        packing=True,
        vocab=config.vocab_size,
    )
    padded = _datamodule(
        tokenizer,
        dataset,
        seq_len=args.seq_len,
        batch_size=args.batch_size,
        packing=False,
        vocab=config.vocab_size,
    )
    batches = _batches(packed, args.steps)

    hand: list[tuple[float, float]] = []
    ours: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for round_index in range(args.rounds):
            # alternate which side goes first, so a drift in machine load favours neither
            sides = ["hand", "pipeline"] if round_index % 2 == 0 else ["pipeline", "hand"]
            for side in sides:
                if side == "hand":
                    hand.append(hand_loop(state, batches, warmup=args.warmup, lr=3e-4))
                else:
                    ours.append(
                        pipeline(
                            state,
                            batches,
                            warmup=args.warmup,
                            lr=3e-4,
                            run_dir=Path(tmp) / f"r{round_index}",
                        )
                    )
            print(
                f"round {round_index + 1}: hand loop {hand[-1][0]:,.0f} tokens/s ({hand[-1][1]:,.0f} per CPU-s), "
                f"pipeline {ours[-1][0]:,.0f} tokens/s ({ours[-1][1]:,.0f} per CPU-s)",
                flush=True,
            )

    wall_hand = statistics.median(h[0] for h in hand)
    wall_ours = statistics.median(o[0] for o in ours)
    cpu_hand = statistics.median(h[1] for h in hand)
    cpu_ours = statistics.median(o[1] for o in ours)
    print()
    print(
        f"model: bundled example export ({sum(p.numel() for p in model.parameters()):,} parameters), "
        f"batch {args.batch_size} x seq {args.seq_len}, {args.steps - args.warmup} timed steps x {args.rounds} rounds, "
        f"torch threads {torch.get_num_threads()}"
    )
    us_hand, us_ours = 1e6 / cpu_hand, 1e6 / cpu_ours
    per_round_cpu = [h[1] / o[1] for h, o in zip(hand, ours)]
    print(
        f"CPU time per token  hand loop {us_hand:.2f} us  pipeline {us_ours:.2f} us  "
        f"ratio {us_ours / us_hand:.3f}  (target <= 1.03); per-round ratios median "
        f"{statistics.median(per_round_cpu):.3f}, min {min(per_round_cpu):.3f}, max {max(per_round_cpu):.3f}"
    )
    per_round = [o[0] / h[0] for h, o in zip(hand, ours)]
    print(
        f"tokens/s (wall clock)  hand loop {wall_hand:,.0f}  pipeline {wall_ours:,.0f}  "
        f"ratio {wall_ours / wall_hand:.3f}; per-round median {statistics.median(per_round):.3f}  "
        f"min {min(per_round):.3f}  max {max(per_round):.3f}  over {len(per_round)} rounds"
    )
    hand_ms, ours_ms = framework_overhead()
    step_ms = args.batch_size * args.seq_len / cpu_hand * 1e3
    print(
        f"fixed CPU cost per step (tiny model)  hand loop {hand_ms:.2f} ms  pipeline {ours_ms:.2f} ms  "
        f"-> the pipeline adds {ours_ms - hand_ms:.2f} ms to each {step_ms:.0f} ms (CPU) step here "
        f"(expected CPU-per-token ratio {(step_ms + ours_ms - hand_ms) / step_ms:.3f})"
    )
    print()
    print(f"data: {source}, seq_len {args.seq_len}")
    print(f"real-token fraction, packed blocks:      {packed.real_token_fraction():.4f}")
    print(f"real-token fraction, padded (one row per line): {padded.real_token_fraction():.4f}")


if __name__ == "__main__":
    main()
