"""Keep other libraries' advice out of our users' logs while we call into them.

onnxruntime's quantizer logs advice on the root logger, and torch's ONNX exporter logs, on
every first export in a process, that optional torchvision operators are skipped. Neither says
anything about the user's model: whether an export or a quantized model is right is decided by
our checks (parity, the quantization gate), which report through our own loggers.

Only the named libraries are quieted: their own loggers get a higher level for the block, and a
filter on the root logger drops the records that those libraries' source files log there. The
user's own records, on the root logger or anywhere else, pass untouched. Errors still get
through, and everything is restored afterwards.

A private module: nothing here is part of the package's API.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
from collections.abc import Iterator


def _source_dir(package: str) -> str | None:
    """The folder holding `package`'s source files, or None when it is not installed."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    folder = os.path.dirname(spec.origin)
    return os.path.join(folder, "") if spec.submodule_search_locations else spec.origin


class _FromPackages(logging.Filter):
    """Drop records below `level` whose source file lies in one of `prefixes`."""

    def __init__(self, prefixes: tuple[str, ...], level: int) -> None:
        super().__init__()
        self.prefixes, self.level = prefixes, level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= self.level or not record.pathname.startswith(self.prefixes)


@contextlib.contextmanager
def quiet_logs(*packages: str, level: int = logging.ERROR) -> Iterator[None]:
    """Quiet what `packages` (e.g. "onnxruntime", "torch.onnx") log below `level` for the block."""
    loggers = [logging.getLogger(name) for name in packages]
    saved = [each.level for each in loggers]
    prefixes = tuple(folder for folder in map(_source_dir, packages) if folder)
    root_filter = _FromPackages(prefixes, level)
    root = logging.getLogger()
    for each in loggers:
        each.setLevel(level)
    root.addFilter(root_filter)
    try:
        yield
    finally:
        root.removeFilter(root_filter)
        for each, old in zip(loggers, saved):
            each.setLevel(old)
