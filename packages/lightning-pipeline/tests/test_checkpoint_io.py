"""AtomicCheckpointIO: atomic saves, metadata, Drive-friendly removal, weights_only loading."""

from __future__ import annotations

import json
import os
import pickle
import random
import signal
import zlib
from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from lightning_pipeline.checkpoint_io import (
    AtomicCheckpointIO,
    checksum_mismatch,
    load_checkpoint_file,
    metadata_path,
    read_metadata,
)
from lightning_pipeline.errors import CheckpointError


def small_checkpoint(step: int = 3) -> dict:
    return {"global_step": step, "epoch": 1, "state_dict": {"w": torch.full((4,), float(step))}}


def test_save_writes_checkpoint_and_metadata_without_leftovers(tmp_path: Path) -> None:
    path = tmp_path / "ckpts" / "step=3.ckpt"

    AtomicCheckpointIO().save_checkpoint(
        {**small_checkpoint(), "metrics": {"val_loss": torch.tensor(2.5)}}, path
    )

    assert sorted(p.name for p in path.parent.iterdir()) == ["step=3.ckpt", "step=3.ckpt.json"]
    meta = json.loads(metadata_path(path).read_text())
    assert meta["step"] == 3 and meta["epoch"] == 1 and meta["val_loss"] == 2.5
    assert meta["size"] == path.stat().st_size
    assert meta["checksum"] == "zip-crc32" and checksum_mismatch(path, meta) is None
    assert "T" in meta["time"]
    assert torch.equal(
        AtomicCheckpointIO().load_checkpoint(path)["state_dict"]["w"], torch.full((4,), 3.0)
    )


def test_the_recorded_checksum_catches_a_changed_byte_in_any_tensor(tmp_path: Path) -> None:
    path = tmp_path / "big.ckpt"
    tensors = {f"w{i}": torch.randn(600, 600) for i in range(4)}
    AtomicCheckpointIO().save_checkpoint(
        {"global_step": 1, "epoch": 0, "state_dict": tensors}, path
    )
    meta = json.loads(metadata_path(path).read_text())
    assert meta["size"] == path.stat().st_size > 4 * 600 * 600 * 4
    original = path.read_bytes()

    for tensor in tensors.values():
        start = original.find(tensor.numpy().tobytes()[:256])
        assert start > 0
        damaged = bytearray(original)
        damaged[start + tensor.numel() * 2] ^= 0x01  # one bit in the middle of this tensor
        path.write_bytes(bytes(damaged))
        assert "crc32 differs" in (checksum_mismatch(path, meta) or "")
    path.write_bytes(original[: len(original) // 2])
    assert "not a whole checkpoint" in (checksum_mismatch(path, meta) or "")
    path.write_bytes(original)
    assert checksum_mismatch(path, meta) is None


def test_metadata_of_older_versions_keeps_its_whole_file_crc32(tmp_path: Path) -> None:
    path = tmp_path / "old.ckpt"
    AtomicCheckpointIO().save_checkpoint(small_checkpoint(), path)
    meta = {"step": 3, "crc32": f"{zlib.crc32(path.read_bytes()):08x}"}  # release 0.2.0's metadata
    assert checksum_mismatch(path, meta) is None
    assert "crc32 differs" in (checksum_mismatch(path, {**meta, "crc32": "00000000"}) or "")


def test_failed_save_keeps_the_previous_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint(small_checkpoint(1), path)
    before = path.read_bytes()

    # A lambda cannot be pickled; which of these pickle raises varies by Python version.
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        io.save_checkpoint({**small_checkpoint(2), "bad": lambda: None}, path)

    assert path.read_bytes() == before
    assert read_metadata(path)["step"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt", "last.ckpt.json"]


class _CtrlCWhilePickled:
    """Pickles as the int 7, sending this process a real SIGINT (Ctrl-C) while it is pickled."""

    def __reduce__(self):
        signal.raise_signal(signal.SIGINT)
        return (int, (7,))


def test_ctrl_c_during_a_save_finishes_the_checkpoint_then_interrupts(tmp_path: Path) -> None:
    path = tmp_path / "step-4.ckpt"

    with pytest.raises(KeyboardInterrupt):
        AtomicCheckpointIO().save_checkpoint(
            {**small_checkpoint(4), "x": _CtrlCWhilePickled()}, path
        )

    # The interrupt came after the checkpoint and its metadata were published, not half way.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-4.ckpt", "step-4.ckpt.json"]
    assert read_metadata(path)["step"] == 4
    assert checksum_mismatch(path, read_metadata(path)) is None
    assert torch.load(path, weights_only=False)["x"] == 7  # our own test file: trusted
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored


def test_remove_truncates_before_deleting(tmp_path: Path) -> None:
    path = tmp_path / "old.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint(small_checkpoint(), path)
    # A second name for the same data stands in for Drive's trash, which keeps deleted files.
    trash = tmp_path / "trash-copy"
    os.link(path, trash)
    assert trash.stat().st_size > 0

    io.remove_checkpoint(path)

    assert not path.exists()
    assert not metadata_path(path).exists()
    assert trash.stat().st_size == 0


def test_remove_of_a_missing_checkpoint_is_quiet(tmp_path: Path) -> None:
    AtomicCheckpointIO().remove_checkpoint(tmp_path / "never.ckpt")


def test_load_refuses_arbitrary_objects(tmp_path: Path) -> None:
    path = tmp_path / "evil.ckpt"
    torch.save(
        {"state_dict": {}, "payload": Path("x")}, path
    )  # a pickled class outside the allowlist

    with pytest.raises(CheckpointError, match=r"PosixPath|WindowsPath|pathlib"):
        AtomicCheckpointIO().load_checkpoint(path)


def test_load_reports_truncated_and_empty_files(tmp_path: Path) -> None:
    path = tmp_path / "cut.ckpt"
    AtomicCheckpointIO().save_checkpoint(small_checkpoint(), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    empty = tmp_path / "empty.ckpt"
    empty.write_bytes(b"")

    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint_file(path)
    with pytest.raises(CheckpointError, match="empty"):
        load_checkpoint_file(empty)


def test_rng_states_load_with_weights_only(tmp_path: Path) -> None:
    path = tmp_path / "rng.ckpt"
    state = {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": np.random.get_state(),
    }
    AtomicCheckpointIO().save_checkpoint({"global_step": 1, "rng": state}, path)

    loaded = load_checkpoint_file(path)["rng"]

    assert torch.equal(loaded["torch"], state["torch"])
    assert np.array_equal(loaded["numpy"][1], state["numpy"][1])


class TinyRegression(pl.LightningModule):
    def __init__(self, lr: float = 0.05) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.layer = torch.nn.Linear(4, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self.layer(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.layer(x), y))

    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(self.parameters(), lr=self.hparams.lr)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 / (1 + step))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


def regression_loaders() -> tuple[DataLoader, DataLoader]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=generator)
    data = TensorDataset(x, x.sum(dim=1, keepdim=True))
    return DataLoader(data, batch_size=8), DataLoader(data, batch_size=16)


def fit(
    root: Path,
    max_steps: int,
    checkpoint: pl.callbacks.ModelCheckpoint,
    ckpt_path: Path | None = None,
) -> pl.Trainer:
    trainer = pl.Trainer(
        max_steps=max_steps,
        default_root_dir=root,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        val_check_interval=4,
        check_val_every_n_epoch=None,
        num_sanity_val_steps=0,
        callbacks=[checkpoint, pl.callbacks.EarlyStopping("val_loss", patience=100)],
        plugins=[AtomicCheckpointIO()],
    )
    trainer.fit(TinyRegression(), *regression_loaders(), ckpt_path=ckpt_path)
    return trainer


def retention_callback(folder: Path) -> pl.callbacks.ModelCheckpoint:
    return pl.callbacks.ModelCheckpoint(
        dirpath=folder,
        filename="step-{step}",
        monitor="val_loss",
        mode="min",
        save_top_k=2,
        save_last=True,
        every_n_train_steps=4,
    )


def test_model_checkpoint_retention_runs_through_the_atomic_io(tmp_path: Path) -> None:
    folder = tmp_path / "checkpoints"
    callback = retention_callback(folder)

    fit(tmp_path, 24, callback)

    checkpoints = sorted(p.name for p in folder.glob("*.ckpt"))
    metadata = sorted(p.name for p in folder.glob("*.json"))
    assert len(checkpoints) == 3 and "last.ckpt" in checkpoints  # top 2 + last; the rest removed
    assert metadata == sorted(name + ".json" for name in checkpoints)
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]
    for name in checkpoints:
        loaded = load_checkpoint_file(folder / name)  # weights_only=True, Lightning's own content
        meta = read_metadata(folder / name)
        assert meta["step"] == loaded["global_step"]
        assert meta["val_loss"] is not None
    best = Path(callback.best_model_path)
    assert read_metadata(best)["val_loss"] == pytest.approx(float(callback.best_model_score))


def test_trainer_resumes_from_a_checkpoint_loaded_with_weights_only(tmp_path: Path) -> None:
    folder = tmp_path / "checkpoints"
    fit(tmp_path, 8, retention_callback(folder))

    resumed = fit(tmp_path, 16, retention_callback(folder), ckpt_path=folder / "last.ckpt")

    assert resumed.global_step == 16
    assert read_metadata(folder / "last.ckpt")["step"] == 16


def test_trainer_resume_goes_through_the_weights_only_loader(tmp_path: Path) -> None:
    folder = tmp_path / "checkpoints"
    fit(tmp_path, 4, retention_callback(folder))
    checkpoint = torch.load(folder / "last.ckpt", weights_only=True)
    checkpoint["smuggled"] = Path("not/allowed")  # an object weights_only must refuse
    torch.save(checkpoint, folder / "tampered.ckpt")

    with pytest.raises(CheckpointError, match="weights_only"):
        fit(tmp_path, 8, retention_callback(folder), ckpt_path=folder / "tampered.ckpt")


@pytest.mark.parametrize("seed", range(40))
def test_random_garbage_is_a_checkpoint_error(tmp_path: Path, seed: int) -> None:
    # Random bytes reach different corners of torch's unpickler (seed 2 hits an IndexError).
    path = tmp_path / "step-1.ckpt"
    path.write_bytes(random.Random(seed).randbytes(2000))

    with pytest.raises(CheckpointError, match=r"step-1\.ckpt"):
        load_checkpoint_file(path)
