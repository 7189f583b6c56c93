"""Which models could read their input sequence-first (`[T, B]`), told without running them.

The adapter probes a model's layout with a few tiny forward passes (see
`UniversalModelAdapter`). Most models cannot be sequence-first, so the probe is skipped for
them or put off until the first call; only models built from PyTorch's sequence-first layers
are probed when the adapter is built, because an exporter may trace the adapter before it ever
runs eagerly, and a probe cannot run inside a trace.
"""

from __future__ import annotations

from torch import nn

__all__ = ["has_sequence_first_layers", "is_transformers_model"]


def is_transformers_model(model: nn.Module) -> bool:
    """Whether `model` is a Hugging Face `PreTrainedModel` (whose `input_ids` are `[batch, seq]`).

    Told from the class hierarchy, so transformers is never imported here.
    """
    return any(
        cls.__name__ == "PreTrainedModel" and cls.__module__.startswith("transformers")
        for cls in type(model).__mro__
    )


def has_sequence_first_layers(model: nn.Module) -> bool:
    """Whether `model` holds a PyTorch layer that reads `[T, B]`: an RNN/LSTM/GRU or an
    `nn.MultiheadAttention` (also inside `nn.Transformer*` layers) left at `batch_first=False`.

    Such a model may or may not transpose before those layers; only a probe can tell.
    """
    return any(
        isinstance(module, (nn.RNNBase, nn.MultiheadAttention))
        and not getattr(module, "batch_first", False)
        for module in model.modules()
    )
