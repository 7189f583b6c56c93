"""Stop a nanoGPT-style forward as soon as its logits exist, so the loss it would add is skipped.

nanoGPT-style models return only the last position's logits unless given `targets`, so the
adapter passes `targets=input_ids`; the model then also computes a cross-entropy loss nobody
reads (about a tenth of a training step). Once per mode (training / eval / inference), a call
with a forward hook on every submodule finds the one submodule, called once, whose output is the
very tensor the model returns as its logits, unchanged afterwards. Later calls put a forward hook
on that submodule alone, which raises `_LogitsReady`; the adapter catches it and uses the
captured tensor, so the loss is never computed. The logits are the same tensor in the same
autograd graph, so gradients are identical.

Off while tracing or compiling (`is_tracing`): an exception used as control flow would break a
trace, and the traced graph keeps the model's own forward.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from model_adapter.tracing import is_tracing

__all__ = ["LogitsShortcut"]

logger = logging.getLogger(__name__)


class _LogitsReady(BaseException):
    """Raised by the stop hook with the logits; a BaseException so that a model's own
    `except Exception` cannot swallow it and carry on."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.logits = logits


def _stop(module: nn.Module, args: Any, output: Any) -> None:
    raise _LogitsReady(output)


def _version(tensor: torch.Tensor) -> int | None:
    try:
        return tensor._version
    except RuntimeError:  # inference tensors keep no version counter: in-place edits unseen
        return None


def find_logits_module(model: nn.Module, run: Callable[[], Any]) -> tuple[Any, str | None]:
    """`run()`'s output and the name of the submodule whose output is returned as the logits.

    None when no submodule qualifies: the logits are computed after the last module (a scale,
    a reshape, a soft-cap), the module runs more than once, or the tensor is edited in place.
    """
    from model_adapter.adapter import extract_logits  # the adapter imports this module

    calls: dict[str, int] = {}
    outputs: dict[str, tuple[torch.Tensor, int | None]] = {}

    def record(name: str) -> Callable[[nn.Module, Any, Any], None]:
        def hook(module: nn.Module, args: Any, output: Any) -> None:
            calls[name] = calls.get(name, 0) + 1
            if isinstance(output, torch.Tensor):
                outputs[name] = (output, _version(output))

        return hook

    handles = [
        module.register_forward_hook(record(name))
        for name, module in model.named_modules()
        if name  # the model itself returns the logits with the loss
    ]
    try:
        output = run()
    finally:
        for handle in handles:
            handle.remove()
    logits = extract_logits(output)
    found = [
        name
        for name, (tensor, version) in outputs.items()
        if tensor is logits
        and calls[name] == 1
        and version is not None
        and version == _version(logits)
    ]
    return output, (found[-1] if found else None)  # the outermost when modules nest


class LogitsShortcut:
    """Runs a model's forward up to its logits module, found once per mode (see the module doc)."""

    def __init__(self) -> None:
        self.enabled = True
        self._names: dict[tuple[bool, bool], str | None] = {}

    def call(self, model: nn.Module, run: Callable[[], Any]) -> Any:
        """`run()`'s output, or the logits tensor alone when the forward was stopped at them."""
        if not self.enabled or is_tracing():
            return run()
        key = (model.training, torch.is_inference_mode_enabled())
        if key not in self._names:
            output, self._names[key] = find_logits_module(model, run)
            logger.debug(
                "%s: the forward with targets stops at %s",
                type(model).__name__,
                self._names[key] or "the end (no module returns the logits as they are)",
            )
            return output
        name = self._names[key]
        if name is None:
            return run()
        handle = model.get_submodule(name).register_forward_hook(_stop)
        try:
            return run()
        except _LogitsReady as ready:
            return ready.logits
        finally:
            handle.remove()
