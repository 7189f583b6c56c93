"""`RunMetricsLogger`: a Lightning logger that keeps `RUN_DIR/metrics.csv`, one row per logged step.

Lightning's own `CSVLogger` writes train and validation metrics of the same step on separate rows
and starts a new `version_N` folder on every resume. The run folder needs one file that survives a
resume: rows are merged by step, the file is rewritten atomically, and rows a killed run logged
after its last checkpoint are dropped when training resumes (`truncate_after`). `DurableMetrics`
calls `flush(force=True)` inside every checkpoint save, so no checkpoint covers a row that is
not on disk.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
import time
from pathlib import Path
from typing import Any

from pytorch_lightning.loggers.logger import Logger
from pytorch_lightning.utilities import rank_zero_only

logger = logging.getLogger(__name__)

METRICS_FILENAME = "metrics.csv"


class RunMetricsLogger(Logger):
    """Merge logged scalars by step into `metrics.csv` (columns: step, then metric names sorted).

    Example:
        >>> log = RunMetricsLogger("runs/demo")          # doctest: +SKIP
        >>> pl.Trainer(logger=log, ...)                  # doctest: +SKIP
        >>> log.rows[-1]["val_loss"]                     # doctest: +SKIP
    """

    def __init__(self, run_dir: str | os.PathLike[str], *, flush_every_s: float = 5.0) -> None:
        super().__init__()
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / METRICS_FILENAME
        self.flush_every_s = flush_every_s
        self._rows: dict[int, dict[str, float]] = {}
        self._last_flush = 0.0
        self._dirty = False
        if self.path.exists():
            self._rows = read_metrics_csv(self.path)

    # -- Logger interface ----------------------------------------------------------------------
    @property
    def name(self) -> str:
        return "run"

    @property
    def version(self) -> str:
        return ""

    @property
    def save_dir(self) -> str:
        return str(self.run_dir)

    @property
    def experiment(self) -> RunMetricsLogger:
        return self

    @rank_zero_only
    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        """Hyper-parameters live in run.json (the TrainingConfig), not in the metrics file."""

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        step = int(step if step is not None else metrics.get("step", 0))
        row = self._rows.setdefault(step, {})
        for key, value in metrics.items():
            if key in ("step", "epoch"):
                continue
            row[key] = float(value.item() if hasattr(value, "item") else value)
        if "epoch" in metrics:
            row["epoch"] = float(metrics["epoch"])
        self._dirty = True

    @rank_zero_only
    def save(self) -> None:
        if self._dirty and time.monotonic() - self._last_flush >= self.flush_every_s:
            self.flush()

    @rank_zero_only
    def finalize(self, status: str) -> None:
        self.flush()

    # -- run-folder helpers --------------------------------------------------------------------
    @property
    def rows(self) -> list[dict[str, float]]:
        """All rows sorted by step, each with a "step" key."""
        return [{"step": float(step), **values} for step, values in sorted(self._rows.items())]

    @property
    def last_step(self) -> int:
        """The highest step with a row (-1 when there is none)."""
        return max(self._rows, default=-1)

    def truncate_after(self, step: int) -> None:
        """Forget rows logged after `step` (by a run that died before checkpointing them)."""
        dropped = [s for s in self._rows if s > step]
        for s in dropped:
            del self._rows[s]
        if dropped:
            logger.info(
                "metrics.csv: dropped %d rows logged after step %d by the interrupted run",
                len(dropped),
                step,
            )
            self._dirty = True
            self.flush()

    def flush(self, *, force: bool = False) -> None:
        """Rewrite metrics.csv atomically (temp file, fsync, rename, fsync of the folder).

        `force=True` writes even when nothing changed since the last write, so the file on disk
        is known to be current (a checkpoint save calls it that way).
        """
        if not (self._dirty or force) and self.path.exists():
            return
        from lightning_pipeline.checkpoint_io import atomic_write_bytes

        columns = sorted({key for values in self._rows.values() for key in values})
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["step", *columns])
        for step, values in sorted(self._rows.items()):
            writer.writerow([step, *(_format(values.get(c)) for c in columns)])
        data = buffer.getvalue().encode("utf-8")
        atomic_write_bytes(self.path, lambda handle: handle.write(data))
        self._dirty = False
        self._last_flush = time.monotonic()


def _format(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return repr(float(value))


def read_metrics_csv(path: str | os.PathLike[str]) -> dict[int, dict[str, float]]:
    """Rows of a metrics.csv keyed by step (empty cells omitted)."""
    rows: dict[int, dict[str, float]] = {}
    with open(path, encoding="utf-8", newline="") as handle:
        for record in csv.DictReader(handle):
            try:
                step = int(float(record.pop("step")))
            except (KeyError, TypeError, ValueError):
                continue
            rows[step] = {k: float(v) for k, v in record.items() if k and v not in ("", None)}
    return rows
