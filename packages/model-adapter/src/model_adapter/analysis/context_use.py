"""Context use: how the loss at the last position depends on how many tokens back are intact.

For each window of the probe batch, the model predicts the token after position T-1. For k
in 1..T, the k most recent tokens are kept and every earlier token is replaced (by the token
at the same position of another window, "shuffle", which keeps the token statistics, or by a
random id, "random"); the same replacements serve every k, so the curve loss(k) moves only
because more context is intact. A model that uses n tokens of context has a curve that falls
until k = n and is flat after it. Works for any model (attention or not): it only runs forward.

`effective_context` is the smallest k that recovers 90% of the loss drop from k=1 to the full
window; when that drop is under `MIN_BENEFIT_NATS` the model does not measurably use context
beyond the last token and the effective context is 1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from model_adapter.analysis.report import Figure, SectionResult

if TYPE_CHECKING:
    import torch

    from model_adapter.analysis.probe import AnalysisContext

__all__ = ["NAME", "context_curve", "run"]

NAME = "context"
TITLE = "Context use"
RECOVERED_SHARE = 0.9
MIN_BENEFIT_NATS = 0.02
MODES = ("shuffle", "random")


def _k_values(length: int, max_points: int = 16) -> list[int]:
    """1, 2, 3, ... then roughly geometric up to `length` (every k when few)."""
    if length <= max_points:
        return list(range(1, length + 1))
    ks = {1, 2, 3, 4, 5, 6, 8, length}
    k = 8.0
    while k < length:
        ks.add(int(k))
        k *= 1.5
    return sorted(x for x in ks if x <= length)


def context_curve(
    ctx: AnalysisContext,
    windows: torch.Tensor,
    *,
    mode: str = "shuffle",
    ks: list[int] | None = None,
) -> tuple[list[int], list[float], list[float]]:
    """(k values, mean loss, top-1 accuracy) of the prediction after each window's last token.

    `windows` is `[B, T+1]`: T tokens of input and the target after them.
    """
    import torch
    import torch.nn.functional as F

    inputs, targets = windows[:, :-1], windows[:, -1]
    batch, length = inputs.shape
    if mode == "shuffle" and batch > 1:
        replacement = inputs.roll(1, dims=0)
    else:
        replacement = ctx.random_ids(tuple(inputs.shape))
    ks = ks or _k_values(length)
    positions = torch.arange(length, device=inputs.device)
    losses, accuracies = [], []
    for k in ks:
        keep = positions >= length - k
        ids = torch.where(keep, inputs, replacement)
        logits = ctx.logits(ids)[:, -1]
        losses.append(F.cross_entropy(logits, targets).item())
        accuracies.append((logits.argmax(-1) == targets).float().mean().item())
    return ks, losses, accuracies


def effective_context(ks: list[int], losses: list[float]) -> tuple[int, float]:
    """(smallest k recovering 90% of the loss drop, the drop in nats from k=1 to the full window)."""
    benefit = losses[0] - losses[-1]
    if benefit < MIN_BENEFIT_NATS:
        return 1, benefit
    for k, loss in zip(ks, losses):
        if losses[0] - loss >= RECOVERED_SHARE * benefit:
            return k, benefit
    return ks[-1], benefit


def run(ctx: AnalysisContext, *, mode: str = "shuffle", max_batch: int = 32) -> SectionResult:
    """The loss-versus-intact-context curve over the probe windows."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    windows = ctx.input_ids[:max_batch]
    if windows.shape[1] < 3:
        return SectionResult(
            NAME, TITLE, "skipped", ["probe windows shorter than 3 tokens; raise seq_len"]
        )
    ks, losses, accuracies = context_curve(ctx, windows, mode=mode)
    effective, benefit = effective_context(ks, losses)
    values: dict[str, Any] = {
        "mode": mode,
        "windows": int(windows.shape[0]),
        "window_length": int(windows.shape[1] - 1),
        "effective_context": effective,
        "context_benefit_nats": round(benefit, 5),
        "k": ks,
        "loss": [round(v, 5) for v in losses],
        "top1": [round(v, 4) for v in accuracies],
    }
    summary = [
        f"loss at the last position: {losses[0]:.3f} with 1 token intact, {losses[-1]:.3f} with all "
        f"{ks[-1]} (context is worth {benefit:.3f} nats)",
    ]
    if benefit < MIN_BENEFIT_NATS:
        summary.append("no measurable use of context beyond the last token (on these inputs)")
    else:
        summary.append(
            f"effective context: {effective} token(s) recover {RECOVERED_SHARE:.0%} of that gain"
        )
    figure = Figure(
        "lines",
        "loss vs tokens of intact context",
        {
            "x": ks,
            "series": {"loss": values["loss"]},
            "x_label": "intact tokens k",
            "y_label": "loss (nats)",
            "log_x": len(ks) > 12,
        },
        caption=f"earlier tokens replaced ({mode}); flat after k = the context the model uses",
    )
    return SectionResult(NAME, TITLE, "ok", summary, values, [figure])
