"""Fixed-length ONNX: the honest fallback for models whose graph bakes in the traced length.

A Python loop over time (a state-space scan), a mask cached by length, or a library check
that reads tensor values (`nn.TransformerEncoder` comparing its mask with a causal one) make
both exporters freeze the sequence length, so parity fails at every length but the traced one.
Such a model can still ship as ONNX at one fixed shape `[1, N]`: a causal model's logits at a
position never depend on later tokens, so a prompt shorter than N is right-padded and the
logits of its real positions read back, and a longer one is left-truncated to its last N
tokens. `fixed_length_logits_fn` does exactly what the bundle's `inference.py` does, so the
parity and generation checks measure the model the way it will be used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import onnxruntime

__all__ = ["PAD_ID", "fixed_length_logits_fn", "fixed_window"]

PAD_ID = 0
"""The id right-padding uses; any id works for a causal model (real positions never see it)."""


def fixed_window(ids: list[int], length: int) -> tuple[np.ndarray, int]:
    """`([1, length] ids, real tokens)`: the last `length` ids, right-padded with `PAD_ID`."""
    window = list(ids[-length:])
    real = len(window)
    return np.asarray([window + [PAD_ID] * (length - real)], dtype=np.int64), real


def fixed_length_logits_fn(session: onnxruntime.InferenceSession, length: int):
    """`ids [B, T] -> logits [B, T', V]` through a `[1, length]` ONNX graph, row by row.

    T' is min(T, length): a longer input is left-truncated, as generation does.
    """
    name = session.get_inputs()[0].name

    def run(ids: np.ndarray) -> np.ndarray:
        rows = []
        for row in np.asarray(ids, dtype=np.int64):
            window, real = fixed_window(row.tolist(), length)
            rows.append(session.run(None, {name: window})[0][0, :real])
        return np.stack(rows)

    return run
