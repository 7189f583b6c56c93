"""ONNX Runtime fp32 and int8 vs PyTorch eager: latency, size and agreement, in one run.

A builder-style GPT (the product's real path: model.py + config.json loaded by model-adapter
and run through its graph executor) at d_model 384, 6 blocks, 6 heads, context 128, with a BPE
tokenizer trained here on tinyshakespeare. It is trained briefly so its predictions are not
ties, exported with `model_export.export_onnx`, quantized with `quantize_int8`, and timed
interleaved (eager, ORT fp32, ORT int8, one call each per round) so that load on a shared
machine hits all three alike; the medians are compared.

    python benchmarks/export_latency.py [--text PATH] [--train-steps 150] [--rounds 30]

Targets (issue 4): ORT fp32 >= 1.5x faster than eager at batch 1; int8 >= 3.5x smaller with
top-1 agreement >= 98% on real text.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

# ../shared/data beside the checkout (the monorepo root is three levels above), or $TINYSHAKESPEARE.
DEFAULT_TEXT = Path(
    os.environ.get("TINYSHAKESPEARE")
    or Path(__file__).resolve().parents[3].parent / "shared" / "data" / "tinyshakespeare.txt"
)


def train_tokenizer(text: str, vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tokenizer.train_from_iterator(text.splitlines(), trainer)
    return tokenizer


def build_model(folder: Path, vocab_size: int, args):
    from model_adapter import UniversalModelAdapter, load_model
    from model_adapter.testing import write_builder_export

    write_builder_export(
        folder,
        vocab_size=vocab_size,
        d_model=args.d_model,
        n_heads=args.heads,
        n_blocks=args.blocks,
        max_seq_len=args.seq_len,
        architecture="gpt",
        defects=("unmasked_attention",),
        dropout=0.0,
    )
    model, config = load_model(folder)
    return UniversalModelAdapter(model, config, causal=True)


def train(adapter, ids: np.ndarray, steps: int, seq_len: int, batch: int = 8) -> float:
    if steps <= 0:
        return float("nan")
    optimizer = torch.optim.AdamW(adapter.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    adapter.train()
    loss = torch.tensor(float("nan"))
    for _ in range(steps):
        starts = rng.integers(0, len(ids) - seq_len - 1, size=batch)
        x = torch.from_numpy(np.stack([ids[s : s + seq_len] for s in starts]))
        y = torch.from_numpy(np.stack([ids[s + 1 : s + seq_len + 1] for s in starts]))
        logits = adapter(x)
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), y.reshape(-1)
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    adapter.eval()
    return loss.item()


def interleaved_medians(fns: dict, inputs: dict, rounds: int) -> dict:
    """Median ms of each (name, batch) pair, all timed round-robin in the same rounds."""
    times = {key: [] for key in fns}
    for key, fn in fns.items():
        fn(inputs[key[1]])  # warm-up
    for _ in range(rounds):
        for key, fn in fns.items():
            start = time.perf_counter()
            fn(inputs[key[1]])
            times[key].append((time.perf_counter() - start) * 1000)
    return {key: statistics.median(v) for key, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text", type=Path, default=DEFAULT_TEXT)
    parser.add_argument("--vocab-size", type=int, default=4096)
    parser.add_argument("--d-model", type=int, default=384)
    parser.add_argument("--blocks", type=int, default=6)
    parser.add_argument("--heads", type=int, default=6)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--train-steps", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    for noisy in ("onnx_ir", "onnxscript"):
        logging.getLogger(noisy).setLevel(logging.ERROR)

    from model_export import export_onnx, onnx_session, quantize_int8
    from model_export.onnx_export import onnx_logits_fn
    from model_export.quantization import QuantizationThresholds, held_out_windows, perplexity

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    text = args.text.read_text(encoding="utf-8")
    split = int(len(text) * 0.9)
    tokenizer = train_tokenizer(text[:split], args.vocab_size)
    vocab = tokenizer.get_vocab_size()
    train_ids = np.asarray(tokenizer.encode(text[:split]).ids, dtype=np.int64)
    held_ids = np.asarray(tokenizer.encode(text[split:]).ids, dtype=np.int64)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        adapter = build_model(tmp / "export", vocab, args)
        params = sum(p.numel() for p in adapter.parameters())
        t0 = time.perf_counter()
        final_loss = train(adapter, train_ids, args.train_steps, args.seq_len)
        train_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        onnx_result = export_onnx(adapter, tmp / "model.onnx", atol=1e-3)
        export_s = time.perf_counter() - t0
        quant = quantize_int8(
            tmp / "model.onnx",
            tmp / "model.int8.onnx",
            held_ids,
            seq_len=args.seq_len,
            eval_source=f"{args.text.name} last 10%",
            thresholds=QuantizationThresholds(0.0, float("inf")),
        )

        fp32 = onnx_logits_fn(onnx_session(tmp / "model.onnx", threads=args.threads))
        int8 = onnx_logits_fn(onnx_session(tmp / "model.int8.onnx", threads=args.threads))

        def eager(ids: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                return adapter(torch.from_numpy(ids)).numpy()

        windows = held_out_windows(held_ids, args.seq_len, max_windows=32)
        ref, f32, q8 = eager(windows), fp32(windows), int8(windows)
        agreement = {
            "ort_fp32_vs_eager": float((ref.argmax(-1) == f32.argmax(-1)).mean()),
            "ort_int8_vs_fp32": float((f32.argmax(-1) == q8.argmax(-1)).mean()),
        }
        ppl = {
            "eager": perplexity(ref, windows),
            "ort_fp32": perplexity(f32, windows),
            "ort_int8": perplexity(q8, windows),
        }

        inputs = {b: windows[np.arange(b) % len(windows)] for b in (1, 8)}
        fns = {}
        for b in (1, 8):
            fns[("eager", b)] = eager
            fns[("ort_fp32", b)] = fp32
            fns[("ort_int8", b)] = int8
        medians = interleaved_medians(fns, inputs, args.rounds)

    results = {
        "model": {
            "kind": "builder GPT via model-adapter graph executor",
            "parameters": params,
            "d_model": args.d_model,
            "blocks": args.blocks,
            "heads": args.heads,
            "vocab": vocab,
            "seq_len": args.seq_len,
            "train_steps": args.train_steps,
            "final_train_loss": final_loss,
            "train_s": train_s,
        },
        "threads": args.threads,
        "rounds": args.rounds,
        "onnx": {
            "exporter": onnx_result.exporter,
            "export_s": export_s,
            "parity_max_abs_diff": onnx_result.parity.max_abs_diff,
        },
        "latency_ms": {f"{name}_b{b}": ms for (name, b), ms in medians.items()},
        "speedup_vs_eager": {
            f"{name}_b{b}": medians[("eager", b)] / medians[(name, b)]
            for (name, b) in medians
            if name != "eager"
        },
        "size_bytes": {"fp32": quant.fp32_size_bytes, "int8": quant.size_bytes},
        "size_ratio": quant.size_ratio,
        "top1_agreement": agreement,
        "perplexity": ppl,
        "held_out_tokens": int(windows.size),
    }
    print(
        f"model: {params / 1e6:.2f}M params, d_model {args.d_model}, {args.blocks} blocks, vocab {vocab}, "
        f"seq {args.seq_len}; trained {args.train_steps} steps (loss {final_loss:.3f}); threads {args.threads}"
    )
    print(
        f"onnx exporter: {onnx_result.exporter}, parity max abs diff {onnx_result.parity.max_abs_diff:.2e}"
    )
    print(
        f"{'batch':>5} {'eager ms':>10} {'ort fp32 ms':>12} {'ort int8 ms':>12} {'fp32 speedup':>13} {'int8 speedup':>13}"
    )
    for b in (1, 8):
        e, f, q = medians[("eager", b)], medians[("ort_fp32", b)], medians[("ort_int8", b)]
        print(f"{b:>5} {e:>10.2f} {f:>12.2f} {q:>12.2f} {e / f:>12.2f}x {e / q:>12.2f}x")
    print(
        f"size: fp32 {quant.fp32_size_bytes / 1e6:.1f} MB, int8 {quant.size_bytes / 1e6:.1f} MB, "
        f"ratio {quant.size_ratio:.2f}x"
    )
    print(
        f"top-1 agreement on held-out text ({windows.size} tokens): ORT fp32 vs eager "
        f"{agreement['ort_fp32_vs_eager']:.2%}, int8 vs fp32 {agreement['ort_int8_vs_fp32']:.2%}"
    )
    print(
        f"perplexity: eager {ppl['eager']:.2f}, ORT fp32 {ppl['ort_fp32']:.2f}, ORT int8 {ppl['ort_int8']:.2f}"
    )
    fp32_ok = results["speedup_vs_eager"]["ort_fp32_b1"] >= 1.5
    int8_ok = quant.size_ratio >= 3.5 and agreement["ort_int8_vs_fp32"] >= 0.98
    print(
        f"targets: fp32 >= 1.5x at batch 1: {'met' if fp32_ok else 'NOT met'}; "
        f"int8 >= 3.5x smaller and top-1 >= 98%: {'met' if int8_ok else 'NOT met'}"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
