"""Which formats a bundle ships and which one its `inference.py` runs: the export fallbacks.

Every requested format is exported and parity-checked. ONNX comes first because it runs
without torch. When no ONNX exporter passes at every length (a Python loop over time, a mask
cached by length), the honest fallbacks are, in order:

1. a bundle without ONNX, when `.pt2` or TorchScript passes at every length: `inference.py`
   runs that file with torch (`.pt2` first, then TorchScript);
2. a fixed-length ONNX (`model_export.fixed_length`) when no other format passes, or ONNX was
   the only format asked for. `fixed_length=N` (`--fixed-length N`) asks for it directly.

Each fallback is said in one warning line and recorded (`left_out`, `fallback_reason`).
With `formats=None` (the CLI without `--formats`) every format is tried and one that fails is
left out with its reason; formats named explicitly must all pass, or nothing is written.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from model_export.errors import ExportFailedError, ParityError

if TYPE_CHECKING:
    from model_export.sources import ExportSource

logger = logging.getLogger(__name__)

FORMATS = ("onnx", "torchscript", "pt2")
FORMAT_FILES = {"onnx": "model.onnx", "torchscript": "model.torchscript.pt", "pt2": "model.pt2"}
INFERENCE_PREFERENCE = ("onnx", "pt2", "torchscript")
"""The format inference.py runs, the first of these in the bundle: ONNX needs no torch."""


@dataclass
class ShippedFormats:
    """The formats in the bundle (their report entries), those left out and why, and the
    format `inference.py` runs."""

    entries: dict[str, dict[str, Any]]
    inference: str
    left_out: dict[str, str] = field(default_factory=dict)
    fixed_length: int | None = None

    @property
    def inference_file(self) -> str:
        return FORMAT_FILES[self.inference]


def first_line(exc: BaseException) -> str:
    """An exception's first line, for one-line warnings and recorded reasons."""
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def export_formats(
    source: ExportSource,
    staging: Path,
    *,
    formats: tuple[str, ...] | None,
    atol: float,
    fixed_length: int | None,
    causal: bool = True,
) -> ShippedFormats:
    """Export every requested format into `staging` and apply the fallbacks above.

    A model that is not `causal` gets no fixed-length ONNX: right-padding would change its logits.
    """
    from model_export.onnx_export import export_onnx
    from model_export.torchscript_export import export_pt2, export_torchscript

    requested = formats or FORMATS
    strict = bool(formats)  # named formats must pass; None (or none named) is best effort
    config = source.config
    sizes: dict[str, Any] = {
        "vocab_size": config.vocab_size,
        "max_seq_len": config.max_seq_len,
        "atol": atol,
    }
    entries: dict[str, dict[str, Any]] = {}
    left_out: dict[str, str] = {}

    def onnx_at(length: int | None) -> dict[str, Any]:
        result = export_onnx(
            source.model, staging / FORMAT_FILES["onnx"], fixed_length=length, **sizes
        )
        entries["onnx"] = _entry(result.to_dict(), result.parity, staging)
        return entries["onnx"]

    onnx_failure = None
    if "onnx" in requested:
        try:
            onnx_at(fixed_length)
        except (ExportFailedError, ParityError) as exc:
            if fixed_length is not None:
                raise
            onnx_failure = first_line(exc)
    torch_exporters: dict[str, Callable[..., Any]] = {
        "torchscript": export_torchscript,
        "pt2": export_pt2,
    }
    for fmt, export in torch_exporters.items():
        if fmt not in requested:
            continue
        try:
            with _format_hint(fmt, requested) if strict else contextlib.nullcontext():
                result = export(source.model, staging / FORMAT_FILES[fmt], **sizes)
        except (ExportFailedError, ParityError) as exc:
            if strict:
                raise
            left_out[fmt] = first_line(exc)
            logger.warning("%s left out of the bundle: %s", fmt, left_out[fmt])
            continue
        entries[fmt] = _entry(result.to_dict(), result.parity, staging)

    if onnx_failure is not None:
        torch_format = next((f for f in INFERENCE_PREFERENCE if f in entries), None)
        if torch_format is not None:
            left_out["onnx"] = f"no ONNX export passes parity at every length: {onnx_failure}"
            logger.warning(
                "ONNX fails at some sequence lengths (%s); the bundle ships without ONNX and "
                "inference.py runs %s (%s, parity passed at every length) with torch; "
                "pass --fixed-length N for a fixed-length ONNX instead",
                onnx_failure,
                FORMAT_FILES[torch_format],
                entries[torch_format]["exporter"],
            )
        elif not causal:
            raise ExportFailedError(
                f"ONNX fails at some sequence lengths ({onnx_failure}) and no other format passes; "
                "a fixed-length ONNX needs a causal model (right-padding would change this one's "
                "logits): make the model traceable at every length"
            )
        else:
            fixed_length = fallback_length(source)
            logger.warning(
                "ONNX fails at some sequence lengths (%s); exporting a fixed-length ONNX of %d tokens "
                "instead (inference.py right-pads or left-truncates prompts to it)",
                onnx_failure,
                fixed_length,
            )
            onnx_at(fixed_length)["fallback_reason"] = f"every-length export failed: {onnx_failure}"
    inference = next(f for f in INFERENCE_PREFERENCE if f in entries)
    if "onnx" not in entries or fixed_length is None:
        fixed_length = None
    return ShippedFormats(entries, inference, left_out, fixed_length)


def _entry(info: dict[str, Any], parity: Any, folder: Path) -> dict[str, Any]:
    """A format's report entry: paths relative to the bundle, and whether parity passed."""
    info = dict(info)
    if info.get("path"):
        info["path"] = os.path.relpath(info["path"], folder)
    info["passed"] = parity.passed if parity is not None else None
    return info


def fallback_length(source: ExportSource) -> int:
    """The fixed ONNX length to fall back to: the run's training length, else the model's maximum, else 64."""
    trained = ((source.run or {}).get("config") or {}).get("seq_len")
    maximum = source.config.max_seq_len
    length = int(trained) if isinstance(trained, int) and trained > 0 else (maximum or 64)
    return min(length, maximum) if maximum else length


@contextlib.contextmanager
def _format_hint(fmt: str, formats: tuple[str, ...]) -> Iterator[None]:
    """Re-raise a format's failure with the fix for a bundle: leave that format out."""
    try:
        yield
    except (ExportFailedError, ParityError) as exc:
        others = ",".join(f for f in formats if f != fmt) or "onnx"
        raise type(exc)(f"{exc}; to bundle without {fmt}: --formats {others}") from exc
