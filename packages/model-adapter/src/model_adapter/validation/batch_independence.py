"""Batch independence: changing one batch item must not change the logits of another.

A language model scores each sequence on its own. When batch items leak into each other the
training loss still falls, but every prediction depends on whatever else shares the batch, so
generation (batch 1) sees a different model. The usual cause is a sequence-first model
(`[seq, batch]`, `batch_first=False`) read as `[batch, seq]`: the adapter detects and adapts
those, so what this check still catches is a model whose layout it could not tell, or one that
mixes items on purpose (attention or normalisation over the batch dimension).
"""

from __future__ import annotations

from dataclasses import dataclass

from model_adapter.report import CheckResult
from model_adapter.validation.context import ValidationContext

NAME = "batch_independence"
_RELATIVE_TOLERANCE = 1e-4


@dataclass
class IndependenceMeasurement:
    max_abs_diff: float
    logit_scale: float
    finite: bool = True

    @property
    def independent(self) -> bool:
        return self.max_abs_diff <= _RELATIVE_TOLERANCE * max(1.0, self.logit_scale)


def measure_independence(ctx: ValidationContext, adapter=None) -> IndependenceMeasurement:
    """Change every token of batch item 0 and measure how far the other items' logits move."""
    import torch

    batch = max(2, ctx.batch_size)
    base = ctx.random_ids(batch, ctx.seq_len)
    changed = base.clone()
    changed[0] = (base[0] + ctx.random_offsets((ctx.seq_len,))) % ctx.vocab_size
    before = ctx.logits(base, adapter=adapter).float()
    after = ctx.logits(changed, adapter=adapter).float()
    if not (torch.isfinite(before).all() and torch.isfinite(after).all()):
        return IndependenceMeasurement(0.0, float("nan"), finite=False)
    diff = float((after[1:] - before[1:]).abs().max())
    return IndependenceMeasurement(diff, float(before.abs().max()))


def check(ctx: ValidationContext) -> CheckResult:
    measured = measure_independence(ctx)
    sequence_first = bool(getattr(ctx.adapter, "sequence_first", False))
    if not measured.finite:
        return CheckResult(
            NAME,
            "warning",
            {"independent": "unknown"},
            "not measurable: the logits contain NaN/Inf",
            "fix numerical_stability first, then validate again",
        )
    values = {
        "independent": measured.independent,
        "max_abs_diff": measured.max_abs_diff,
        "sequence_first": sequence_first,
    }
    layout = (
        " (read sequence-first: the adapter transposes [batch, seq] to [seq, batch])"
        if sequence_first
        else ""
    )
    if measured.independent:
        return CheckResult(
            NAME, "passed", values, f"changing one batch item leaves the others unchanged{layout}"
        )
    return CheckResult(
        NAME,
        "failed",
        values,
        f"changing batch item 0 changes the logits of the other items (max diff {measured.max_abs_diff:.3g}): "
        f"the model mixes sequences of a batch{layout}",
        "if forward takes [seq, batch] (batch_first=False), check that it does so for every layer, or pass "
        "UniversalModelAdapter(model, sequence_first=True); otherwise look for attention, pooling or "
        "normalisation over the batch dimension (BatchNorm in training, a mean over dim 0)",
    )
