"""ONNX export with dynamic batch and sequence axes, checked by onnx.checker and onnxruntime.

The dynamo exporter (`torch.export` based) goes first: it keeps shapes symbolic, so masks built
from the sequence length stay dynamic. The TorchScript-based exporter is the fallback, used when
the dynamo path raises, fails the checker or fails parity; the reason is logged and recorded.
The file at `path` is only written once an attempt passed (or the last one is reported failed).
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from model_export._fallback import Attempts, first_passing, prepare_export
from model_export._quiet_logs import quiet_logs
from model_export.errors import ExportFailedError
from model_export.parity import (
    DEFAULT_ATOL,
    LogitsFn,
    ParityReport,
    torch_logits_fn,
)

if TYPE_CHECKING:
    import onnxruntime
    from torch import nn

logger = logging.getLogger(__name__)

DEFAULT_OPSET = 18
EXPORTERS = ("dynamo", "torchscript")
_REASONS = (
    "{name} exporter failed: {detail}",
    "{name} exporter's parity failed: {detail}",
    "ONNX export failed with every exporter: {reasons}. Make forward traceable "
    "(no data-dependent Python control flow) or report the model.",
)


@dataclass
class OnnxExport:
    """What `export_onnx` wrote and the evidence that it is right."""

    path: Path
    exporter: str
    opset: int
    parity: ParityReport | None
    fallback_reason: str | None = None
    attempts: list[dict] = field(default_factory=list)
    fixed_length: int | None = None  # the graph's one input shape is [1, fixed_length]

    def to_dict(self) -> dict:
        return {
            "path": str(self.path),
            "exporter": self.exporter,
            "fixed_length": self.fixed_length,
            "opset": self.opset,
            "fallback_reason": self.fallback_reason,
            "attempts": self.attempts,
            "parity": self.parity.to_dict() if self.parity else None,
        }


def dynamic_dims(max_seq_len: int | None):
    """`torch.export` dims for the batch and sequence axes, the sequence bounded by the model."""
    from torch.export import Dim

    batch = Dim("batch", min=1, max=4096)
    seq = Dim("seq", min=1, max=max_seq_len) if max_seq_len else Dim("seq", min=1)
    return batch, seq


def onnx_session(
    path: str | os.PathLike, *, threads: int | None = None, providers: list[str] | None = None
) -> onnxruntime.InferenceSession:
    """An onnxruntime session with full graph optimisation (CPU unless providers say otherwise)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 4  # errors reach the caller as exceptions, not red text on stderr
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=providers or ["CPUExecutionProvider"])


def onnx_logits_fn(session: onnxruntime.InferenceSession) -> LogitsFn:
    """Numpy ids in, logits out, feeding `attention_mask` (all ones) when the graph takes it."""
    names = [i.name for i in session.get_inputs()]

    def run(ids: np.ndarray) -> np.ndarray:
        feeds = {names[0]: ids.astype(np.int64)}
        if "attention_mask" in names:
            feeds["attention_mask"] = np.ones_like(ids, dtype=np.int64)
        return session.run(None, feeds)[0]

    return run


def _input_axes(mask: bool, batch: Any, seq: Any) -> dict[str, dict[int, Any]]:
    """The graph's inputs (input_ids, then attention_mask when exported), each with its axes."""
    names = ["input_ids", "attention_mask"] if mask else ["input_ids"]
    return {name: {0: batch, 1: seq} for name in names}


def _torch_onnx_export(
    module, example, target: Path, opset: int, mask: bool, **options: Any
) -> None:
    """`torch.onnx.export` to `target` with the settings both exporter paths share.

    The traced call gets the ids, then an all-ones mask when the graph takes one. The exporters
    warn at length about things that do not change the graph (and torch's logs that optional
    torchvision operators are skipped); whether the export is right is decided by the checker
    and the parity check, so the warnings and that logging are silenced.
    """
    import torch

    args = (example, torch.ones_like(example)) if mask else (example,)
    with warnings.catch_warnings(), quiet_logs("torch.onnx"):
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            args,
            str(target),
            opset_version=opset,
            input_names=list(_input_axes(mask, None, None)),
            output_names=["logits"],
            **options,
        )


def _export_dynamo(
    module,
    example,
    target: Path,
    opset: int,
    max_seq_len: int | None,
    mask: bool,
    *,
    dynamic: bool = True,
) -> None:
    shapes = _input_axes(mask, *dynamic_dims(max_seq_len))
    _torch_onnx_export(
        module,
        example,
        target,
        opset,
        mask,
        dynamo=True,
        dynamic_shapes=shapes if dynamic else None,
        external_data=False,
        verbose=False,
    )


def _export_torchscript(
    module, example, target: Path, opset: int, mask: bool, *, dynamic: bool = True
) -> None:
    axes = {**_input_axes(mask, "batch", "seq"), "logits": {0: "batch", 1: "seq"}}
    _torch_onnx_export(
        module, example, target, opset, mask, dynamo=False, dynamic_axes=axes if dynamic else None
    )


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike,
    *,
    vocab_size: int | None = None,
    max_seq_len: int | None = None,
    opset: int = DEFAULT_OPSET,
    exporters: tuple[str, ...] = EXPORTERS,
    example_seq_len: int | None = None,
    with_attention_mask: bool = False,
    parity_shapes: list[tuple[int, int]] | None = None,
    atol: float = DEFAULT_ATOL,
    rtol: float = 0.0,
    check_parity: bool = True,
    raise_on_failure: bool = True,
    fixed_length: int | None = None,
) -> OnnxExport:
    """Export `model` to ONNX at `path` with dynamic batch and sequence axes, and prove parity.

    Args:
        model: any module with `forward(input_ids[, attention_mask]) -> logits` (tensor, tuple,
            dict or `.logits`), e.g. a `model_adapter.UniversalModelAdapter`.
        path: the `.onnx` file to write (weights inline, one file).
        vocab_size / max_seq_len: read off the model when not given.
        exporters: the order to try; the default tries dynamo, then TorchScript.
        example_seq_len: the traced example's length (parity always checks others too).
        parity_shapes: `(batch, seq_len)` pairs; default: batch 1 and 3, lengths 1 to the maximum.
        atol / rtol: per-element tolerance on logits (fp32 default atol 1e-4).
        raise_on_failure: raise :class:`ParityError` (worst shape named) when no exporter passed.
        fixed_length: export one shape, `[1, fixed_length]`, for models whose graph bakes in
            the traced length; parity is then measured the way `inference.py` runs it (inputs
            right-padded or left-truncated to that length, see `model_export.fixed_length`).

    Returns:
        :class:`OnnxExport` with the exporter that won, the fallback reason and the parity report.
    """
    import onnx

    path = Path(path)
    if fixed_length is not None:
        if fixed_length < 1 or (max_seq_len is not None and fixed_length > max_seq_len):
            raise ExportFailedError(
                f"fixed_length {fixed_length} must be between 1 and the model's max_seq_len {max_seq_len}; "
                "pass a length the model accepts"
            )
        max_seq_len, example_seq_len, with_attention_mask = fixed_length, fixed_length, False
    inputs = prepare_export(
        model,
        vocab_size,
        max_seq_len,
        parity_shapes,
        example_seq_len=example_seq_len,
        with_attention_mask=with_attention_mask,
    )
    module, example = inputs.module, inputs.example
    if fixed_length is not None:
        example = example[:1, :fixed_length]
    reference = torch_logits_fn(module)
    dynamic = fixed_length is None

    def export(name: str, target: Path) -> onnxruntime.InferenceSession:
        if name == "dynamo":
            _export_dynamo(
                module,
                example,
                target,
                opset,
                inputs.max_seq_len,
                with_attention_mask,
                dynamic=dynamic,
            )
        elif name == "torchscript":
            _export_torchscript(
                module, example, target, opset, with_attention_mask, dynamic=dynamic
            )
        else:
            raise ValueError(f"unknown exporter {name!r}; use one of {EXPORTERS}")
        onnx.checker.check_model(str(target), full_check=True)
        # A graph the installed onnxruntime cannot load (an operator or type it lacks, e.g. Trilu
        # on bool before 1.19) is a failed export too: the next exporter may emit other operators.
        return onnx_session(target)

    def check(
        name: str, target: Path, session: onnxruntime.InferenceSession
    ) -> ParityReport | None:
        if not check_parity:
            return None
        from model_export.fixed_length import fixed_length_logits_fn

        return inputs.parity(
            reference,
            onnx_logits_fn(session)
            if fixed_length is None
            else fixed_length_logits_fn(session, fixed_length),
            fmt="onnx",
            exporter=name,
            atol=atol,
            rtol=rtol,
        )

    attempts = Attempts(logger, *_REASONS)
    outcome = first_passing(exporters, path, ".onnx", export, check, attempts, raise_on_failure)
    if outcome.passed and outcome.exporter != exporters[0]:
        logger.warning(
            "ONNX export used the %s exporter (%s)", outcome.exporter, outcome.fallback_reason
        )
    return OnnxExport(
        path,
        outcome.exporter,
        opset,
        outcome.report,
        outcome.fallback_reason,
        attempts.records,
        fixed_length=fixed_length,
    )
