"""Exact resume: a run SIGKILLed (real subprocesses) at several points, including in the middle of a
checkpoint write, and resumed each time, ends exactly where an uninterrupted run ends."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file

from lightning_pipeline import TrainingConfig, train
from lightning_pipeline.checkpoint_io import TEMP_MARKER, load_checkpoint_file
from lightning_pipeline.run_folder import RunFolder

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")

CHILD = Path(__file__).with_name("resume_child.py")


def _run_child(
    config: TrainingConfig, tmp_path: Path, kind: str, step: int
) -> subprocess.CompletedProcess:
    config_file = tmp_path / f"config-{kind}-{step}.json"
    config_file.write_text(config.to_json())
    return subprocess.run(
        [sys.executable, str(CHILD), str(config_file), kind, str(step)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def _assert_every_checkpoint_loads(run_dir: Path) -> None:
    for path in (run_dir / "checkpoints").glob("*.ckpt"):
        if path.name.startswith("."):
            continue
        load_checkpoint_file(path)  # raises CheckpointError on a truncated or corrupt file


def test_killed_and_resumed_run_ends_exactly_like_an_uninterrupted_one(
    tmp_path, builder_export, corpus, tiny_config
):
    reference = train(tiny_config(builder_export, corpus, tmp_path / "reference"))
    assert reference.status == "completed" and reference.global_step == 16

    run_dir = tmp_path / "interrupted"
    config = tiny_config(builder_export, corpus, run_dir)
    # (kind, step, the checkpoint step the next run must resume from); runs resume from the
    # every-N-steps checkpoints only (best-by-val-loss ones, e.g. step 6, are not resume points).
    kills = [("after_step", 6, 4), ("during_write", 8, 4), ("before_metadata", 12, 12)]
    for kind, step, resume_step in kills:
        child = _run_child(config, tmp_path, kind, step)
        assert child.returncode == -signal.SIGKILL, child.stderr[-3000:]
        _assert_every_checkpoint_loads(run_dir)
        latest = RunFolder(run_dir).latest_valid_checkpoint(pattern="step-*.ckpt")
        assert latest is not None
        assert load_checkpoint_file(latest)["global_step"] == resume_step, (kind, latest)
        if kind == "during_write":
            assert list((run_dir / "checkpoints").glob(f".*{TEMP_MARKER}*")), (
                "the kill left no half-written file"
            )

    resumed = train(config)
    assert resumed.status == "completed" and resumed.global_step == 16
    assert resumed.resumed_from is not None
    assert not list((run_dir / "checkpoints").glob(f".*{TEMP_MARKER}*"))  # leftovers cleaned up

    assert resumed.val_loss == pytest.approx(reference.val_loss, abs=1e-5)
    assert resumed.train_loss == pytest.approx(reference.train_loss, abs=1e-5)
    expected = load_file(str(reference.final_weights))
    actual = load_file(str(resumed.final_weights))
    assert expected.keys() == actual.keys()
    # The losses above are the contract (1e-5); weights agree to float32 round-off (reductions may
    # be ordered differently by a process with other thread timing).
    for name in expected:
        difference = (actual[name] - expected[name]).abs().max().item()
        assert difference < 5e-5, f"{name}: max abs difference {difference:.3g}"
    # the kept checkpoints: last K by step plus the best by validation loss
    names = sorted(p.name for p in (run_dir / "checkpoints").glob("*.ckpt"))
    assert [n for n in names if n.startswith("step-")] == ["step-0000012.ckpt", "step-0000016.ckpt"]
    assert len([n for n in names if n.startswith("best-")]) == 1

    # the same command again: the finished run is recognised, nothing is trained or evaluated twice
    metrics_csv = (run_dir / "metrics.csv").read_bytes()
    again = train(config)
    assert again.already_complete and again.resumed_from is None
    assert (run_dir / "metrics.csv").read_bytes() == metrics_csv
    assert again.global_step == 16
    assert again.val_loss == pytest.approx(resumed.val_loss, abs=1e-6)
    assert again.best_checkpoint == resumed.best_checkpoint and again.best_checkpoint.is_file()
    # a larger max_steps extends the same run from where it stopped
    extended = train(tiny_config(builder_export, corpus, run_dir, max_steps=20))
    assert extended.global_step == 20 and extended.resumed_from is not None
