"""ONNX export with dynamic batch and sequence axes, checked by onnx.checker and onnxruntime.

The dynamo exporter (`torch.export` based) goes first: it keeps shapes symbolic, so masks built
from the sequence length stay dynamic. The TorchScript-based exporter is the fallback, used when
the dynamo path raises, fails the checker or fails parity; the reason is logged and recorded.
The file at `path` is only written once an attempt passed (or the last one is reported failed).
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from model_export.errors import ExportFailedError, describe_exception
from model_export.parity import (
    DEFAULT_ATOL,
    LogitsFn,
    ParityReport,
    default_parity_shapes,
    measure_parity,
    shapes_within,
    torch_logits_fn,
)

if TYPE_CHECKING:
    import onnxruntime
    from torch import nn

logger = logging.getLogger(__name__)

DEFAULT_OPSET = 18
EXPORTERS = ("dynamo", "torchscript")


@dataclass
class OnnxExport:
    """What `export_onnx` wrote and the evidence that it is right."""

    path: Path
    exporter: str
    opset: int
    parity: ParityReport | None
    fallback_reason: str | None = None
    attempts: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "path": str(self.path),
            "exporter": self.exporter,
            "opset": self.opset,
            "fallback_reason": self.fallback_reason,
            "attempts": self.attempts,
            "parity": self.parity.to_dict() if self.parity else None,
        }


def example_inputs(vocab_size: int, max_seq_len: int | None, seq_len: int | None = None):
    """The `(batch 2, seq)` example the exporters trace; sizes 0 and 1 would get specialised."""
    import torch

    if seq_len is None:
        seq_len = min(16, max_seq_len) if max_seq_len else 16
    seq_len = max(2, seq_len)
    generator = torch.Generator().manual_seed(0)
    return torch.randint(0, vocab_size, (2, seq_len), generator=generator, dtype=torch.long)


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
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(
        str(path), options, providers=providers or ["CPUExecutionProvider"]
    )


def onnx_logits_fn(session: onnxruntime.InferenceSession) -> LogitsFn:
    """Numpy ids in, logits out, feeding `attention_mask` (all ones) when the graph takes it."""
    names = [i.name for i in session.get_inputs()]

    def run(ids: np.ndarray) -> np.ndarray:
        feeds = {names[0]: ids.astype(np.int64)}
        if "attention_mask" in names:
            feeds["attention_mask"] = np.ones_like(ids, dtype=np.int64)
        return session.run(None, feeds)[0]

    return run


def _export_dynamo(module, example, target: Path, opset: int, max_seq_len: int | None, mask: bool) -> None:
    import torch

    batch, seq = dynamic_dims(max_seq_len)
    args: tuple = (example,)
    shapes: dict = {"input_ids": {0: batch, 1: seq}}
    names = ["input_ids"]
    if mask:
        args = (example, torch.ones_like(example))
        shapes["attention_mask"] = {0: batch, 1: seq}
        names.append("attention_mask")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            args,
            str(target),
            dynamo=True,
            dynamic_shapes=shapes,
            opset_version=opset,
            input_names=names,
            output_names=["logits"],
            external_data=False,
            verbose=False,
        )


def _export_torchscript(module, example, target: Path, opset: int, mask: bool) -> None:
    import torch

    args: tuple = (example,)
    names = ["input_ids"]
    axes = {"input_ids": {0: "batch", 1: "seq"}, "logits": {0: "batch", 1: "seq"}}
    if mask:
        args = (example, torch.ones_like(example))
        names.append("attention_mask")
        axes["attention_mask"] = {0: "batch", 1: "seq"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            args,
            str(target),
            dynamo=False,
            opset_version=opset,
            input_names=names,
            output_names=["logits"],
            dynamic_axes=axes,
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

    Returns:
        :class:`OnnxExport` with the exporter that won, the fallback reason and the parity report.
    """
    import onnx

    from model_export.exportable import as_exportable, infer_max_seq_len, infer_vocab_size

    path = Path(path)
    module = as_exportable(model, with_attention_mask=with_attention_mask)
    vocab_size = infer_vocab_size(module.model, vocab_size)
    max_seq_len = infer_max_seq_len(module.model, max_seq_len)
    example = example_inputs(vocab_size, max_seq_len, example_seq_len)
    shapes = shapes_within(
        parity_shapes or default_parity_shapes(max_seq_len, example_seq_len=example.shape[1]),
        max_seq_len,
    )
    reference = torch_logits_fn(module)

    path.parent.mkdir(parents=True, exist_ok=True)
    attempts: list[dict] = []
    fallback_reason: str | None = None
    last_report: ParityReport | None = None
    last_tmp: Path | None = None
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".onnx-export-") as tmp:
        for name in exporters:
            target = Path(tmp) / f"{name}.onnx"
            try:
                if name == "dynamo":
                    _export_dynamo(module, example, target, opset, max_seq_len, with_attention_mask)
                elif name == "torchscript":
                    _export_torchscript(module, example, target, opset, with_attention_mask)
                else:
                    raise ValueError(f"unknown exporter {name!r}; use one of {EXPORTERS}")
                onnx.checker.check_model(str(target), full_check=True)
            except Exception as exc:
                reason = f"{name} exporter failed: {describe_exception(exc)}"
                logger.warning("%s", reason)
                attempts.append({"exporter": name, "ok": False, "reason": reason})
                fallback_reason = fallback_reason or reason
                continue
            report = None
            if check_parity:
                session = onnx_session(target)
                report = measure_parity(
                    reference,
                    onnx_logits_fn(session),
                    vocab_size=vocab_size,
                    shapes=shapes,
                    fmt="onnx",
                    exporter=name,
                    atol=atol,
                    rtol=rtol,
                )
                del session
            last_report, last_tmp = report, target
            if report is None or report.passed:
                attempts.append({"exporter": name, "ok": True, "reason": None})
                os.replace(target, path)
                if name != exporters[0]:
                    logger.warning("ONNX export used the %s exporter (%s)", name, fallback_reason)
                return OnnxExport(path, name, opset, report, fallback_reason if name != exporters[0] else None, attempts)
            reason = f"{name} exporter's parity failed: {report.summary()}"
            logger.warning("%s", reason)
            attempts.append({"exporter": name, "ok": False, "reason": reason})
            fallback_reason = fallback_reason or reason
        if last_report is None:
            raise ExportFailedError(
                "ONNX export failed with every exporter: "
                + "; ".join(a["reason"] for a in attempts)
                + ". Make forward traceable (no data-dependent Python control flow) or report the model."
            )
        if raise_on_failure:
            last_report.raise_if_failed()
        assert last_tmp is not None
        os.replace(last_tmp, path)
        return OnnxExport(path, last_report.exporter, opset, last_report, fallback_reason, attempts)
