"""Child process of the resume tests: train a run folder, and SIGKILL itself at a chosen point.

    python resume_child.py CONFIG_JSON KIND STEP

KIND: "after_step" (right after optimizer step STEP and its checkpoint, if any),
"during_write" (halfway through writing the step checkpoint of step STEP: a half-written temporary
file is left behind), "before_metadata" (after the step checkpoint of STEP is renamed into place,
before its metadata JSON exists), "slow_writes" (run to the end, each checkpoint write pausing
STEP milliseconds after its first bytes, so that a parent can kill it while a temporary
checkpoint file exists), or "none" (run to the end).
"""

from __future__ import annotations

import io
import os
import signal
import sys
import time
from pathlib import Path

import pytorch_lightning as pl
import torch

from lightning_pipeline import TrainingConfig, train
from lightning_pipeline import checkpoint_io as checkpoint_io_module
from lightning_pipeline.checkpoint_io import AtomicCheckpointIO, atomic_write_bytes


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class KillAfterStep(pl.Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            die()


class DyingCheckpointIO(AtomicCheckpointIO):
    def __init__(self, step: int, kind: str) -> None:
        super().__init__()
        self.step = step
        self.kind = kind

    def save_checkpoint(self, checkpoint, path, storage_options=None) -> None:
        if checkpoint.get("global_step") != self.step or not Path(path).name.startswith("step-"):
            return super().save_checkpoint(checkpoint, path, storage_options)
        if self.kind == "during_write":
            buffer = io.BytesIO()
            torch.save(checkpoint, buffer)
            data = buffer.getvalue()

            def half_then_die(handle) -> None:
                handle.write(data[: len(data) // 2])
                handle.flush()
                os.fsync(handle.fileno())
                die()

            atomic_write_bytes(Path(path), half_then_die)
        else:  # before_metadata: the checkpoint is complete, its metadata JSON never written
            buffer = io.BytesIO()
            torch.save(checkpoint, buffer)
            atomic_write_bytes(Path(path), lambda handle: handle.write(buffer.getvalue()))
            die()
        return None


def slow_down_checkpoint_writes(pause_s: float) -> None:
    """Pause each checkpoint write after its first bytes (the real torch.save into the real file)."""
    writer = checkpoint_io_module._CheckpointWriter
    original = writer.write

    def write(self, data):
        written = original(self, data)
        if self.size == written:  # the first write of this checkpoint: its temporary file exists
            self._handle.flush()
            time.sleep(pause_s)
        return written

    writer.write = write


def main() -> None:
    config = TrainingConfig.from_json(Path(sys.argv[1]).read_text())
    kind, step = sys.argv[2], int(sys.argv[3])
    callbacks, checkpoint_io = [], None
    if kind == "after_step":
        callbacks.append(KillAfterStep(step))
    elif kind == "slow_writes":
        slow_down_checkpoint_writes(step / 1000)
    elif kind in ("during_write", "before_metadata"):
        checkpoint_io = DyingCheckpointIO(step, kind)
    train(config, callbacks=callbacks, checkpoint_io=checkpoint_io)


if __name__ == "__main__":
    main()
