"""The package's exception types. Each message states the problem and the fix in one line."""

from __future__ import annotations

import re


class ModelExportError(Exception):
    """Base class of every error this package raises on purpose."""


class ExportSourceError(ModelExportError):
    """The thing to export (folder, weights, run folder, tokenizer) cannot be used as given."""


class OutputFolderError(ModelExportError):
    """The bundle's target folder exists and is not empty, or cannot be written."""


class ExportFailedError(ModelExportError):
    """Every exporter path failed for a format; the message names each path's reason."""


class ParityError(ModelExportError):
    """An exported artifact disagrees with PyTorch beyond the tolerance.

    `report` is the :class:`~model_export.parity.ParityReport` that failed, so callers can
    inspect every shape, not only the worst one named in the message.
    """

    def __init__(self, message: str, report: object | None = None) -> None:
        super().__init__(message)
        self.report = report


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def describe_exception(exc: BaseException) -> str:
    """`Type: first line` of the innermost cause: exporters wrap the real reason in generic errors."""
    inner = exc
    while inner.__cause__ is not None and inner.__cause__ is not inner:
        inner = inner.__cause__
    lines = [
        line.strip() for line in _ANSI.sub("", str(inner)).strip().splitlines() if line.strip()
    ]
    return f"{type(inner).__name__}: {lines[0][:300] if lines else ''}".rstrip(": ")


def clean_error_text(text: str) -> str:
    """An error's text without terminal colour codes (onnxruntime colours its messages red)."""
    return _ANSI.sub("", text).strip()
