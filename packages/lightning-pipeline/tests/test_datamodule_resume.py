"""The training loader resumes mid-epoch exactly, alone and under a real Lightning Trainer."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import TensorDataset

from lightning_pipeline.checkpoint_io import AtomicCheckpointIO
from lightning_pipeline.errors import DataModuleError
from lightning_pipeline.resumable_loader import EpochShuffleSampler, ResumableDataLoader


def numbered(n: int) -> TensorDataset:
    return TensorDataset(torch.arange(n))


def ids(batches) -> list[list[int]]:
    return [batch[0].tolist() for batch in batches]


def test_order_depends_on_seed_and_epoch_only() -> None:
    sampler = EpochShuffleSampler(50, seed=3)
    sampler.set_epoch(0)
    epoch0 = list(sampler)
    sampler.set_epoch(1)
    epoch1 = list(sampler)
    fresh = EpochShuffleSampler(50, seed=3)
    fresh.set_epoch(1)

    assert sorted(epoch0) == list(range(50))
    assert epoch0 != epoch1
    assert list(fresh) == epoch1
    assert list(EpochShuffleSampler(50, seed=4)) != epoch0


def test_ranks_split_one_permutation_without_overlap() -> None:
    ranks = [EpochShuffleSampler(21, seed=0, num_replicas=2, rank=r) for r in (0, 1)]

    orders = [list(s) for s in ranks]

    assert len(orders[0]) == len(orders[1]) == len(ranks[0]) == 10
    assert not set(orders[0]) & set(orders[1])


def test_loader_state_resumes_after_the_last_batch_it_gave() -> None:
    reference = ResumableDataLoader(numbered(30), batch_size=4, seed=7)
    reference.epoch_sampler.set_epoch(2)
    expected = ids(reference)

    interrupted = ResumableDataLoader(numbered(30), batch_size=4, seed=7)
    interrupted.epoch_sampler.set_epoch(2)
    iterator = iter(interrupted)
    seen = [next(iterator)[0].tolist() for _ in range(3)]
    state = interrupted.state_dict()

    resumed = ResumableDataLoader(numbered(30), batch_size=4, seed=7)
    resumed.load_state_dict(state)
    rest = ids(resumed)

    assert state["epoch"] == 2 and state["batches"] == 3
    assert seen + rest == expected
    assert resumed.state_dict()["batches"] == len(expected)
    resumed.epoch_sampler.set_epoch(3)
    assert len(ids(resumed)) == len(expected)  # the skip applies to the saved epoch only


def test_state_saved_at_epoch_end_does_not_skip_the_next_epoch() -> None:
    loader = ResumableDataLoader(numbered(12), batch_size=4, seed=0)
    list(loader)
    state = loader.state_dict()

    resumed = ResumableDataLoader(numbered(12), batch_size=4, seed=0)
    resumed.load_state_dict(state)
    resumed.epoch_sampler.set_epoch(1)  # what Lightning does when the next epoch starts

    assert len(ids(resumed)) == 3


def test_state_from_other_data_is_refused() -> None:
    state = ResumableDataLoader(numbered(30), batch_size=4).state_dict()

    with pytest.raises(DataModuleError, match="dataset_size 30 -> 31"):
        ResumableDataLoader(numbered(31), batch_size=4).load_state_dict(state)
    with pytest.raises(DataModuleError, match="batch_size 4 -> 5"):
        ResumableDataLoader(numbered(30), batch_size=5).load_state_dict(state)


class RecordingModule(pl.LightningModule):
    """A real LightningModule that remembers which samples each training step saw."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(1, 1)
        self.seen: list[list[int]] = []

    def training_step(self, batch, batch_idx):
        (x,) = batch
        self.seen.append(x.tolist())
        return self.layer(x.float().unsqueeze(-1)).pow(2).mean()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


class NumberedData(pl.LightningDataModule):
    def train_dataloader(self):
        return ResumableDataLoader(numbered(26), batch_size=4, seed=5)  # 7 batches per epoch


def trainer(root: Path, max_steps: int, callbacks=()) -> pl.Trainer:
    return pl.Trainer(
        max_steps=max_steps,
        default_root_dir=root,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=list(callbacks),
        plugins=[AtomicCheckpointIO()],
        enable_checkpointing=bool(callbacks),
    )


@pytest.mark.parametrize("stop_at", [3, 7, 10])  # mid-epoch, exactly at an epoch end, second epoch
def test_lightning_resume_sees_exactly_the_uninterrupted_batches(
    tmp_path: Path, stop_at: int
) -> None:
    full = RecordingModule()
    trainer(tmp_path / "full", 17).fit(full, datamodule=NumberedData())

    first = RecordingModule()
    checkpoint = pl.callbacks.ModelCheckpoint(
        dirpath=tmp_path / "ckpt", save_last=True, every_n_train_steps=stop_at
    )
    trainer(tmp_path / "a", stop_at, [checkpoint]).fit(first, datamodule=NumberedData())
    second = RecordingModule()
    trainer(tmp_path / "b", 17).fit(
        second, datamodule=NumberedData(), ckpt_path=tmp_path / "ckpt" / "last.ckpt"
    )

    assert len(full.seen) == 17
    assert first.seen + second.seen == full.seen
