"""Numerical stability: finite logits of a sane scale on random, extreme and padded inputs.

NaN/Inf logits make the loss NaN on the first step. Logits that are finite but huge at
initialisation saturate the softmax: the first steps then produce enormous losses and
gradients. Extreme ids (0 and vocab_size - 1) catch off-by-one embedding tables and special
rows; a right-padded batch catches attention masks that blank out whole rows.
"""

from __future__ import annotations

import math

from model_adapter.report import CheckResult
from model_adapter.validation.context import ValidationContext

NAME = "numerical_stability"
# Beyond these the softmax is saturated (exp(100) ~ 1e43): a sign of a mis-scaled init.
_MAX_ABS_LOGIT = 100.0
_MAX_LOGIT_STD = 10.0
# Loss on random targets against ln(vocab), the loss of a uniform prediction, where a fresh model
# belongs. Gaussian logits of std s score about ln V + s^2/2. Above 2 x ln V the model gives a
# random token a probability near 1/V^2, confidently wrong before it has seen data: a warning,
# because PyTorch's default init of a builder export with a tied head (logit std ~ sqrt(d_model))
# lands there and still trains. It fails when the loss is also more than 50 nats above ln V
# (s > 10, the saturation bound above): the first steps are then spent undoing the init, and
# small vocabularies (where 2 x ln V is only a few nats) are not failed for a modest excess.
_WARN_LOSS_RATIO = 2.0
_MAX_EXCESS_LOSS = 50.0


def _probes(ctx: ValidationContext):
    import torch

    length, top = ctx.seq_len, ctx.vocab_size - 1
    random = ctx.random_ids(ctx.batch_size, length)
    zeros = torch.zeros(1, length, dtype=torch.long, device=ctx.device)
    alternating = torch.arange(length, device=ctx.device).remainder(2).mul(top).unsqueeze(0)
    return {
        "random": random,
        "all_zero_ids": zeros,
        "all_max_ids": torch.full_like(zeros, top),
        "alternating_0_max": alternating,
    }


def check(ctx: ValidationContext) -> CheckResult:
    import torch
    import torch.nn.functional as F

    probes = _probes(ctx)
    names = list(probes)
    batch = torch.cat([probes[name] for name in names])
    logits = ctx.logits(batch).float()
    rows = {}
    start = 0
    for name in names:
        stop = start + probes[name].shape[0]
        rows[name] = logits[start:stop]
        start = stop

    padded_ids = ctx.random_ids(2, ctx.seq_len)
    mask = torch.ones_like(padded_ids)
    mask[1, max(1, ctx.seq_len - ctx.seq_len // 4) :] = 0
    padded = ctx.logits(padded_ids, mask).float()
    rows["right_padded(real positions)"] = padded[mask.bool()]

    per_probe = {}
    bad = []
    for name, probe_logits in rows.items():
        finite = bool(torch.isfinite(probe_logits).all())
        per_probe[name] = {
            "finite": finite,
            "max_abs": float(probe_logits.abs().max()) if finite else float("nan"),
            "std": float(probe_logits.std()) if finite and probe_logits.numel() > 1 else 0.0,
        }
        if not finite:
            bad.append(name)

    random = rows["random"]
    ln_vocab = math.log(ctx.vocab_size)
    values: dict = {
        "finite": not bad,
        "max_abs_logit": max(
            (p["max_abs"] for p in per_probe.values() if p["finite"]), default=float("nan")
        ),
        "logit_std": per_probe["random"]["std"],
        "loss_random_targets": float("nan"),
        "ln_vocab": ln_vocab,
        "non_finite_probes": bad,
        "probes": per_probe,
    }
    if per_probe["random"]["finite"] and ctx.seq_len > 1:
        targets = probes["random"][:, 1:]
        loss = F.cross_entropy(random[:, :-1].reshape(-1, random.shape[-1]), targets.reshape(-1))
        values["loss_random_targets"] = float(loss)

    if bad:
        return CheckResult(
            NAME,
            "failed",
            values,
            f"NaN/Inf logits on {', '.join(bad)}",
            "look for division by zero, log/sqrt of non-positive values, a missing LayerNorm, or "
            "an attention mask that blanks out whole rows (-inf everywhere -> NaN)",
        )
    loss_ratio = values["loss_random_targets"] / ln_vocab if ln_vocab > 0 else float("nan")
    values["loss_over_ln_vocab"] = loss_ratio
    if (
        loss_ratio > _WARN_LOSS_RATIO
        and values["loss_random_targets"] - ln_vocab > _MAX_EXCESS_LOSS
    ):
        return CheckResult(
            NAME,
            "failed",
            values,
            f"loss on random targets is {values['loss_random_targets']:.3g}, {loss_ratio:.2g} x ln(vocab) "
            f"{ln_vocab:.3g} (a fresh model should be near 1 x): the initial predictions are confidently "
            f"wrong (logit std {values['logit_std']:.3g})",
            "initialise embeddings/output weights smaller (e.g. normal std 0.02), drop a temperature or "
            "scale factor on the logits, or add a final LayerNorm before the output projection",
        )
    if (
        values["max_abs_logit"] > _MAX_ABS_LOGIT
        or values["logit_std"] > _MAX_LOGIT_STD
        or loss_ratio > _WARN_LOSS_RATIO
    ):
        return CheckResult(
            NAME,
            "warning",
            values,
            f"logits are large (max |logit| {values['max_abs_logit']:.3g}, std "
            f"{values['logit_std']:.3g}) or confident: loss on random targets "
            f"{values['loss_random_targets']:.3g} is {loss_ratio:.2g} x ln(vocab) {ln_vocab:.3g}",
            "initialise embeddings/output weights smaller (e.g. normal std 0.02) or scale the "
            "logits; a final LayerNorm before the output projection also helps",
        )
    return CheckResult(
        NAME,
        "passed",
        values,
        f"finite logits on random, extreme (0, {ctx.vocab_size - 1}) and padded ids; "
        f"max |logit| {values['max_abs_logit']:.3g}",
    )
