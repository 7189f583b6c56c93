"""Capture attention probabilities and activations from any model, without changing it.

Two routes, both active only inside `capture(...)`:

- `nn.MultiheadAttention`: a forward pre-hook asks for the per-head weights
  (`need_weights=True, average_attn_weights=False`) and a forward hook records them, then hands
  the caller what it asked for (`None` as weights when it had not asked), so the model's code
  sees the same outputs as without analysis.
- `torch.nn.functional.scaled_dot_product_attention`, wherever it is called (hand-written
  attention, nanoGPT, Hugging Face's "sdpa" path): a `TorchFunctionMode` sees every call,
  records q, k, the mask, `is_causal`, `scale` and `enable_gqa`, recomputes the probabilities
  `softmax(q k^T * scale + mask)` on the side and lets the real call run unchanged.

The same mode records which units of activation functions (`F.relu`, `F.gelu`, `F.silu`, ...
and the `nn` modules built on them) are ever positive, for the dead-unit count.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from torch import nn

    from model_adapter.analysis.probe import ModuleStack

__all__ = ["AttentionRecord", "CaptureResult", "capture", "sdpa_probabilities"]

_MHA_NEED_WEIGHTS_INDEX = (
    4  # MultiheadAttention.forward(query, key, value, key_padding_mask, need_weights, ...)
)


@dataclass
class AttentionRecord:
    """One attention call: probabilities `[B, H, L, S]` (float32, CPU) and where they came from."""

    name: str
    source: str  # "nn.MultiheadAttention" | "scaled_dot_product_attention"
    probabilities: torch.Tensor
    is_causal: bool = False
    has_mask: bool = False


@dataclass
class CaptureResult:
    attention: list[AttentionRecord] = field(default_factory=list)
    # activation call name -> (bool [units] ever positive, number of values seen per unit)
    activations: dict[str, list[Any]] = field(default_factory=dict)


def sdpa_probabilities(
    query: torch.Tensor,
    key: torch.Tensor,
    attn_mask: torch.Tensor | None = None,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> torch.Tensor:
    """The attention probabilities that `F.scaled_dot_product_attention` applies to `value`.

    Follows the reference implementation in torch's documentation: scale defaults to
    1/sqrt(E), `is_causal` is a top-left lower-triangular mask, a boolean mask marks the
    positions that may be attended, a float mask is added to the scores; with `enable_gqa`
    (or fewer key heads than query heads) the key heads are repeated.
    """
    import torch

    q = query.detach().float()
    k = key.detach().float()
    if (
        k.dim() == q.dim()
        and k.dim() >= 3
        and k.shape[-3] != q.shape[-3]
        and (enable_gqa or q.shape[-3] % k.shape[-3] == 0)
    ):
        k = k.repeat_interleave(q.shape[-3] // k.shape[-3], dim=-3)
    factor = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    scores = torch.matmul(q, k.transpose(-2, -1)) * factor
    length, source_length = scores.shape[-2], scores.shape[-1]
    if is_causal:
        allowed = torch.ones(length, source_length, dtype=torch.bool, device=scores.device).tril()
        scores = scores.masked_fill(~allowed, float("-inf"))
    if attn_mask is not None:
        mask = attn_mask.detach()
        if mask.dtype == torch.bool:
            scores = scores.masked_fill(~mask, float("-inf"))
        else:
            scores = scores + mask.float()
    probabilities = torch.softmax(scores, dim=-1)
    return torch.nan_to_num(probabilities, nan=0.0)  # rows with every key masked attend nowhere


def _as_bhls(probabilities: torch.Tensor) -> torch.Tensor:
    """Any `[..., L, S]` probabilities as `[B, H, L, S]`."""
    p = probabilities
    if p.dim() == 2:
        return p[None, None]
    if p.dim() == 3:
        return p[:, None]
    if p.dim() > 4:
        return p.reshape(-1, p.shape[-3], p.shape[-2], p.shape[-1])
    return p


_ACTIVATION_NAMES = (
    "relu",
    "gelu",
    "silu",
    "mish",
    "relu6",
    "leaky_relu",
    "elu",
    "selu",
    "celu",
    "hardswish",
)


def _activation_functions() -> dict[Any, str]:
    import torch
    import torch.nn.functional as F

    found: dict[Any, str] = {}
    for name in _ACTIVATION_NAMES:
        for owner in (F, torch, torch.Tensor):
            function = getattr(owner, name, None)
            if function is not None:
                found[function] = name
    return found


@contextlib.contextmanager
def capture(
    model: nn.Module,
    stack: ModuleStack,
    *,
    attention: bool = True,
    activations: bool = False,
    max_records: int = 256,
) -> Iterator[CaptureResult]:
    """Record attention probabilities (and activation use) of every forward run inside the block."""
    import torch
    import torch.nn.functional as F
    from torch import nn
    from torch.overrides import TorchFunctionMode

    result = CaptureResult()
    inside_mha = [0]
    activation_functions = _activation_functions() if activations else {}

    class _Recorder(TorchFunctionMode):
        def __torch_function__(
            self,
            func: Any,
            types: Any,
            args: tuple[Any, ...] = (),
            kwargs: dict[str, Any] | None = None,
        ) -> Any:
            kwargs = kwargs or {}
            output = func(*args, **kwargs)
            if attention and func is F.scaled_dot_product_attention and not inside_mha[0]:
                _record_sdpa(args, kwargs)
            elif (
                func in activation_functions
                and isinstance(output, torch.Tensor)
                and output.dim() >= 1
            ):
                _record_activation(activation_functions[func], output)
            return output

    def _record_sdpa(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if len(result.attention) >= max_records:
            return
        names = ("query", "key", "value", "attn_mask", "dropout_p", "is_causal")
        bound = dict(zip(names, args))
        bound.update(kwargs)
        query, key = bound.get("query"), bound.get("key")
        if not isinstance(query, torch.Tensor) or not isinstance(key, torch.Tensor):
            return
        mask = bound.get("attn_mask")
        probabilities = sdpa_probabilities(
            query,
            key,
            mask if isinstance(mask, torch.Tensor) else None,
            bool(bound.get("is_causal", False)),
            bound.get("scale"),
            bool(bound.get("enable_gqa", False)),
        )
        result.attention.append(
            AttentionRecord(
                name=stack.unique(stack.current()),
                source="scaled_dot_product_attention",
                probabilities=_as_bhls(probabilities).cpu(),
                is_causal=bool(bound.get("is_causal", False)),
                has_mask=isinstance(mask, torch.Tensor),
            )
        )

    def _record_activation(kind: str, output: torch.Tensor) -> None:
        name = f"{stack.current()} ({kind})"
        positive = (output.detach() > 0).reshape(-1, output.shape[-1]).any(dim=0).cpu()
        seen = output.numel() // output.shape[-1]
        if name in result.activations:
            previous, count = result.activations[name]
            if previous.shape == positive.shape:
                result.activations[name] = [previous | positive, count + seen]
            return
        result.activations[name] = [positive, seen]

    names = {module: name or "(model)" for name, module in model.named_modules()}
    handles = []
    if attention:

        def before(
            module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]
        ) -> tuple[tuple[Any, ...], dict[str, Any]]:
            inside_mha[0] += 1
            kwargs = dict(kwargs)
            args = tuple(args)
            if len(args) > _MHA_NEED_WEIGHTS_INDEX:
                asked = bool(args[_MHA_NEED_WEIGHTS_INDEX])
                args = (*args[:_MHA_NEED_WEIGHTS_INDEX], True, *args[_MHA_NEED_WEIGHTS_INDEX + 1 :])
            else:
                asked = bool(kwargs.get("need_weights", True))
                kwargs["need_weights"] = True
            asked_average = bool(kwargs.get("average_attn_weights", True))
            kwargs["average_attn_weights"] = False
            module.__dict__["_model_adapter_analysis_asked"] = (asked, asked_average)
            return args, kwargs

        def after(module: nn.Module, args: tuple[Any, ...], output: Any) -> Any:
            inside_mha[0] = max(0, inside_mha[0] - 1)
            asked, asked_average = module.__dict__.pop(
                "_model_adapter_analysis_asked", (True, True)
            )
            if (
                not isinstance(output, tuple)
                or len(output) != 2
                or not isinstance(output[1], torch.Tensor)
            ):
                return None
            weights = output[1]
            if len(result.attention) < max_records:
                result.attention.append(
                    AttentionRecord(
                        name=stack.unique(names.get(module, type(module).__name__)),
                        source="nn.MultiheadAttention",
                        probabilities=_as_bhls(weights.detach().float()).cpu(),
                    )
                )
            if not asked:
                return (output[0], None)
            if asked_average:
                return (output[0], weights.mean(dim=-3) if weights.dim() == 4 else weights)
            return None

        for module in model.modules():
            if isinstance(module, nn.MultiheadAttention):
                handles.append(module.register_forward_pre_hook(before, with_kwargs=True))
                handles.append(module.register_forward_hook(after, always_call=True))
    try:
        with _Recorder():
            yield result
    finally:
        for handle in handles:
            handle.remove()
