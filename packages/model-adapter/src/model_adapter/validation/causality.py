"""Causal leak: changing a later token must not change the logits at any earlier position.

A causal language model that can see the future learns to copy the next token: its loss falls
towards zero and it learns nothing usable. Every builder export calls attention without a mask,
so this is the check that stops such a model before training. It measures the model as it will
run (the adapter under test) and, for the diagnosis, the other variant over the same weights:
the raw model (causal=False) or the adapter's repair (causal=True).
"""

from __future__ import annotations

from dataclasses import dataclass

from model_adapter.report import CheckResult
from model_adapter.validation.context import ValidationContext

NAME = "causal_leak"
# Masked attention gives bit-identical earlier logits; this only absorbs kernel reordering.
_RELATIVE_TOLERANCE = 1e-4

_MASK_IN_MODEL_HINT = (
    "the adapter could not mask this model's attention: make it causal inside the model, e.g. "
    "F.scaled_dot_product_attention(q, k, v, is_causal=True) or pass "
    "attn_mask=nn.Transformer.generate_square_subsequent_mask(T) to nn.MultiheadAttention"
)


@dataclass
class LeakMeasurement:
    max_abs_diff: float
    logit_scale: float
    changed_token: int  # first changed position of the probe that leaked most
    affected_position: int  # earliest earlier position whose logits moved (-1: none)
    finite: bool = True

    @property
    def leaks(self) -> bool:
        return self.max_abs_diff > _RELATIVE_TOLERANCE * max(1.0, self.logit_scale)


def measure_leak(ctx: ValidationContext, adapter=None) -> LeakMeasurement:
    """Change every token from position t on (for a few t) and compare logits before t."""
    import torch

    length = ctx.seq_len
    cuts = sorted({1, length // 2, length - 1} - {0})
    base = ctx.random_ids(1, length)
    changed = base.repeat(len(cuts), 1)
    for row, cut in enumerate(cuts):
        offsets = ctx.random_offsets((length - cut,))
        changed[row, cut:] = (base[0, cut:] + offsets) % ctx.vocab_size
    before = ctx.logits(base, adapter=adapter).float()[0]
    after = ctx.logits(changed, adapter=adapter).float()
    if not (torch.isfinite(before).all() and torch.isfinite(after).all()):
        return LeakMeasurement(0.0, float("nan"), cuts[0], -1, finite=False)

    worst = LeakMeasurement(0.0, float(before.abs().max()), cuts[0], -1)
    for row, cut in enumerate(cuts):
        diff = (after[row, :cut] - before[:cut]).abs()
        per_position = diff.amax(dim=-1)
        row_max = float(per_position.max())
        if row_max > worst.max_abs_diff:
            moved = torch.nonzero(per_position > _RELATIVE_TOLERANCE * max(1.0, worst.logit_scale))
            first = int(moved[0, 0]) if len(moved) else -1
            worst = LeakMeasurement(row_max, worst.logit_scale, cut, first)
    return worst


def check(ctx: ValidationContext) -> CheckResult:
    if ctx.seq_len < 2:
        return CheckResult(
            NAME,
            "warning",
            {"seq_len": ctx.seq_len},
            "not probed: needs seq_len >= 2",
            "validate with seq_len >= 2",
        )
    measured = measure_leak(ctx)
    if not measured.finite:
        return CheckResult(
            NAME,
            "warning",
            {"leaks": "unknown"},
            "not measurable: the logits contain NaN/Inf",
            "fix numerical_stability first, then validate again",
        )
    values: dict = {"leaks": measured.leaks}
    if ctx.adapter_causal:
        values["raw_model_leaks"] = None  # measured below
    elif measured.leaks:
        values["repair_fixes_it"] = None  # measured below
    values["max_abs_diff"] = measured.max_abs_diff
    values["adapter_causal"] = ctx.adapter_causal
    if measured.leaks:
        values["changed_token"] = measured.changed_token
        values["affected_position"] = measured.affected_position
    where = (
        f"logits at position {measured.affected_position} change when token "
        f"{measured.changed_token} changes (max diff {measured.max_abs_diff:.3g})"
    )

    if measured.leaks:
        from model_adapter.validation.batch_independence import measure_independence

        mixing = measure_independence(ctx)
        if mixing.finite and not mixing.independent:
            return CheckResult(
                NAME,
                "failed",
                values,
                f"{where}, but the cause is not attention: the model mixes the items of a batch "
                "(see batch_independence)",
                "fix batch_independence first (a [seq, batch] model read as [batch, seq]?), then validate again",
            )
    if ctx.adapter_causal:
        raw = measure_leak(ctx, ctx.adapter_variant(causal=False))
        values["raw_model_leaks"] = raw.leaks
        values["raw_max_abs_diff"] = raw.max_abs_diff
        if measured.leaks:
            return CheckResult(
                NAME,
                "failed",
                values,
                f"sees the future even with the adapter's causal mask: {where}",
                _MASK_IN_MODEL_HINT,
            )
        if raw.leaks:
            return CheckResult(
                NAME,
                "passed",
                values,
                "the model as written attends to future tokens; the adapter's causal mask "
                "repairs it (no leak once repaired)",
            )
        return CheckResult(NAME, "passed", values, "no later token changes earlier logits")

    if not measured.leaks:
        return CheckResult(
            NAME,
            "passed",
            values,
            "no later token changes earlier logits (causal without the adapter's mask)",
        )
    repaired = measure_leak(ctx, ctx.adapter_variant(causal=True))
    values["repair_fixes_it"] = not repaired.leaks
    if repaired.leaks:
        hint = _MASK_IN_MODEL_HINT
    else:
        hint = (
            "pass causal=True (validate_model(model) / UniversalModelAdapter(model, causal=True); "
            "CLI: drop --no-causal): the adapter's causal mask fixes this model"
        )
    return CheckResult(
        NAME,
        "failed",
        values,
        f"sees the future (unmasked attention?): {where}; trained as a causal LM it learns nothing usable",
        hint,
    )
