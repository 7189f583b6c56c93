"""A training DataLoader that can stop in the middle of an epoch and continue exactly there.

Lightning (>= 2.3) saves the `state_dict()` of every training dataloader that has
`state_dict`/`load_state_dict` into the checkpoint (`loops.fit_loop.state_dict.combined_loader`)
and hands it back through `load_state_dict` when a run resumes. It does not skip batches by
itself. `ResumableDataLoader` records the epoch and how many batches of it were handed out;
after `load_state_dict` its next iteration over that same epoch starts at the following batch,
and the shuffle order is a function of (seed, epoch) only, so the resumed run sees exactly the
batches the uninterrupted run would have seen.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sized
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

logger = logging.getLogger(__name__)

_STATE_VERSION = 1


class EpochShuffleSampler(DistributedSampler):
    """Shuffles with a generator seeded by (seed, epoch) only; shards itself across ranks.

    Lightning calls `set_epoch` at every epoch start. With several processes (DDP) each rank
    takes every `num_replicas`-th index of the same permutation; the tail that does not divide
    evenly is dropped so that ranks stay in step. It is a `DistributedSampler`, so Lightning keeps
    it as it is instead of wrapping it in its own distributed sampler. Ranks default to the
    initialised `torch.distributed` process group, else one process.
    """

    def __init__(
        self,
        dataset_size: int,
        *,
        seed: int = 0,
        shuffle: bool = True,
        num_replicas: int | None = None,
        rank: int | None = None,
    ) -> None:
        if num_replicas is None:
            distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
            num_replicas = torch.distributed.get_world_size() if distributed else 1
            if rank is None:
                rank = torch.distributed.get_rank() if distributed else 0
        super().__init__(
            range(int(dataset_size)),  # type: ignore[arg-type]  # only its length is used
            num_replicas=num_replicas,
            rank=rank or 0,
            shuffle=shuffle,
            seed=seed,
            drop_last=True,
        )
        self.dataset_size = int(dataset_size)
        self.start_index = 0  # positions of this rank's order to skip (set when resuming)

    def order(self, epoch: int | None = None) -> list[int]:
        """This rank's full order of sample indices for `epoch` (default: the current one)."""
        return self._order_tensor(epoch).tolist()

    def _order_tensor(self, epoch: int | None = None) -> torch.Tensor:
        # A tensor (8 bytes per index), not a list (about 36 per index): with millions of rows
        # over a memory-mapped token store the order is the largest thing the loader holds.
        epoch = self.epoch if epoch is None else epoch
        if self.shuffle:
            generator = torch.Generator()
            generator.manual_seed(self.seed * 1_000_003 + epoch)
            indices = torch.randperm(self.dataset_size, generator=generator)
        else:
            indices = torch.arange(self.dataset_size)
        return indices[self.rank : self.total_size : self.num_replicas]

    def __iter__(self) -> Iterator[int]:
        start, self.start_index = self.start_index, 0
        order = self._order_tensor()
        for chunk in order[start:].split(65_536):
            yield from chunk.tolist()

    def __len__(self) -> int:
        return self.num_samples


class ResumableDataLoader(DataLoader):
    """A `DataLoader` over an `EpochShuffleSampler` with `state_dict`/`load_state_dict`.

    The state is ``{"epoch", "batches", "batch_size", "dataset_size", "num_replicas", "seed"}``
    (per rank under DDP): loading it makes
    the next iteration over epoch `epoch` skip its first `batches` batches (only indices are
    skipped, no sample is loaded). A state from a different dataset size, batch size or seed
    is refused, because its positions would mean other samples.
    """

    def __init__(
        self,
        dataset: Dataset[Any],
        *,
        batch_size: int,
        seed: int = 0,
        shuffle: bool = True,
        drop_last: bool = False,
        num_workers: int = 0,
        pin_memory: bool = False,
        collate_fn: Any = None,
        persistent_workers: bool = False,
    ) -> None:
        if not isinstance(dataset, Sized):
            raise TypeError("ResumableDataLoader needs a map-style dataset with __len__")
        sampler = EpochShuffleSampler(len(dataset), seed=seed, shuffle=shuffle)
        super().__init__(
            dataset,
            batch_size=batch_size,
            sampler=sampler,
            drop_last=drop_last,
            num_workers=num_workers,
            pin_memory=pin_memory,
            collate_fn=collate_fn,
            persistent_workers=persistent_workers and num_workers > 0,
        )
        self.seed = seed
        self.shuffle = shuffle
        self._batches_in_epoch = 0
        self._pending: dict[str, int] | None = None

    @property
    def epoch_sampler(self) -> EpochShuffleSampler:
        assert isinstance(self.sampler, EpochShuffleSampler)
        return self.sampler

    def __iter__(self) -> Iterator[Any]:  # type: ignore[override]
        # A generator: runs at the first `next()`, i.e. after Lightning's `set_epoch`.
        sampler = self.epoch_sampler
        skip = 0
        if self._pending is not None:
            if self._pending["epoch"] == sampler.epoch:
                skip = self._pending["batches"]
                logger.info("Resuming epoch %d after batch %d", sampler.epoch, skip)
            self._pending = None
        sampler.start_index = skip * int(self.batch_size or 1)
        self._batches_in_epoch = skip
        for batch in super().__iter__():
            self._batches_in_epoch += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        return {
            "version": _STATE_VERSION,
            "epoch": self.epoch_sampler.epoch,
            "batches": self._batches_in_epoch,
            "batch_size": int(self.batch_size or 1),
            "dataset_size": self.epoch_sampler.dataset_size,
            "num_replicas": self.epoch_sampler.num_replicas,
            "seed": self.seed,
        }

    def load_state_dict(self, state: dict[str, int]) -> None:
        expected = {
            "batch_size": int(self.batch_size or 1),
            "dataset_size": self.epoch_sampler.dataset_size,
            "num_replicas": self.epoch_sampler.num_replicas,
            "seed": self.seed,
        }
        different = {k: (state.get(k), v) for k, v in expected.items() if state.get(k) != v}
        if different:
            from lightning_pipeline.errors import DataModuleError

            changes = ", ".join(f"{k} {old} -> {new}" for k, (old, new) in different.items())
            raise DataModuleError(
                f"cannot resume the data position: the data changed since the checkpoint ({changes}); "
                "resume with the same data, seq_len, batch size and seed, or start a new run folder"
            )
        self._pending = {"epoch": int(state["epoch"]), "batches": int(state["batches"])}
        self.epoch_sampler.set_epoch(int(state["epoch"]))
