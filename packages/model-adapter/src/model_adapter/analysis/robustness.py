"""Robustness: how loss and top-1 predictions change under two kinds of input damage.

- Token replacement: k% of the input positions get a random id; the loss is still measured
  against the clean next tokens, and "top-1 kept" is the share of positions whose most likely
  next token is the same as on the clean input.
- Embedding noise: a forward hook on the token embedding adds Gaussian noise whose standard
  deviation is a multiple of the embeddings' own RMS (so the scale means the same for every
  model).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from model_adapter.analysis.report import Figure, SectionResult

if TYPE_CHECKING:
    import torch

    from model_adapter.analysis.probe import AnalysisContext

__all__ = ["NAME", "embedding_noise", "run", "token_replacement"]

NAME = "robustness"
TITLE = "Robustness"
REPLACED_PERCENT = (0, 5, 10, 20, 40, 80)
NOISE_SCALES = (0.0, 0.03, 0.1, 0.3, 1.0)


def _measure(
    ctx: AnalysisContext, ids: torch.Tensor, clean_top1: torch.Tensor, reference: torch.Tensor
) -> tuple[float, float]:
    logits = ctx.logits(ids)
    loss = ctx.token_losses(logits, reference).mean().item()
    kept = (logits[:, :-1].argmax(-1) == clean_top1).float().mean().item()
    return loss, kept


def token_replacement(
    ctx: AnalysisContext, ids: torch.Tensor, percents: tuple[int, ...] = REPLACED_PERCENT
) -> list[dict[str, float]]:
    import torch

    clean_top1 = ctx.logits(ids)[:, :-1].argmax(-1)
    noise = torch.rand(ids.shape, generator=ctx.generator()).to(ids.device)
    random_ids = ctx.random_ids(tuple(ids.shape))
    rows = []
    for percent in percents:
        damaged = torch.where(noise < percent / 100, random_ids, ids)
        loss, kept = _measure(ctx, damaged, clean_top1, ids)
        rows.append(
            {"replaced_percent": percent, "loss": round(loss, 5), "top1_kept": round(kept, 4)}
        )
    return rows


def embedding_noise(
    ctx: AnalysisContext, ids: torch.Tensor, scales: tuple[float, ...] = NOISE_SCALES
) -> list[dict[str, float]] | None:
    """Rows of (scale, loss, top-1 kept), or None when the model has no token embedding."""
    import torch

    from model_adapter.analysis.probe import find_token_embedding

    found = find_token_embedding(ctx.model, ctx.vocab_size)
    if found is None:
        return None
    _, embedding = found
    clean_top1 = ctx.logits(ids)[:, :-1].argmax(-1)
    state: dict[str, float] = {"scale": 0.0}

    def add_noise(_module: Any, _args: Any, output: torch.Tensor) -> torch.Tensor:
        if state["scale"] == 0.0:
            return output
        rms = output.float().pow(2).mean().sqrt()
        noise = torch.randn(output.shape, generator=ctx.generator()).to(output.device, output.dtype)
        return output + noise * (state["scale"] * rms).to(output.dtype)

    handle = embedding.register_forward_hook(add_noise)
    rows = []
    try:
        for scale in scales:
            state["scale"] = float(scale)
            loss, kept = _measure(ctx, ids, clean_top1, ids)
            rows.append({"noise_scale": scale, "loss": round(loss, 5), "top1_kept": round(kept, 4)})
    finally:
        handle.remove()
    return rows


def _line_chart(
    title: str,
    rows: list[dict[str, Any]],
    x: tuple[str, str],
    y: tuple[str, str],
    *,
    series: str | None = None,
) -> Figure:
    """One line of `rows[y]` against `rows[x]`; `x` and `y` are (row key, axis label)."""
    return Figure(
        "lines",
        title,
        {
            "x": [row[x[0]] for row in rows],
            "series": {series or y[0]: [row[y[0]] for row in rows]},
            "x_label": x[1],
            "y_label": y[1],
        },
    )


def run(ctx: AnalysisContext, *, max_batch: int = 8) -> SectionResult:
    ids = ctx.input_ids[:max_batch]
    if ids.shape[1] < 2:
        return SectionResult(NAME, TITLE, "skipped", ["probe windows shorter than 2 tokens"])
    replaced = token_replacement(ctx, ids)
    noisy = embedding_noise(ctx, ids)
    clean_loss = replaced[0]["loss"]
    worst = replaced[-1]
    summary = [
        f"clean loss {clean_loss:.3f}; with {worst['replaced_percent']}% of tokens replaced {worst['loss']:.3f} "
        f"(top-1 kept {worst['top1_kept']:.0%})",
    ]
    ten = next((row for row in replaced if row["replaced_percent"] == 10), None)
    if ten is not None:
        summary.append(
            f"10% replaced: loss {ten['loss'] - clean_loss:+.3f}, top-1 kept {ten['top1_kept']:.0%}"
        )
    figures = [
        _line_chart(
            "token replacement",
            replaced,
            ("replaced_percent", "% tokens replaced at random"),
            ("loss", "loss (nats)"),
        ),
        _line_chart(
            "top-1 predictions kept",
            replaced,
            ("replaced_percent", "% tokens replaced"),
            ("top1_kept", "share kept"),
            series="token replacement",
        ),
    ]
    values: dict[str, Any] = {"clean_loss": clean_loss, "token_replacement": replaced}
    if noisy is None:
        summary.append(f"embedding noise skipped: no nn.Embedding with {ctx.vocab_size} rows")
    else:
        values["embedding_noise"] = noisy
        half = next((r for r in noisy if r["top1_kept"] < 0.5), None)
        summary.append(
            f"embedding noise: top-1 kept {noisy[-1]['top1_kept']:.0%} at {noisy[-1]['noise_scale']}x the embedding RMS"
            + (f"; half the predictions change by {half['noise_scale']}x" if half else "")
        )
        figures.append(
            _line_chart(
                "Gaussian noise on the embeddings",
                noisy,
                ("noise_scale", "noise std / embedding RMS"),
                ("loss", "loss (nats)"),
            )
        )
    return SectionResult(NAME, TITLE, "ok", summary, values, figures)
