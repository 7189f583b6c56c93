"""The machine's errors as one line, exit 2, nothing lost; Ctrl-C as a clean stop (real subprocesses).

Full and read-only disks are real tmpfs mounts (root only; skipped with the reason otherwise).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from lightning_pipeline.checkpoint_io import load_checkpoint_file


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("lightning-pipeline")
    found = str(script) if script.exists() else shutil.which("lightning-pipeline")
    if found is None:
        pytest.fail("the lightning-pipeline console script is not installed")
    return [found]


def _train_args(export: Path, corpus: Path, out: Path, *extra: str) -> list[str]:
    return [
        "train",
        "--model",
        str(export),
        "--data",
        str(corpus),
        "--out",
        str(out),
        "--seq-len",
        "16",
        "--batch-size",
        "4",
        "--limit-val-batches",
        "2",
        "--no-progress-bar",
        *extra,
    ]


def _run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([*_cli(), *args], capture_output=True, text=True, timeout=600)


def _assert_one_line_error(result: subprocess.CompletedProcess, *needles: str) -> str:
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr[-3000:]
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


@pytest.fixture
def tmpfs(tmp_path: Path):
    """Mount a real tmpfs of a given size; every mount is lazily unmounted afterwards."""
    mounted: list[Path] = []

    def mount(name: str, size: str, *, read_only: bool = False) -> Path:
        point = tmp_path / name
        point.mkdir()
        made = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)], capture_output=True
        )
        if made.returncode != 0:
            pytest.skip(
                f"cannot mount a tmpfs here ({made.stderr.decode(errors='replace').strip()[:100]})"
            )
        mounted.append(point)
        if read_only:
            subprocess.run(["mount", "-o", "remount,ro", str(point)], check=True)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", "--lazy", str(point)], check=False)


def test_out_in_a_read_only_folder_is_one_line(tmp_path, tmpfs, builder_export, corpus):
    read_only = tmpfs("read-only", "1m", read_only=True)

    result = _run(_train_args(builder_export, corpus, read_only / "run", "--max-steps", "2"))

    _assert_one_line_error(
        result, str(read_only / "run"), "Read-only file system", "choose an output folder"
    )


def test_a_disk_that_fills_up_during_training_is_one_line_and_keeps_what_was_written(
    tmp_path, tmpfs, builder_export, corpus
):
    small = tmpfs("small-disk", "1m")
    out = small / "run"

    result = _run(
        _train_args(
            builder_export,
            corpus,
            out,
            "--max-steps",
            "40",
            "--checkpoint-every",
            "4",
            "--eval-every",
            "4",
            "--keep-last",
            "3",
        )
    )

    _assert_one_line_error(result, "disk is full")
    assert (out / "run.json").is_file() and json.loads(
        (out / "run.json").read_text()
    )  # still whole JSON
    for path in (out / "checkpoints").glob("*.ckpt"):
        load_checkpoint_file(path)  # nothing under a checkpoint name is half written


@pytest.mark.parametrize(
    ("flags", "needles"),
    [
        (("--strategy", "dpp"), ("strategy='dpp'", "invalid strategy name")),
        (("--accelerator", "gpu"), ("accelerator='gpu'", "No supported gpu backend")),
    ],
    ids=["misspelt-strategy", "gpu-without-gpu"],
)
def test_trainer_settings_this_machine_cannot_use_are_one_line(
    tmp_path, builder_export, corpus, flags, needles
):
    if "gpu" in flags and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")

    result = _run(_train_args(builder_export, corpus, tmp_path / "run", "--max-steps", "2", *flags))

    _assert_one_line_error(result, *needles)


@pytest.mark.skipif(
    not hasattr(signal, "SIGINT") or os.name != "posix", reason="needs POSIX signals"
)
def test_ctrl_c_keeps_the_checkpoint_marks_the_run_interrupted_and_prints_the_resume_command(
    tmp_path, builder_export, corpus
):
    out = tmp_path / "run"
    args = _train_args(
        builder_export,
        corpus,
        out,
        "--max-steps",
        "100000",
        "--checkpoint-every",
        "2",
        "--eval-every",
        "1000",
    )
    # A shell's background job inherits SIGINT ignored (and Python then installs no KeyboardInterrupt
    # handler); a terminal's Ctrl-C reaches a process with the default disposition, as here.
    process = subprocess.Popen(
        [*_cli(), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 300
    while not list((out / "checkpoints").glob("step-*.ckpt.json")):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()[1][
            -3000:
        ]
        time.sleep(0.05)

    process.send_signal(signal.SIGINT)
    try:
        stdout, stderr = process.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
        pytest.fail(
            f"still running 300 s after Ctrl-C; stdout: {stdout[-1500:]} stderr: {stderr[-3000:]}"
        )

    assert process.returncode == 130, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    assert shlex.join(["lightning-pipeline", *args]) in stdout
    assert json.loads((out / "run.json").read_text())["status"] == "interrupted"
    kept = sorted((out / "checkpoints").glob("step-*.ckpt"))
    assert kept
    for path in kept:
        load_checkpoint_file(path)
