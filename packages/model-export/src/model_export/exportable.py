"""A thin wrapper that gives every language model the one signature the exporters trace.

Exporters need a module whose forward takes tensors and returns one tensor. User models return
tensors, tuples, dicts or objects with `.logits`; this wrapper picks the logits out so that the
exported graph has exactly one output named `logits`.
"""

from __future__ import annotations

import torch
from torch import nn

from model_adapter import extract_logits


class ExportableLM(nn.Module):
    """`forward(input_ids[, attention_mask]) -> logits[B, T, V]` over any language model.

    Args:
        model: the model; called as `model(input_ids)` or `model(input_ids, attention_mask)`.
        with_attention_mask: export `attention_mask` as a second graph input.
    """

    def __init__(self, model: nn.Module, *, with_attention_mask: bool = False) -> None:
        super().__init__()
        self.model = model
        self.with_attention_mask = with_attention_mask

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        if self.with_attention_mask and attention_mask is not None:
            return extract_logits(self.model(input_ids, attention_mask))
        return extract_logits(self.model(input_ids))


def as_exportable(model: nn.Module, *, with_attention_mask: bool = False) -> ExportableLM:
    """Wrap `model` (once) and put it in eval mode: exports never include dropout."""
    wrapped = (
        model
        if isinstance(model, ExportableLM)
        else ExportableLM(model, with_attention_mask=with_attention_mask)
    )
    return wrapped.eval()


def _declared(model: nn.Module, name: str) -> int | None:
    """A positive int the model (or the module it wraps) declares as `.name` or `.config.name`."""
    for holder in (model, getattr(model, "model", None)):
        if holder is None:
            continue
        value = getattr(holder, name, None) or getattr(getattr(holder, "config", None), name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def infer_vocab_size(model: nn.Module, vocab_size: int | None = None) -> int:
    """`vocab_size` if given, else the model's `.vocab_size` / `.config.vocab_size`, else a probe call."""
    if vocab_size:
        return int(vocab_size)
    declared = _declared(model, "vocab_size")
    if declared is not None:
        return declared
    with torch.no_grad():
        probe = torch.zeros(1, 2, dtype=torch.long)
        return int(as_exportable(model)(probe).shape[-1])


def infer_max_seq_len(model: nn.Module, max_seq_len: int | None = None) -> int | None:
    """`max_seq_len` if given, else the model's `.max_seq_len` / `.config.max_seq_len`, else None."""
    if max_seq_len:
        return int(max_seq_len)
    return _declared(model, "max_seq_len")
