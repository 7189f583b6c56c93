"""Nothing lost: a run SIGKILLed a dozen times at random moments (real subprocesses, some kills while
a checkpoint's temporary file exists) ends with the uninterrupted run's weights, metrics.csv row by
row, and run.json; every file under a checkpoint name loads."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

from lightning_pipeline import train
from lightning_pipeline.checkpoint_io import TEMP_MARKER, load_checkpoint_file, read_metadata
from lightning_pipeline.metrics_logger import read_metrics_csv
from lightning_pipeline.run_folder import RunFolder

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")

CHILD = Path(__file__).with_name("resume_child.py")
KILLS = 12
PAUSE_MS = (
    300  # each checkpoint write in the child pauses this long with its temporary file on disk
)
TIMING_COLUMNS = {"tokens_per_s"}  # wall-clock measurements differ between any two runs


# This file's run, on top of conftest's TINY_RUN (see the tiny_config fixture).
RUN_SHAPE = dict(max_steps=48, checkpoint_every=2)


def _published_step(run_dir: Path) -> int:
    """The step of the newest step checkpoint with its metadata (what a resume would start from)."""
    steps = [
        meta["step"]
        for path in (run_dir / "checkpoints").glob("step-*.ckpt")
        if (meta := read_metadata(path)) is not None and isinstance(meta.get("step"), int)
    ]
    return max(steps, default=0)


def _temporary_checkpoint_steps(run_dir: Path) -> list[int]:
    found = []
    for path in (run_dir / "checkpoints").glob(f".*.ckpt{TEMP_MARKER}*"):
        if match := re.search(r"(\d{7})\.ckpt", path.name):
            found.append(int(match.group(1)))
    return found


def _kill_when(process: subprocess.Popen, ready, timeout: float = 240.0) -> bool:
    """SIGKILL `process` as soon as `ready()` holds; False when the process ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        if ready():
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=60)
            return True
        time.sleep(0.005)
    process.kill()
    raise AssertionError("the child made no progress")


def test_a_dozen_sigkills_lose_nothing(tmp_path, builder_export, corpus, tiny_config):
    reference = train(tiny_config(builder_export, corpus, tmp_path / "reference"))
    assert reference.status == "completed" and reference.global_step == 48

    run_dir = tmp_path / "killed"
    config = tiny_config(builder_export, corpus, run_dir)
    config_file = tmp_path / "config.json"
    config_file.write_text(config.to_json())
    rng = random.Random(12)
    kills = during_write = 0
    while kills < KILLS:
        start = _published_step(run_dir)
        process = subprocess.Popen(
            [sys.executable, str(CHILD), str(config_file), "slow_writes", str(PAUSE_MS)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        if kills % 2 == 0:  # while a checkpoint of a step after the next one is half written
            killed = _kill_when(
                process,
                lambda start=start: any(
                    s > start + 2 for s in _temporary_checkpoint_steps(run_dir)
                ),
            )
            during_write += killed
        else:  # at a random moment after the run has published a new checkpoint
            moment: list[float] = []

            def ready(start: int = start, moment: list[float] = moment) -> bool:
                if not moment and _published_step(run_dir) > start:
                    moment.append(time.monotonic() + rng.uniform(0.0, 0.8))
                return bool(moment) and time.monotonic() >= moment[0]

            killed = _kill_when(process, ready)
        if not killed:
            assert process.returncode == 0, process.stderr.read()[-3000:]
            break
        kills += 1
        assert process.returncode == -signal.SIGKILL
        for path in (run_dir / "checkpoints").glob("*.ckpt"):
            load_checkpoint_file(path)  # no file under a checkpoint name is ever half written
    assert kills >= 10 and during_write >= 5, (kills, during_write)

    resumed = train(config)
    assert resumed.status == "completed" and resumed.global_step == 48

    # weights
    expected, actual = (
        load_file(str(reference.final_weights)),
        load_file(str(resumed.final_weights)),
    )
    assert expected.keys() == actual.keys()
    for name in expected:
        assert (actual[name] - expected[name]).abs().max().item() < 5e-5, name
    # every checkpoint loads; the kept ones are the same as the uninterrupted run's
    names = sorted(p.name for p in (run_dir / "checkpoints").glob("*.ckpt"))
    for name in names:
        load_checkpoint_file(run_dir / "checkpoints" / name)
    assert names == sorted(p.name for p in (tmp_path / "reference" / "checkpoints").glob("*.ckpt"))
    # metrics.csv: every step exactly once, with the uninterrupted run's values
    want = read_metrics_csv(tmp_path / "reference" / "metrics.csv")
    got = read_metrics_csv(run_dir / "metrics.csv")
    assert sorted(got) == sorted(want) == list(range(49))
    for step in want:
        assert set(got[step]) - TIMING_COLUMNS == set(want[step]) - TIMING_COLUMNS, step
        for column, value in want[step].items():
            if column not in TIMING_COLUMNS:
                assert got[step][column] == pytest.approx(value, rel=1e-4, abs=1e-5), (step, column)
    # run.json: the same final figures, none null
    want_json = json.loads((tmp_path / "reference" / "run.json").read_text())
    got_json = json.loads((run_dir / "run.json").read_text())
    assert got_json["status"] == "completed"
    assert got_json["best_checkpoint"] == want_json["best_checkpoint"]
    for key in ("val_loss", "val_perplexity", "train_loss"):
        assert got_json["metrics"][key] is not None
        assert got_json["metrics"][key] == pytest.approx(
            want_json["metrics"][key], rel=1e-4, abs=1e-5
        ), key
    for key in ("global_step", "train_tokens"):
        assert got_json["metrics"][key] == want_json["metrics"][key]
    assert (
        RunFolder(run_dir).latest_valid_checkpoint(pattern="step-*.ckpt").name
        == "step-0000048.ckpt"
    )
