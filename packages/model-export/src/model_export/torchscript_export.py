"""TorchScript export: `torch.jit.trace` first, `torch.jit.script` as the fallback.

Tracing records one run, so a mask built from a Python int of the length would be frozen; the
saved file is loaded back and checked over several shapes, and a failed trace falls back to
scripting (which keeps Python control flow) with the reason recorded.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from model_export._fallback import Attempts, first_passing, mkdir_parent, prepare_export
from model_export.errors import ExportFailedError, describe_exception
from model_export.parity import (
    DEFAULT_ATOL,
    ParityReport,
    torch_logits_fn,
)

if TYPE_CHECKING:
    from torch import nn

logger = logging.getLogger(__name__)

TORCHSCRIPT_METHODS = ("trace", "script")
_REASONS = (
    "torch.jit.{name} failed: {detail}",
    "torch.jit.{name} parity failed: {detail}",
    "TorchScript export failed: {reasons}; use the ONNX or .pt2 format for this model",
)


@dataclass
class TorchExport:
    """A TorchScript or `.pt2` artifact, the path that made it and its parity report."""

    path: Path
    fmt: str
    exporter: str
    parity: ParityReport  # both exporters always measure parity before returning
    fallback_reason: str | None = None
    attempts: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "path": str(self.path),
            "format": self.fmt,
            "exporter": self.exporter,
            "fallback_reason": self.fallback_reason,
            "attempts": self.attempts,
            "parity": self.parity.to_dict() if self.parity else None,
        }


def export_torchscript(
    model: nn.Module,
    path: str | os.PathLike,
    *,
    vocab_size: int | None = None,
    max_seq_len: int | None = None,
    methods: tuple[str, ...] = TORCHSCRIPT_METHODS,
    parity_shapes: list[tuple[int, int]] | None = None,
    atol: float = DEFAULT_ATOL,
    raise_on_failure: bool = True,
) -> TorchExport:
    """Save `model` as TorchScript at `path` (trace, then script) and check it over several shapes.

    Returns:
        :class:`TorchExport` with `exporter` "trace" or "script". Raises :class:`ParityError`
        naming the worst shape when no method passed and `raise_on_failure`.
    """
    import torch

    from model_export.exportable import as_exportable

    path = Path(path)
    inputs = prepare_export(model, vocab_size, max_seq_len, parity_shapes)
    module = inputs.module
    reference = torch_logits_fn(module)

    def export(method: str, target: Path) -> torch.jit.ScriptModule:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            if method == "trace":
                scripted = torch.jit.trace(module, (inputs.example,), check_trace=False)
            elif method == "script":
                # The wrappers (ours, the adapter) are not scriptable; the user's own forward
                # is, when it is scriptable at all. Parity against the adapter reads its
                # logits, so a model the adapter reshapes or masks fails there, not silently.
                scripted = torch.jit.script(_user_module(module.model))
            else:
                raise ValueError(f"unknown TorchScript method {method!r}")
            torch.jit.save(scripted, str(target))
            return torch.jit.load(str(target)).eval()

    def check(method: str, target: Path, loaded: torch.jit.ScriptModule) -> ParityReport:
        runner = loaded if method == "trace" else as_exportable(loaded)
        return inputs.parity(
            reference, torch_logits_fn(runner), fmt="torchscript", exporter=method, atol=atol
        )

    attempts = Attempts(logger, *_REASONS)
    outcome = first_passing(methods, path, ".pt", export, check, attempts, raise_on_failure)
    return TorchExport(
        path,
        "torchscript",
        outcome.exporter,
        outcome.report,
        outcome.fallback_reason,
        attempts.records,
    )


def _user_module(model: nn.Module) -> nn.Module:
    """The user's own module: inside a `UniversalModelAdapter`, its `.model`."""
    from model_adapter import UniversalModelAdapter

    return model.model if isinstance(model, UniversalModelAdapter) else model


def export_pt2(
    model: nn.Module,
    path: str | os.PathLike,
    *,
    vocab_size: int | None = None,
    max_seq_len: int | None = None,
    parity_shapes: list[tuple[int, int]] | None = None,
    atol: float = DEFAULT_ATOL,
    raise_on_failure: bool = True,
) -> TorchExport:
    """`torch.export.export` with dynamic batch and sequence, `torch.export.save` to `path` (.pt2).

    Named dims bounded by the model's maximum go first; when the model's code specialises an
    axis (torch.export refuses), `Dim.AUTO` is tried and the parity check shows which shapes
    the specialised program still serves. The saved program is loaded back with
    `torch.export.load` and checked over several shapes.
    """
    import torch
    from torch.export import Dim

    from model_export.onnx_export import dynamic_dims

    path = Path(path)
    inputs = prepare_export(model, vocab_size, max_seq_len, parity_shapes)
    module, example = inputs.module, inputs.example
    batch, seq = dynamic_dims(inputs.max_seq_len)
    with tempfile.TemporaryDirectory(dir=mkdir_parent(path), prefix=".pt2-export-") as tmp:
        target = Path(tmp) / "model.pt2"
        attempts = Attempts(logger)
        exporter = "torch.export"
        program = None
        named = {"input_ids": {0: batch, 1: seq}}
        auto = {"input_ids": {0: Dim.AUTO, 1: Dim.AUTO}}
        for label, dynamic_shapes in (("torch.export", named), ("torch.export (Dim.AUTO)", auto)):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    program = torch.export.export(
                        module, (example,), dynamic_shapes=dynamic_shapes, strict=False
                    )
                exporter = label
                attempts.passed(label)
                break
            except Exception as exc:
                attempts.failed(label, f"{label} failed: {describe_exception(exc)}")
        if program is None:
            raise ExportFailedError(
                "pt2 export failed: "
                + attempts.reasons()
                + "; use the ONNX or TorchScript format for this model"
            )
        torch.export.save(program, str(target))
        loaded = torch.export.load(str(target)).module()
        report = inputs.parity(
            torch_logits_fn(module),
            torch_logits_fn(loaded),
            fmt="pt2",
            exporter=exporter,
            atol=atol,
        )
        if raise_on_failure:
            report.raise_if_failed()
        os.replace(target, path)
    return TorchExport(path, "pt2", exporter, report, attempts.fallback_reason, attempts.records)
