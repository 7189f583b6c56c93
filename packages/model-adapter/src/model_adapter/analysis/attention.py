"""Attention maps of any attention the model computes, with per-head statistics.

Probabilities come from `capture` (nn.MultiheadAttention weights, or recomputed for every
scaled_dot_product_attention call) on one forward pass over the probe windows. Per layer and
head:

- entropy, normalised by the log of the number of keys a query may see (1.0 = uniform: the
  head does not select anything; a head whose queries are zero reads exactly 1.0);
- sink share: attention on the first token, averaged over queries after the first;
- distance profile: attention per key at each distance i - j (averaged within buckets 0, 1,
  2, 3, 4-7, 8-15, ...), and the mean distance;
- future weight: attention on keys after the query (j > i), which a causal LM must never have;
- dead heads (uniform, or parked on the first token) and duplicate heads (two heads of one
  layer whose maps differ by less than a small total variation).
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING, Any

from model_adapter.analysis.report import Figure, SectionResult

if TYPE_CHECKING:
    import torch

    from model_adapter.analysis.capture import AttentionRecord
    from model_adapter.analysis.probe import AnalysisContext

__all__ = ["NAME", "head_statistics", "run"]

NAME = "attention"
TITLE = "Attention maps"
UNIFORM_ENTROPY = 0.99  # normalised entropy above which a head attends (almost) uniformly
PARKED_SINK = 0.95  # share on the first token above which a head is parked there
DUPLICATE_DISTANCE = 0.02  # mean total variation between two heads' rows below which they duplicate
FUTURE_TOLERANCE = 1e-4  # attention on future keys above this is a leak
HEATMAP_TOKENS = 24
MAX_HEATMAPS = 16  # heat maps in the page (every head's numbers are in the tables and JSON)
DISTANCE_BUCKETS = (0, 1, 2, 3, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
MAX_FIGURE_LAYERS = 12


def _distance_buckets(length: int) -> list[tuple[int, int]]:
    """Half-open [low, high) distance ranges up to `length`: 0, 1, 2, 3, 4-7, 8-15, ..."""
    edges = [d for d in DISTANCE_BUCKETS if d < length] + [length]
    return list(itertools.pairwise(edges))


def _bucket_label(low: int, high: int) -> str:
    return str(low) if high - low == 1 else f"{low}-{high - 1}"


def head_statistics(probabilities: torch.Tensor) -> dict[str, Any]:
    """Per-head statistics of one attention call's probabilities `[B, H, L, S]`."""
    import torch

    p = probabilities.float()
    _, heads, length, source = p.shape
    allowed = (p > 0).sum(-1)  # keys each query may see (masked keys have exactly 0)
    entropy = -(p * torch.log(p.clamp_min(1e-30))).sum(-1)  # [B, H, L]
    rows = allowed > 1
    normalised = torch.where(
        rows, entropy / torch.log(allowed.clamp_min(2).float()), torch.zeros_like(entropy)
    )
    row_count = rows.sum(dim=(0, 2)).clamp_min(1)
    normalised_entropy = (normalised.sum(dim=(0, 2)) / row_count).tolist()
    mean_entropy = entropy.mean(dim=(0, 2)).tolist()
    sink = p[:, :, 1:, 0].mean(dim=(0, 2)).tolist() if length > 1 else [float("nan")] * heads
    stats: dict[str, Any] = {
        "entropy": mean_entropy,
        "normalised_entropy": normalised_entropy,
        "sink_share": sink,
    }
    if length == source:
        query = torch.arange(length).view(-1, 1)
        key = torch.arange(source).view(1, -1)
        distance = (query - key).to(p.dtype)  # [L, S]
        future = (key > query).to(p.dtype)
        future_mass = (p * future).sum(-1)  # [B, H, L]
        stats["future_weight_max"] = future_mass.amax(dim=(0, 2)).tolist()
        stats["future_weight_mean"] = future_mass.mean(dim=(0, 2)).tolist()
        past = (p * (distance >= 0)).clamp_min(0)
        stats["mean_distance"] = ((past * distance).sum(-1)).mean(dim=(0, 2)).tolist()
        profile = []
        for low, high in _distance_buckets(length):
            band = ((distance >= low) & (distance < high)).to(p.dtype)
            per_key = (p * band).sum(-1).mean(dim=(0, 2)) / (
                high - low
            )  # wide buckets hold more keys
            profile.append(per_key.tolist())
        stats["distance_profile"] = [list(row) for row in zip(*profile)]  # [H][bucket]
        stats["distance_buckets"] = [
            _bucket_label(low, high) for low, high in _distance_buckets(length)
        ]
    duplicates = []
    for a in range(heads):
        for b in range(a + 1, heads):
            variation = 0.5 * (p[:, a] - p[:, b]).abs().sum(-1).mean().item()
            if variation < DUPLICATE_DISTANCE:
                duplicates.append([a, b])
    stats["duplicate_pairs"] = duplicates
    return stats


def _head_rows(record: AttentionRecord, stats: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    heads = record.probabilities.shape[1]
    duplicated = {h for pair in stats["duplicate_pairs"] for h in pair}
    for h in range(heads):
        row: dict[str, Any] = {
            "layer": record.name,
            "head": h,
            "entropy": round(stats["entropy"][h], 4),
            "normalised_entropy": round(stats["normalised_entropy"][h], 4),
            "sink_share": round(stats["sink_share"][h], 4)
            if math.isfinite(stats["sink_share"][h])
            else None,
        }
        if "future_weight_max" in stats:
            row["future_weight_max"] = round(stats["future_weight_max"][h], 6)
            row["mean_distance"] = round(stats["mean_distance"][h], 3)
        status = []
        if row["normalised_entropy"] >= UNIFORM_ENTROPY:
            status.append("uniform")
        if row["sink_share"] is not None and row["sink_share"] >= PARKED_SINK:
            status.append("parked on first token")
        if row.get("future_weight_max", 0.0) > FUTURE_TOLERANCE:
            status.append("LEAK: sees future")
        if h in duplicated:
            status.append("duplicate")
        row["status"] = ", ".join(status) or "ok"
        rows.append(row)
    return rows


def _summary(heads: list[dict[str, Any]], layers: list[dict[str, Any]]) -> list[str]:
    lines = [
        f"{len(layers)} attention call(s), {len(heads)} head(s): "
        + ", ".join(sorted({layer["source"] for layer in layers}))
    ]
    mean = sum(h["normalised_entropy"] for h in heads) / len(heads)
    lines.append(
        f"mean normalised entropy {mean:.3f} (1.0 = uniform attention, lower = more selective)"
    )
    sinks = [h["sink_share"] for h in heads if h["sink_share"] is not None]
    if sinks:
        lines.append(f"mean share of attention on the first token {sum(sinks) / len(sinks):.3f}")
    leaky = [h for h in heads if "LEAK" in h["status"]]
    if leaky:
        worst = max(leaky, key=lambda h: h["future_weight_max"])
        lines.append(
            f"LEAK: {len(leaky)} head(s) put weight on future tokens (worst {worst['layer']} head "
            f"{worst['head']}: {worst['future_weight_max']:.3f}); the causal mask does not reach them"
        )
    uniform = [h for h in heads if "uniform" in h["status"]]
    parked = [h for h in heads if "parked" in h["status"]]
    duplicate = [h for h in heads if "duplicate" in h["status"]]
    if uniform or parked:
        lines.append(f"dead heads: {len(uniform)} uniform, {len(parked)} parked on the first token")
    if duplicate:
        lines.append(f"{len(duplicate)} head(s) duplicate another head of their layer")
    return lines


def run(ctx: AnalysisContext, *, max_batch: int = 4) -> SectionResult:
    """Capture every attention call of one forward pass over the first windows and summarise it."""
    from model_adapter.analysis.capture import capture
    from model_adapter.analysis.probe import ModuleStack

    ids = ctx.input_ids[:max_batch]
    stack = ModuleStack(ctx.model)
    with stack.active(), capture(ctx.model, stack, attention=True) as captured:
        ctx.logits(ids)
    if not captured.attention:
        return SectionResult(
            NAME,
            TITLE,
            "skipped",
            [
                "no attention found: the model calls neither nn.MultiheadAttention nor "
                "scaled_dot_product_attention (hand-written softmax attention is not captured)"
            ],
            {"layers": [], "heads": []},
        )
    layers: list[dict[str, Any]] = []
    heads: list[dict[str, Any]] = []
    figures: list[Figure] = []
    tokens = min(HEATMAP_TOKENS, ids.shape[1])
    labels = [ctx.token_label(i) for i in range(tokens)]
    for index, record in enumerate(captured.attention):
        stats = head_statistics(record.probabilities)
        rows = _head_rows(record, stats)
        heads.extend(rows)
        layers.append(
            {
                "layer": record.name,
                "source": record.source,
                "heads": record.probabilities.shape[1],
                "query_length": record.probabilities.shape[2],
                "key_length": record.probabilities.shape[3],
                "mean_normalised_entropy": round(
                    sum(stats["normalised_entropy"]) / len(stats["normalised_entropy"]), 4
                ),
                "distance_buckets": stats.get("distance_buckets", []),
                "distance_profile": [
                    [round(v, 4) for v in row] for row in stats.get("distance_profile", [])
                ],
                "duplicate_pairs": stats["duplicate_pairs"],
            }
        )
        if index < MAX_FIGURE_LAYERS:
            sample = record.probabilities[0]
            per_layer = max(1, MAX_HEATMAPS // min(len(captured.attention), MAX_FIGURE_LAYERS))
            flagged_first = sorted(range(sample.shape[0]), key=lambda h: rows[h]["status"] == "ok")
            for h in sorted(flagged_first[:per_layer]):
                matrix = sample[h, :tokens, :tokens]
                figures.append(
                    Figure(
                        "heatmap",
                        f"{record.name} head {h}",
                        {
                            "matrix": [[round(v, 4) for v in row] for row in matrix.tolist()],
                            "row_labels": labels,
                            "col_labels": labels,
                            "vmin": 0.0,
                            "vmax": 1.0,
                        },
                        caption=f"query (row) attends to key (column); {rows[h]['status']}",
                    )
                )
            if stats.get("distance_profile"):
                figures.append(
                    Figure(
                        "lines",
                        f"{record.name}: attention by distance",
                        {
                            "x": list(range(len(stats["distance_buckets"]))),
                            "series": {
                                f"head {h}": [round(v, 4) for v in row]
                                for h, row in enumerate(stats["distance_profile"])
                            },
                            "x_label": "distance bucket: " + " ".join(stats["distance_buckets"]),
                            "y_label": "attention per key",
                        },
                    )
                )
    entropy_by_layer = Figure(
        "heatmap",
        "normalised entropy per layer (rows) and head (columns)",
        {
            "matrix": [
                [h["normalised_entropy"] for h in heads if h["layer"] == layer["layer"]]
                for layer in layers
            ],
            "row_labels": [layer["layer"] for layer in layers],
            "vmin": 0.0,
            "vmax": 1.0,
        },
        caption="dark = uniform attention; light = selective heads",
    )
    figures.insert(0, entropy_by_layer)
    values = {
        "attention_calls": len(layers),
        "heads_total": len(heads),
        "mean_normalised_entropy": round(
            sum(h["normalised_entropy"] for h in heads) / len(heads), 4
        ),
        "max_future_weight": max((h.get("future_weight_max", 0.0) for h in heads), default=0.0),
        "leaky_heads": sum("LEAK" in h["status"] for h in heads),
        "layers": layers,
        "heads": heads,
    }
    return SectionResult(NAME, TITLE, "ok", _summary(heads, layers), values, figures)
