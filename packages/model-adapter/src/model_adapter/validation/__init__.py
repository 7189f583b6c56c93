"""Tier 1 validation: the checks a model must pass before anyone spends GPU time training it.

`validate_model` wraps the user's model in a `UniversalModelAdapter` (or takes an adapter),
runs one check per module of this subpackage and returns a `ValidationReport`. Each check
reports passed / warning / failed with its measurements, a message and a hint. Validation
leaves the model as it found it: train/eval mode, gradients and the global RNG are restored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from model_adapter._probe_setup import prepare_adapter, preserved_state, resolve_seq_len
from model_adapter.report import CheckResult, ValidationReport
from model_adapter.validation import (
    batch_independence,
    causality,
    gradients,
    initialisation,
    memory,
    numerics,
    shapes,
    speed,
    vocabulary,
)
from model_adapter.validation.context import ValidationContext

if TYPE_CHECKING:
    import torch
    from torch import nn

    from model_adapter.config import ModelConfig

__all__ = ["CHECKS", "QUICK_CHECKS", "validate_model"]

logger = logging.getLogger(__name__)

# Order matters for reading the report: "does it run" first, costs last.
CHECKS: dict[str, Callable[[ValidationContext], CheckResult]] = {
    shapes.NAME: shapes.check,
    vocabulary.NAME: vocabulary.check,
    batch_independence.NAME: batch_independence.check,
    causality.NAME: causality.check,
    numerics.NAME: numerics.check,
    gradients.NAME: gradients.check,
    initialisation.NAME: initialisation.check,
    memory.NAME: memory.check,
    speed.NAME: speed.check,
}
# What the training pipeline runs before every training: cheap, and each one can stop a bad run.
QUICK_CHECKS = (
    shapes.NAME,
    vocabulary.NAME,
    batch_independence.NAME,
    causality.NAME,
    numerics.NAME,
    gradients.NAME,
    initialisation.NAME,
)
DEFAULT_MAX_SEQ_LEN = 256  # default probe length cap, so that long-context models stay quick


def validate_model(
    model: nn.Module,
    config: ModelConfig | None = None,
    *,
    seq_len: int | None = None,
    batch_size: int = 2,
    causal: bool = True,
    quick: bool = False,
    device: str | torch.device | None = None,
) -> ValidationReport:
    """Run Tier 1 validation and return the report (it never raises for a failing check).

    `model` is the user's module (wrapped as `UniversalModelAdapter(model, config,
    causal=causal)`) or an adapter, validated as it is. `causal=True` validates the model with
    the adapter's causal repair and reports whether the model needed it; `causal=False`
    validates the raw model, so a model that sees the future fails `causal_leak`.
    `seq_len` defaults to the model's max_seq_len (at most 256); `quick=True` skips the
    memory and speed measurements and the longest-shape probes. `device` moves the model
    there first; by default it stays where it is.

    Raises `ModelValidationError` for bad arguments (seq_len beyond max_seq_len, batch_size < 1)
    and the adapter's own errors when the model cannot be wrapped at all.
    """
    adapter, resolved_device = prepare_adapter(
        model, config, causal, caller="validate_model", batch_size=batch_size, device=device
    )
    max_seq_len = getattr(adapter, "max_seq_len", None)
    vocab_size = int(adapter.vocab_size)
    length = resolve_seq_len(seq_len, max_seq_len, cap=DEFAULT_MAX_SEQ_LEN, fallback=64)

    ctx = ValidationContext(
        adapter=adapter,
        vocab_size=vocab_size,
        max_seq_len=max_seq_len,
        seq_len=length,
        batch_size=batch_size,
        causal=causal,
        quick=quick,
        device=resolved_device,
    )
    names = QUICK_CHECKS if quick else tuple(CHECKS)
    config_obj = getattr(adapter, "config", None)
    model_name = (
        getattr(config_obj, "name", None) or type(getattr(adapter, "model", adapter)).__name__
    )
    started = time.perf_counter()
    results = []
    with preserved_state(adapter, resolved_device, seed=0):
        for name in names:
            results.append(_run_check(name, ctx))
    return ValidationReport(
        model_name=model_name,
        checks=results,
        settings={
            "seq_len": length,
            "batch_size": batch_size,
            "causal": causal,
            "adapter_causal": ctx.adapter_causal,
            "quick": quick,
            "device": str(resolved_device),
            "vocab_size": vocab_size,
            "max_seq_len": max_seq_len,
        },
        duration_s=time.perf_counter() - started,
    )


def _run_check(name: str, ctx: ValidationContext) -> CheckResult:
    """One check; a model that crashes inside it fails that check, the others still run."""
    from model_adapter.errors import ModelAdapterError

    started = time.perf_counter()
    try:
        result = CHECKS[name](ctx)
    except ModelAdapterError as exc:  # the adapter refused what the model did: say why
        result = CheckResult(
            name,
            "failed",
            {"error": type(exc).__name__},
            str(exc),
            "the adapter enforces the model contract (input_ids [B, T] -> logits [B, T, "
            "vocab_size]); fix what the message names",
        )
    except Exception as exc:  # the model's crash is the finding; the traceback goes to the log
        logger.warning("check %s: the model raised %s", name, type(exc).__name__, exc_info=True)
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        result = CheckResult(
            name,
            "failed",
            {"error": type(exc).__name__},
            f"the model raised {type(exc).__name__}: {first_line}",
            "run the model once by hand with this input to see the full traceback "
            "(logged at WARNING by model_adapter.validation)",
        )
    result.duration_s = time.perf_counter() - started
    return result
