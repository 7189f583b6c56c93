"""`LiveDashboard`: training curves as `curves.png` in the run folder, and live in a notebook.

In a notebook (Jupyter, Colab) one figure is updated in place (loss, validation loss, perplexity,
learning rate, tokens/s); in a terminal Lightning's progress bar shows progress and this callback
only writes `curves.png`, at each validation and at the end of training.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytorch_lightning as pl

from lightning_pipeline.metrics_logger import RunMetricsLogger

logger = logging.getLogger(__name__)

CURVES_FILENAME = "curves.png"


def in_notebook() -> bool:
    """True inside a Jupyter/Colab kernel (where a figure can be displayed and updated)."""
    if "google.colab" in sys.modules:
        return True
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    ip = shell.get_ipython()  # type: ignore[attr-defined]
    return ip is not None and type(ip).__name__ in ("ZMQInteractiveShell", "Shell")


def plot_curves(rows: list[dict[str, float]], path: str | os.PathLike[str] | None = None) -> bytes:
    """Draw the four panels from metrics rows; write PNG atomically to `path` if given; return the bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    def series(key: str) -> tuple[list[float], list[float]]:
        pairs = [(r["step"], r[key]) for r in rows if key in r]
        return [p[0] for p in pairs], [p[1] for p in pairs]

    def line(ax: Any, key: str, *style: str, **kwargs: Any) -> None:
        xs, ys = series(key)
        if len(xs) == 1 and not style:  # a line through one point draws nothing: show the point
            kwargs.setdefault("marker", "o")
        ax.plot(xs, ys, *style, **kwargs)

    lr_key = next((k for r in rows for k in r if k.startswith("lr")), None)
    fig = Figure(figsize=(10, 6.5), dpi=80)
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 2)
    ax = axes[0][0]
    line(ax, "train_loss", label="train loss", lw=1)
    line(ax, "val_loss", "o-", label="val loss", ms=3)
    ax.set_title("loss")
    ax.legend(loc="upper right")
    ax = axes[0][1]
    line(ax, "val_perplexity", "o-", color="tab:green", ms=3)
    ax.set_title("validation perplexity (green) and bits per byte (red)")
    ax.set_yscale("log")
    if series("val_bits_per_byte")[
        0
    ]:  # bits per byte compares across tokenizers; perplexity does not
        twin = ax.twinx()
        line(twin, "val_bits_per_byte", "s-", color="tab:red", ms=3)
        twin.set_ylabel("bits per byte", color="tab:red")
    ax = axes[1][0]
    if lr_key:
        line(ax, lr_key, color="tab:orange")
    ax.set_title("learning rate")
    ax.ticklabel_format(
        axis="y", style="sci", scilimits=(0, 0)
    )  # "3.0" + "1e-4" above, not "0.00030"
    ax = axes[1][1]
    line(ax, "tokens_per_s", color="tab:purple")
    ax.set_title("tokens / s")
    for row_axes in axes:
        for ax in row_axes:
            ax.set_xlabel("step")
            ax.grid(alpha=0.3)
    # fixed margins: tight_layout costs more than the rest of the drawing together
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.08, top=0.95, wspace=0.25, hspace=0.35)
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    data = buffer.getvalue()
    if path is not None:
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp")
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    return data


class LiveDashboard(pl.Callback):
    """Write `curves.png` at each validation and at the end; in a notebook, also redraw live.

    Args:
        metrics: the run's `RunMetricsLogger` (the history that is plotted).
        run_dir: where `curves.png` goes.
        live: show a figure updated in place; `None` = only inside a notebook.
        refresh_every_s: the most often the live figure is redrawn.

    Example:
        >>> metrics = RunMetricsLogger("runs/demo")                                  # doctest: +SKIP
        >>> pl.Trainer(logger=metrics, callbacks=[LiveDashboard(metrics, "runs/demo")])  # doctest: +SKIP
    """

    def __init__(
        self,
        metrics: RunMetricsLogger,
        run_dir: str | os.PathLike[str],
        *,
        live: bool | None = None,
        refresh_every_s: float = 2.0,
    ) -> None:
        super().__init__()
        self.metrics = metrics
        self.path = Path(run_dir) / CURVES_FILENAME
        self.live = in_notebook() if live is None else live
        self.refresh_every_s = refresh_every_s
        self._handle: Any = None
        self._last_draw = 0.0

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if (
            self.live
            and trainer.is_global_zero
            and time.monotonic() - self._last_draw >= self.refresh_every_s
        ):
            self._draw(write_file=False)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        self._draw(write_file=True)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.is_global_zero:
            self._draw(write_file=True)

    def _draw(self, *, write_file: bool) -> None:
        self.metrics.flush()
        png = plot_curves(self.metrics.rows, self.path if write_file else None)
        self._last_draw = time.monotonic()
        if not self.live:
            return
        from IPython.display import Image, display

        image = Image(data=png)
        if self._handle is None:
            self._handle = display(image, display_id=True)
        else:
            self._handle.update(image)
