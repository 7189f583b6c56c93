"""What Tier 1 (`validate_model`) and Tier 2 (`analyze_model`) both do before probing a model.

Both accept a bare `nn.Module` or an adapter and a probe length; one place checks them, so the
two entry points refuse the same inputs with the same words (naming which one was called).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from model_adapter.adapter import UniversalModelAdapter
    from model_adapter.config import ModelConfig


def as_adapter(
    model: Any, config: ModelConfig | None, causal: bool, *, caller: str
) -> UniversalModelAdapter:
    """`model` itself when it is an adapter, else the adapter over it; a non-module is refused.

    Its layout is settled here, so the probe's passes never run inside a check's hooks.
    """
    from torch import nn

    from model_adapter.adapter import UniversalModelAdapter
    from model_adapter.errors import ModelValidationError

    if not isinstance(model, nn.Module):
        raise ModelValidationError(
            f"{caller} needs an nn.Module, got {type(model).__name__}; load files with "
            "model_adapter.load_model(path) first"
        )
    if not isinstance(model, UniversalModelAdapter):
        model = UniversalModelAdapter(model, config, causal=causal)
    model.settle_layout()
    return model


def resolve_seq_len(
    seq_len: int | None, max_seq_len: int | None, *, cap: int, fallback: int, minimum: int = 1
) -> int:
    """The probe length: `seq_len` checked against the model's maximum; when not given, the
    model's maximum capped at `cap` (long-context models stay quick), or `fallback` when the model
    states no maximum."""
    from model_adapter.errors import ModelValidationError

    if seq_len is None:
        return min(max_seq_len, cap) if max_seq_len else fallback
    if isinstance(seq_len, bool) or not isinstance(seq_len, int) or seq_len < minimum:
        wanted = "a positive integer" if minimum == 1 else f"an integer of at least {minimum}"
        raise ModelValidationError(f"seq_len must be {wanted}, got {seq_len!r}")
    if max_seq_len is not None and seq_len > max_seq_len:
        raise ModelValidationError(
            f"seq_len={seq_len} exceeds the model's max_seq_len={max_seq_len}; pass a value <= {max_seq_len}"
        )
    return seq_len
