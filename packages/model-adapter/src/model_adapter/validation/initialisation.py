"""Parameter initialisation: per-tensor statistics, and the weights that cannot train well.

An all-zero weight matrix gives every unit the same gradient (it never breaks symmetry, and it
blocks the signal to the layers below); a constant one does the same; a tensor with far larger
values than its neighbours dominates the first steps. Zero biases and all-one norm weights are
normal and are not flagged (only matrices, ndim >= 2, are judged).
"""

from __future__ import annotations

import statistics
from typing import Any

from model_adapter.report import CheckResult
from model_adapter.validation.context import (
    ValidationContext,
    name_list,
    named_groups,
    short_name,
)

NAME = "parameter_init"
_LARGE_STD = 2.0  # nn.Embedding's default N(0, 1) is fine; beyond 2 the logits explode
_SPREAD_FACTOR = 50.0  # a matrix whose std is 50x the median matrix std is an outlier
_HEAVY_TAIL_SIGMAS = 15.0  # a value 15 std away from the mean is not from any usual init


def check(ctx: ValidationContext) -> CheckResult:
    import torch

    layers: list[dict[str, Any]] = []
    non_finite: list[str] = []
    zero: list[str] = []
    constant: list[str] = []
    heavy_tail: list[str] = []
    with torch.no_grad():
        for name, p in ctx.adapter.named_parameters():
            data = p.detach().float()
            label = short_name(name)
            finite = bool(torch.isfinite(data).all())
            entry: dict[str, Any] = {
                "name": label,
                "shape": list(p.shape),
                "mean": float(data.mean()) if finite and data.numel() else float("nan"),
                "std": float(data.std()) if finite and data.numel() > 1 else 0.0,
                "abs_max": float(data.abs().max()) if finite and data.numel() else float("nan"),
                "zero_fraction": float((data == 0).float().mean()) if data.numel() else 0.0,
            }
            layers.append(entry)
            if not finite:
                non_finite.append(label)
            elif p.ndim >= 2 and data.numel() > 1:
                if entry["zero_fraction"] == 1.0:
                    zero.append(label)
                elif entry["std"] == 0.0:
                    constant.append(label)
                elif entry["abs_max"] - abs(entry["mean"]) > _HEAVY_TAIL_SIGMAS * entry["std"]:
                    heavy_tail.append(label)

    matrix_stds = [e["std"] for e in layers if len(e["shape"]) >= 2 and e["std"] > 0]
    median_std = statistics.median(matrix_stds) if matrix_stds else 0.0
    large = [
        e["name"]
        for e in layers
        if len(e["shape"]) >= 2
        and (e["std"] > _LARGE_STD or (median_std > 0 and e["std"] > _SPREAD_FACTOR * median_std))
    ]
    outliers = sorted(set(large) | set(heavy_tail), key=[e["name"] for e in layers].index)

    values: dict = {
        "tensors": len(layers),
        "flagged": len(non_finite) + len(zero) + len(constant) + len(outliers),
        "median_matrix_std": median_std,
        "non_finite": non_finite,
        "all_zero": zero,
        "constant": constant,
        "outliers": outliers,
        "layers": layers,
    }
    if non_finite:
        return CheckResult(
            NAME,
            "failed",
            values,
            f"NaN/Inf weights in {name_list(non_finite)}",
            "re-initialise these tensors (or load an uncorrupted checkpoint)",
        )
    problems = named_groups(
        [
            ("all-zero weights: ", zero),
            ("constant weights: ", constant),
            ("outlier scale: ", outliers),
        ]
    )
    if problems:
        return CheckResult(
            NAME,
            "warning",
            values,
            "; ".join(problems),
            "initialise weight matrices randomly (e.g. nn.init.normal_(w, std=0.02)); zero "
            "matrices never break symmetry; oversized ones dominate the first steps",
        )
    return CheckResult(
        NAME,
        "passed",
        values,
        f"{len(layers)} tensors, median matrix std {median_std:.3g}, no zero or outlier weights",
    )
