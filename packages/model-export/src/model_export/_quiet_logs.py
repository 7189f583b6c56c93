"""Keep other libraries' advice out of our users' logs while we call into them.

onnxruntime's quantizer logs advice on the root logger, and torch's ONNX exporter logs, on
every first export in a process, that optional torchvision operators are skipped. Neither says
anything about the user's model: whether an export or a quantized model is right is decided by
our checks (parity, the quantization gate), which report through our own loggers. Errors still
get through, and each logger's level is restored afterwards.

A private module: nothing here is part of the package's API.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator


@contextlib.contextmanager
def quiet_logs(*names: str, level: int = logging.ERROR) -> Iterator[None]:
    """Raise the named loggers (`""` is the root logger) to `level` for the block."""
    loggers = [logging.getLogger(name) for name in names]
    saved = [each.level for each in loggers]
    for each in loggers:
        each.setLevel(level)
    try:
        yield
    finally:
        for each, old in zip(loggers, saved):
            each.setLevel(old)
