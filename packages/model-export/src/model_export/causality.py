"""Is the model being bundled causal? A masked (bidirectional) LM must not ship as a generator.

Generation feeds a model its own output one token at a time and reads the last position; a
model whose logits at a position depend on later tokens (a BERT-style masked LM, attention the
adapter could not mask) was never trained for that, and its continuations mean nothing. The
probe is model-adapter's own Tier 1 causal-leak measurement (change later tokens, watch earlier
logits), run on the model as it will be exported (the adapter, with any mask it injects).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["CausalityProbe", "probe_causality"]


@dataclass(frozen=True)
class CausalityProbe:
    """Whether the model is causal and, when it is not, where it sees the future."""

    causal: bool
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"causal": self.causal, "detail": self.detail}


def probe_causality(model: Any, vocab_size: int, max_seq_len: int | None) -> CausalityProbe:
    """Measure on `model` (an adapter or any `ids -> logits` module) whether later tokens move earlier logits."""
    import torch

    from model_adapter.validation.causality import measure_leak
    from model_adapter.validation.context import ValidationContext

    first = next(model.parameters(), None)
    ctx = ValidationContext(
        adapter=model,
        vocab_size=vocab_size,
        max_seq_len=max_seq_len,
        seq_len=min(16, max_seq_len or 16),
        batch_size=1,
        causal=True,
        quick=True,
        device=first.device if first is not None else torch.device("cpu"),
    )
    if ctx.seq_len < 2:
        return CausalityProbe(True)
    leak = measure_leak(ctx)
    if not leak.finite or not leak.leaks:
        return CausalityProbe(True)
    return CausalityProbe(
        False,
        f"logits at position {leak.affected_position} change when token {leak.changed_token} "
        f"changes (max diff {leak.max_abs_diff:.3g})",
    )
