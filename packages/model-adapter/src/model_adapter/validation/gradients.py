"""Gradient flow: one training step's loss reaches every trainable parameter, finitely.

A parameter without a gradient is dead weight (a layer built but never called, a projection
replaced by a tied one); an all-zero gradient means something upstream blocks the signal; a
NaN gradient destroys the weights on the first optimizer step. Each is named, so the user knows
which layer to look at.
"""

from __future__ import annotations

from model_adapter.report import CheckResult
from model_adapter.validation.context import (
    ValidationContext,
    name_list,
    named_groups,
    short_name,
)

NAME = "gradient_flow"


def check(ctx: ValidationContext) -> CheckResult:
    import torch
    import torch.nn.functional as F

    adapter = ctx.adapter
    parameters = list(adapter.named_parameters())
    trainable = [(name, p) for name, p in parameters if p.requires_grad]
    frozen = [short_name(name) for name, p in parameters if not p.requires_grad]
    tied = _tied_groups(adapter)
    if not trainable:
        return CheckResult(
            NAME,
            "failed",
            {"trainable_tensors": 0, "frozen": frozen},
            "the model has no trainable parameter",
            "set requires_grad=True on the weights to train",
        )

    for _, p in trainable:
        p.grad = None
    adapter.train()
    ids = ctx.random_ids(ctx.batch_size, ctx.seq_len)
    logits = adapter(ids)
    if not logits.requires_grad:
        return CheckResult(
            NAME,
            "failed",
            {"trainable_tensors": len(trainable)},
            "the logits do not depend on any trainable parameter",
            "remove torch.no_grad()/.detach() from the model's forward",
        )
    if ctx.seq_len > 1:
        predictions, targets = logits[:, :-1], ids[:, 1:]
    else:
        predictions, targets = logits, ids
    loss = F.cross_entropy(
        predictions.reshape(-1, predictions.shape[-1]).float(), targets.reshape(-1)
    )
    loss.backward()

    unused, zero, non_finite, norms = [], [], [], []
    for name, p in trainable:
        if p.grad is None:
            unused.append(short_name(name))
        elif not torch.isfinite(p.grad).all():
            non_finite.append(short_name(name))
        elif not p.grad.any():
            zero.append(short_name(name))
        else:
            norms.append(float(p.grad.float().norm()))
    for _, p in trainable:
        p.grad = None

    values: dict = {
        "with_gradient": f"{len(norms)}/{len(trainable)}",
        "loss": float(loss.detach()),
        "grad_norm_min": min(norms) if norms else 0.0,
        "grad_norm_max": max(norms) if norms else 0.0,
        "trainable_tensors": len(trainable),
        "unused": unused,
        "zero_gradient": zero,
        "non_finite_gradient": non_finite,
        "frozen": frozen,
        "tied": tied,
    }
    if non_finite or not torch.isfinite(loss):
        culprits = non_finite or ["the loss"]
        return CheckResult(
            NAME,
            "failed",
            values,
            f"NaN/Inf gradient in {name_list(culprits)}",
            "look for log/sqrt/division of values that can reach 0 and for missing normalisation; "
            "see numerical_stability",
        )
    if unused or zero:
        parts = named_groups(
            [("no gradient (unused) for ", unused), ("all-zero gradient for ", zero)]
        )
        return CheckResult(
            NAME,
            "warning",
            values,
            "; ".join(parts),
            "remove layers the forward never calls (or freeze them with requires_grad=False); a "
            "zero gradient means the signal is blocked upstream (a zero-initialised layer, a "
            "detached tensor)",
        )
    notes = [f"{len(tied)} tied group(s) counted once"] if tied else []
    notes += named_groups([("frozen: ", frozen)])
    note = f" ({'; '.join(notes)})" if notes else ""
    return CheckResult(
        NAME,
        "passed",
        values,
        f"all {len(trainable)} trainable tensors get a finite, non-zero gradient{note}",
    )


def _tied_groups(module) -> list[str]:
    """`a = b` for parameters shared under several names (tied embeddings)."""
    by_id: dict[int, list[str]] = {}
    for name, p in module.named_parameters(remove_duplicate=False):
        by_id.setdefault(id(p), []).append(short_name(name))
    return [" = ".join(names) for names in by_id.values() if len(names) > 1]
