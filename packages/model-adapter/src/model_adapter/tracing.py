"""Whether the adapter runs inside a tracer (TorchScript, ONNX, `torch.export`, `torch.compile`).

Eager-only shortcuts (the sequence-first probe, stopping a forward at the logits) must not run
there: a tracer records or fakes every tensor operation, so a probe's answer would be baked into
the graph or be unreadable, and an exception used as control flow would break the trace.
"""

from __future__ import annotations

import torch

__all__ = ["is_tracing"]


def is_tracing() -> bool:
    """True inside `torch.jit.trace`, `torch.onnx.export`, `torch.export` or `torch.compile`."""
    return bool(
        torch.jit.is_tracing()
        or torch.onnx.is_in_onnx_export()
        or torch.compiler.is_compiling()
        or torch.compiler.is_exporting()
    )
