"""Attribution: integrated gradients on the input embeddings for one next-token prediction.

The prediction explained is the log-probability the model gives, at position t of the first
probe window, to the token that actually follows (t defaults to the last position). A forward
hook on the token embedding replaces its output by `baseline + alpha * (embedding - baseline)`
for alpha on a Riemann grid (midpoints), with the baseline all zeros; the gradients are
averaged and multiplied by `embedding - baseline`, and summed over the embedding dimension to
give one score per prompt token. By the completeness property the scores sum to
`f(embedding) - f(baseline)`; the report states that gap as a check on the step count.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from model_adapter.analysis.report import Figure, SectionResult

if TYPE_CHECKING:
    import torch

    from model_adapter.analysis.probe import AnalysisContext

__all__ = ["NAME", "integrated_gradients", "run"]

NAME = "attribution"
TITLE = "Attribution (integrated gradients)"
BASELINE = "zeros"
MAX_SHOWN = 48


def integrated_gradients(
    ctx: AnalysisContext, ids: torch.Tensor, position: int, target: int, *, steps: int = 16
) -> tuple[list[float], float, float]:
    """(score per token of `ids[:position+1]`, f(input), f(baseline)) for `log p(target | ids[:position+1])`.

    `ids` is one window `[T]`. Raises `LookupError` when the model has no token embedding.
    """
    import torch

    from model_adapter.analysis.probe import find_token_embedding

    found = find_token_embedding(ctx.model, ctx.vocab_size)
    if found is None:
        raise LookupError("no nn.Embedding with vocab_size rows")
    _, embedding = found
    prompt = ids[: position + 1].unsqueeze(0)
    with torch.no_grad():
        clean = embedding(prompt).float()  # [1, P, D]
    alphas = (torch.arange(steps, dtype=torch.float32, device=clean.device) + 0.5) / steps
    scaled = (alphas.view(-1, 1, 1) * clean).requires_grad_(True)  # [steps, P, D], baseline zeros
    endpoints = torch.cat([clean, torch.zeros_like(clean)])  # f(input), f(baseline)
    replacement: dict[str, torch.Tensor] = {}

    def substitute(_module: Any, _args: Any, output: torch.Tensor) -> torch.Tensor:
        return replacement["value"].to(output.dtype)

    handle = embedding.register_forward_hook(substitute)
    try:
        ctx.adapter.eval()
        with torch.enable_grad():
            replacement["value"] = scaled
            logits = ctx.adapter(prompt.expand(steps, -1))
            log_probs = torch.log_softmax(logits[:, -1].float(), dim=-1)[:, target]
            (gradients,) = torch.autograd.grad(log_probs.sum(), scaled)
        with torch.no_grad():
            replacement["value"] = endpoints
            ends = torch.log_softmax(ctx.adapter(prompt.expand(2, -1))[:, -1].float(), dim=-1)[
                :, target
            ]
    finally:
        handle.remove()
    scores = (clean[0] * gradients.mean(dim=0)).sum(-1)
    return scores.tolist(), float(ends[0]), float(ends[1])


def run(ctx: AnalysisContext, *, position: int | None = None, steps: int = 16) -> SectionResult:
    """Integrated gradients for the prediction after `position` of the first probe window."""
    ids = ctx.input_ids[0]
    length = ids.shape[0]
    if length < 2:
        return SectionResult(NAME, TITLE, "skipped", ["probe windows shorter than 2 tokens"])
    position = length - 2 if position is None else position
    if not 0 <= position < length - 1:
        raise ValueError(
            f"position must be in [0, {length - 2}] for windows of {length} tokens, got {position}"
        )
    target = int(ids[position + 1])
    try:
        scores, at_input, at_baseline = integrated_gradients(
            ctx, ids, position, target, steps=steps
        )
    except LookupError:
        return SectionResult(
            NAME,
            TITLE,
            "skipped",
            [
                f"no token embedding found (an nn.Embedding with {ctx.vocab_size} rows); attribution needs one"
            ],
        )
    gap = (at_input - at_baseline) - sum(scores)
    order = sorted(range(len(scores)), key=lambda i: -abs(scores[i]))
    labels = [ctx.token_label(i) for i in range(len(scores))]
    top = ", ".join(f"{labels[i]!r}@{i} ({scores[i]:+.3f})" for i in order[:5])
    summary = [
        f"explains log p(token {ctx.token_label(position + 1)!r} | the {position + 1} tokens before it) = "
        f"{at_input:.3f}; baseline: {BASELINE} embeddings ({at_baseline:.3f})",
        f"most influential tokens: {top}",
        f"completeness gap {gap:+.4f} nats with {steps} steps (smaller is more exact)",
    ]
    shown = list(range(max(0, len(scores) - MAX_SHOWN), len(scores)))
    values = {
        "baseline": BASELINE,
        "method": "integrated gradients",
        "steps": steps,
        "position": position,
        "target_token": int(target),
        "log_prob": round(at_input, 5),
        "log_prob_baseline": round(at_baseline, 5),
        "completeness_gap": round(gap, 6),
        "scores": [round(s, 6) for s in scores],
        "tokens": labels,
    }
    figure = Figure(
        "bars",
        "attribution per prompt token (last tokens)",
        {"labels": [f"{i}: {labels[i]}" for i in shown], "values": [scores[i] for i in shown]},
        caption="integrated gradients x (embedding - zeros), summed over the embedding dimension",
    )
    return SectionResult(NAME, TITLE, "ok", summary, values, [figure])
