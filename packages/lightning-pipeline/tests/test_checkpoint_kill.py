"""A process SIGKILLed in the middle of a checkpoint write leaves the previous checkpoint usable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from lightning_pipeline.checkpoint_io import load_checkpoint_file, read_metadata
from lightning_pipeline.run_folder import RunFolder

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")

WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import torch
    from lightning_pipeline import checkpoint_io

    target = Path(sys.argv[1])
    io = checkpoint_io.AtomicCheckpointIO()
    io.save_checkpoint({"global_step": 1, "epoch": 0, "state_dict": {"w": torch.ones(8)}}, target)

    # Slow the byte stream (the real torch.save, the real file) so that the parent's kill
    # lands while the second, large checkpoint is half written, every time.
    original = checkpoint_io._CheckpointWriter.write
    def slow_write(self, data):
        time.sleep(0.02)
        return original(self, data)
    checkpoint_io._CheckpointWriter.write = slow_write

    big = {f"w{i}": torch.randn(16 * 1024) for i in range(150)}  # about 10 MB
    io.save_checkpoint({"global_step": 2, "epoch": 0, "state_dict": big}, target)
    print("finished", flush=True)
    """
)


def wait_for_partial_temp_file(
    folder: Path, process: subprocess.Popen, timeout: float = 120.0
) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for candidate in folder.glob(".last.ckpt.tmp-*"):
            try:
                if candidate.stat().st_size > 100_000:
                    return candidate
            except FileNotFoundError:
                continue
        if process.poll() is not None:
            raise AssertionError(f"writer exited early: {process.communicate()}")
        time.sleep(0.005)
    raise AssertionError("the temporary checkpoint never appeared")


def test_sigkill_during_checkpoint_write_keeps_the_previous_checkpoint(tmp_path: Path) -> None:
    run = RunFolder.create(tmp_path / "run", config={"seed": 0}, model_config={"vocab_size": 10})
    target = run.checkpoints_dir / "last.ckpt"
    script = tmp_path / "writer.py"
    script.write_text(WRITER, encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, str(script), str(target)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        partial = wait_for_partial_temp_file(run.checkpoints_dir, process)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert "finished" not in process.stdout.read()

    assert partial.exists()  # the half-written bytes are there, under a temporary name only
    assert run.latest_valid_checkpoint() == target
    assert load_checkpoint_file(target)["global_step"] == 1
    assert read_metadata(target)["step"] == 1
    for checkpoint in run.checkpoints_dir.glob("*.ckpt"):
        load_checkpoint_file(checkpoint)  # no file under a checkpoint name fails to load
    assert run.remove_temporary_files() == [partial]
    assert sorted(p.name for p in run.checkpoints_dir.iterdir()) == ["last.ckpt", "last.ckpt.json"]
