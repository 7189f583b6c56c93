"""LiveDashboard + RunMetricsLogger: metrics.csv one row per logged step, curves.png at validations."""

from __future__ import annotations

import csv

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from lightning_pipeline.callbacks.dashboard import LiveDashboard, in_notebook, plot_curves
from lightning_pipeline.metrics_logger import RunMetricsLogger, read_metrics_csv
from lightning_pipeline.module import LanguageModelingModule


def _data(n=40, seq=10, vocab=30):
    ids = torch.randint(0, vocab, (n, seq), generator=torch.Generator().manual_seed(1))
    return [
        {"input_ids": r, "attention_mask": torch.ones_like(r), "labels": r.clone()} for r in ids
    ]


class _CurvesSeen(pl.Callback):
    """Records the modification time of curves.png after each validation."""

    def __init__(self, path):
        self.path = path
        self.seen = []

    def on_validation_end(self, trainer, pl_module):
        self.seen.append(self.path.stat().st_mtime_ns if self.path.exists() else None)


def _fit(tmp_path, TinyLM, *, max_steps=12, live=False):
    metrics = RunMetricsLogger(tmp_path, flush_every_s=0)
    dashboard = LiveDashboard(metrics, tmp_path, live=live, refresh_every_s=0)
    seen = _CurvesSeen(tmp_path / "curves.png")
    trainer = pl.Trainer(
        max_steps=max_steps,
        logger=metrics,
        log_every_n_steps=1,
        val_check_interval=4,
        check_val_every_n_epoch=None,
        num_sanity_val_steps=0,
        enable_checkpointing=False,
        enable_progress_bar=False,
        accelerator="cpu",
        enable_model_summary=False,
        default_root_dir=tmp_path,
        callbacks=[pl.callbacks.LearningRateMonitor(logging_interval="step"), dashboard, seen],
    )
    data = _data()
    trainer.fit(
        LanguageModelingModule(TinyLM(30), warmup_steps=2, total_steps=max_steps),
        DataLoader(data, batch_size=4),
        DataLoader(data[:8], batch_size=4),
    )
    return metrics, dashboard, seen


def test_metrics_csv_has_one_row_per_logged_step_with_train_and_val(tmp_path, tiny_lm):
    _fit(tmp_path, tiny_lm)
    with open(tmp_path / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    steps = [int(r["step"]) for r in rows]
    assert steps == sorted(set(steps))  # one row per step
    assert len(rows) >= 10
    with_val = [r for r in rows if r["val_loss"]]
    assert len(with_val) == 3  # validations at steps 4, 8, 12
    assert all(r["train_loss"] for r in with_val)  # merged with the train metrics of the same step
    assert any(key.startswith("lr-") for key in rows[0])


def test_curves_png_is_written_at_each_validation(tmp_path, tiny_lm):
    _, _, seen = _fit(tmp_path, tiny_lm)
    assert len(seen.seen) == 3
    assert None not in seen.seen
    assert len(set(seen.seen)) == 3  # rewritten each time
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


class _RecordingPublisher:
    """IPython display publisher that records what a kernel would send to the front end."""

    def __init__(self):
        self.messages = []

    def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs):
        self.messages.append({"png": "image/png" in data, "update": update, "transient": transient})

    def clear_output(self, wait=False):
        pass


def test_live_mode_shows_one_figure_and_updates_it_in_place(tmp_path, tiny_lm):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    publisher = _RecordingPublisher()
    original, shell.display_pub = shell.display_pub, publisher
    try:
        _fit(tmp_path, tiny_lm, live=True)
    finally:
        shell.display_pub = original
        InteractiveShell.clear_instance()
    assert len(publisher.messages) > 3
    assert all(m["png"] for m in publisher.messages)
    first, *rest = publisher.messages
    assert first["update"] is False and all(m["update"] for m in rest)
    display_ids = {m["transient"]["display_id"] for m in publisher.messages}
    assert len(display_ids) == 1


def test_truncate_after_drops_rows_of_the_interrupted_run(tmp_path):
    metrics = RunMetricsLogger(tmp_path)
    for step in range(10):
        metrics.log_metrics({"train_loss": float(step)}, step=step)
    metrics.flush()
    reopened = RunMetricsLogger(tmp_path)
    reopened.truncate_after(5)
    assert sorted(read_metrics_csv(tmp_path / "metrics.csv")) == [0, 1, 2, 3, 4, 5]


def test_plot_curves_works_with_no_validation_rows_yet(tmp_path):
    png = plot_curves([{"step": 1.0, "train_loss": 3.0}], tmp_path / "c.png")
    assert png[:4] == b"\x89PNG" and (tmp_path / "c.png").exists()


def test_not_a_notebook_under_pytest():
    assert in_notebook() is False


def test_single_points_are_drawn_as_markers():
    import io

    import numpy as np
    from matplotlib.image import imread

    from lightning_pipeline.callbacks.dashboard import plot_curves

    png = plot_curves([{"step": 1, "train_loss": 5.0, "lr-AdamW": 3e-4, "tokens_per_s": 900.0}])
    pixels = imread(io.BytesIO(png))[..., :3]

    for color in (
        (1.0, 0.498, 0.055),
        (0.580, 0.404, 0.741),
    ):  # tab:orange (lr), tab:purple (tokens/s)
        assert (np.abs(pixels - np.array(color)).max(axis=-1) < 0.05).sum() > 10, color
