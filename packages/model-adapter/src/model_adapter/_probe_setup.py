"""What Tier 1 (`validate_model`) and Tier 2 (`analyze_model`) both do around probing a model.

Both accept a bare `nn.Module` or an adapter, a batch size and a probe length; one place checks
them, so the two entry points refuse the same inputs with the same words (naming which one was
called), and one context manager leaves the model as it was found.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from torch import nn

    from model_adapter.adapter import UniversalModelAdapter
    from model_adapter.config import ModelConfig


def prepare_adapter(
    model: Any,
    config: ModelConfig | None,
    causal: bool,
    *,
    caller: str,
    batch_size: int,
    device: str | torch.device | None,
) -> tuple[UniversalModelAdapter, torch.device]:
    """The adapter to probe (`model` itself when it is one) on `device` (where it is when None),
    its layout settled, and the device its weights are on. A non-module or a batch_size that is
    not a positive integer is refused.

    The layout is settled here so that the sequence-first probe's passes never run inside a
    check's hooks.
    """
    import torch
    from torch import nn

    from model_adapter.adapter import UniversalModelAdapter
    from model_adapter.errors import ModelValidationError

    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ModelValidationError(f"batch_size must be a positive integer, got {batch_size!r}")
    if not isinstance(model, nn.Module):
        raise ModelValidationError(
            f"{caller} needs an nn.Module, got {type(model).__name__}; load files with "
            "model_adapter.load_model(path) first"
        )
    adapter = model
    if not isinstance(adapter, UniversalModelAdapter):
        adapter = UniversalModelAdapter(model, config, causal=causal)
    if device is not None:
        adapter.to(device)
    adapter.settle_layout()
    first = next(adapter.parameters(), None)
    return adapter, first.device if first is not None else torch.device("cpu")


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


@contextlib.contextmanager
def preserved_state(adapter: nn.Module, device: torch.device, seed: int) -> Iterator[None]:
    """Seed the global RNG with `seed`; afterwards restore it, every module's train/eval flag
    and every .grad, so probing leaves the user's model as it found it."""
    import torch

    modes = [(module, module.training) for module in adapter.modules()]
    grads = [(p, p.grad) for p in adapter.parameters()]
    rng_devices = [device] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=rng_devices):
            torch.manual_seed(seed)
            yield
    finally:
        for module, training in modes:
            module.training = training
        for p, grad in grads:
            p.grad = grad
