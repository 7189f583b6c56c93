"""Keep a model's own prints out of the CLI's output: they go to the log at debug level.

A model that prints in `__init__` (minGPT's parameter count) or in `forward` would otherwise
interleave its lines with ours, and exporters run forward many times. The lines are logged on
`model_export.model_output` at DEBUG, so nothing is lost for someone who turns that on.

Only Python-level writes to `sys.stdout` are caught (what `print` does); a C extension writing
to file descriptor 1 is not. A private module: nothing here is part of the package's API.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator

logger = logging.getLogger("model_export.model_output")


class _LinesToLog(io.TextIOBase):
    """A text stream that logs every complete line it is given at DEBUG."""

    def __init__(self) -> None:
        super().__init__()
        self._pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        *lines, self._pending = (self._pending + text).split("\n")
        for line in lines:
            logger.debug("model output: %s", line)
        return len(text)

    def flush(self) -> None:
        if self._pending:
            logger.debug("model output: %s", self._pending)
            self._pending = ""


@contextlib.contextmanager
def model_prints_to_log() -> Iterator[None]:
    """Send what is printed inside the block to the debug log instead of stdout."""
    stream = _LinesToLog()
    try:
        with contextlib.redirect_stdout(stream):
            yield
    finally:
        stream.flush()
