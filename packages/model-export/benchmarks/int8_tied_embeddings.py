"""int8 on tied vs untied embeddings: size ratio, latency ratio and top-1 agreement, in one run.

A GPT whose output head shares the token embedding (GPT-2, nanoGPT, small Llamas) keeps one
matrix for two uses: the lookup (Gather) and the projection (MatMul). If only the MatMul is
quantized, the shared matrix stays in fp32 for the lookup; if both are quantized separately, it
is stored twice in int8. Either way the int8 model is far less than 4x smaller. `quantize_int8`
quantizes the Gather too and stores the tied matrix once (`model_export.tied_int8`); this
script shows the effect on a tied model and on the same model with an untied head, both
trained briefly on tinyshakespeare (byte-pair ids, so no tokenizer is needed) so that their
predictions are not ties.

    python benchmarks/int8_tied_embeddings.py [--text PATH] [--train-steps 100] [--vocab 4096]

Target (issue 14): size ratio >= 3.5x on the tied model, agreement gate unchanged (>= 98%).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

DEFAULT_TEXT = Path(
    os.environ.get("TINYSHAKESPEARE")
    or Path(__file__).resolve().parents[3].parent / "shared" / "data" / "tinyshakespeare.txt"
)


def token_ids(text: str, vocab: int) -> np.ndarray:
    """Byte pairs folded into `vocab` ids: a cheap, deterministic id stream with a real-text shape."""
    data = np.frombuffer(text.encode("utf-8"), dtype=np.uint8).astype(np.int64)
    return (data[:-1] * 256 + data[1:]) % vocab


def build(tied: bool, vocab: int, folder: Path):
    from model_adapter import UniversalModelAdapter, load_model
    from model_adapter.testing_styles import write_model_style

    export = write_model_style(folder, "tied", vocab_size=vocab, max_seq_len=64)
    config = json.loads((export / "config.json").read_text())
    config.update({"d_model": 128, "n_heads": 4, "n_layers": 3})
    (export / "config.json").write_text(json.dumps(config))
    if not tied:
        source = (
            (export / "model.py")
            .read_text()
            .replace("        self.head.weight = self.tok.weight\n", "")
        )
        (export / "model.py").write_text(source)
    model, model_config = load_model(export)
    return UniversalModelAdapter(model, model_config)


def train(adapter, ids: np.ndarray, steps: int, seq_len: int = 64, batch: int = 16) -> None:
    optimizer = torch.optim.AdamW(adapter.parameters(), lr=3e-3)
    generator = np.random.default_rng(0)
    adapter.train()
    for _ in range(steps):
        starts = generator.integers(0, len(ids) - seq_len - 1, size=batch)
        window = torch.as_tensor(np.stack([ids[s : s + seq_len + 1] for s in starts]))
        logits = adapter(window[:, :-1])
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), window[:, 1:].reshape(-1)
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    adapter.eval()


def main() -> None:
    from model_export import export_onnx
    from model_export.quantization import quantize_int8

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text", type=Path, default=DEFAULT_TEXT)
    parser.add_argument("--train-steps", type=int, default=100)
    parser.add_argument("--vocab", type=int, default=4096)
    args = parser.parse_args()
    torch.manual_seed(0)
    ids = token_ids(args.text.read_text(encoding="utf-8"), args.vocab)
    split = int(len(ids) * 0.9)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for tied in (True, False):
            folder = Path(tmp) / ("tied" if tied else "untied")
            adapter = build(tied, args.vocab, folder / "export")
            train(adapter, ids[:split], args.train_steps)
            export_onnx(adapter, folder / "model.onnx", max_seq_len=64)
            result = quantize_int8(
                folder / "model.onnx", folder / "model.int8.onnx", ids[split:], seq_len=64
            )
            rows.append(
                {
                    "model": "tied" if tied else "untied",
                    "status": result.status,
                    "fp32_mb": round(result.fp32_size_bytes / 1e6, 3),
                    "int8_mb": round(result.size_bytes / 1e6, 3),
                    "size_ratio": round(result.size_ratio, 2),
                    "int8_ms": round(result.latency_ms, 3),
                    "fp32_ms": round(result.fp32_latency_ms, 3),
                    "latency_ratio_int8_over_fp32": round(result.latency_ratio, 2),
                    "top1_agreement": round(result.top1_agreement, 4),
                    "perplexity_change": round(result.perplexity_change, 4),
                }
            )
    for row in rows:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
