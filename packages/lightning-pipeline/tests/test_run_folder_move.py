"""A run folder can move: resumed from a new place (a move, then a rename, as Drive does), it keeps
its best and last-K checkpoints, ends like the uninterrupted run, and never reads the old place."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file

from lightning_pipeline import train
from lightning_pipeline.checkpoint_io import load_checkpoint_file

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")

CHILD = Path(__file__).with_name("resume_child.py")


def _checkpoint_names(run_dir: Path) -> list[str]:
    return sorted(p.name for p in (run_dir / "checkpoints").glob("*.ckpt"))


def test_a_run_moved_then_renamed_between_resumes_keeps_its_checkpoints(
    tmp_path, builder_export, corpus, tiny_config
):
    reference = train(tiny_config(builder_export, corpus, tmp_path / "reference"))

    first = tmp_path / "drive" / "run"
    config_file = tmp_path / "config.json"
    config_file.write_text(tiny_config(builder_export, corpus, first).to_json())
    child = subprocess.run(
        [sys.executable, str(CHILD), str(config_file), "after_step", "10"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr[-3000:]
    assert "best-step-0000006.ckpt" in _checkpoint_names(first)

    # Moved to another folder; the old place keeps a copy whose checkpoints are garbage, so any
    # read from there would fail (or change the result).
    moved = tmp_path / "elsewhere" / "run-moved"
    moved.parent.mkdir()
    shutil.copytree(first, moved)
    for path in (first / "checkpoints").glob("*.ckpt"):
        path.write_bytes(b"not a checkpoint")

    resumed = train(tiny_config(builder_export, corpus, moved))

    assert resumed.status == "completed" and resumed.global_step == 16
    assert resumed.resumed_from == moved / "checkpoints" / "step-0000008.ckpt"
    assert _checkpoint_names(moved) == _checkpoint_names(tmp_path / "reference")
    assert (
        resumed.best_checkpoint is not None
        and resumed.best_checkpoint.parent == moved / "checkpoints"
    )
    best = json.loads((moved / "run.json").read_text())["best_checkpoint"]
    assert not Path(best).is_absolute() and (moved / best).is_file()
    assert resumed.val_loss == pytest.approx(reference.val_loss, abs=1e-5)
    expected, actual = (
        load_file(str(reference.final_weights)),
        load_file(str(resumed.final_weights)),
    )
    for name in expected:
        assert (actual[name] - expected[name]).abs().max().item() < 5e-5, name

    # Renamed (the old name is gone), then extended: the best and last-K survive, all load.
    renamed = moved.with_name("run-renamed")
    moved.rename(renamed)
    extended = train(tiny_config(builder_export, corpus, renamed, max_steps=24))

    assert extended.global_step == 24
    names = _checkpoint_names(renamed)
    assert [n for n in names if n.startswith("step-")] == ["step-0000020.ckpt", "step-0000024.ckpt"]
    assert len([n for n in names if n.startswith("best-")]) == 1
    for name in names:
        load_checkpoint_file(renamed / "checkpoints" / name)
    best = json.loads((renamed / "run.json").read_text())["best_checkpoint"]
    assert (renamed / best).is_file()
    assert extended.best_checkpoint == renamed / best
