"""`StepCheckpoint`: Lightning's `ModelCheckpoint` every N steps, keeping the newest K, plus the final step.

`ModelCheckpoint(every_n_train_steps=N)` alone never saves the step where training stops when N
does not divide it, so running the same command again would train the tail once more. This
subclass also saves at the end of training, so a finished run resumes as finished; a save that
falls on a validation step waits for the end of that validation (see `on_train_batch_end`). It also
removes, at the end, its own files that it no longer tracks: a run killed between saving a new
checkpoint and deleting an old one leaves a file behind that the resumed run does not know of.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import ModelCheckpoint

from lightning_pipeline.callbacks.durable_metrics import log_pending_step_metrics
from lightning_pipeline.errors import CheckpointError

# The parts of ModelCheckpoint this subclass builds on that are not public API. They have the same
# names and meaning from pytorch-lightning 2.4 (our lower bound) to today; the `deps` nox sessions
# run the tests at both ends. If a future release renames one, StepCheckpoint refuses to start with
# a message naming it, rather than silently never saving.
_LIGHTNING_INTERNALS = (
    "_should_skip_saving_checkpoint",
    "_save_topk_checkpoint",
    "_monitor_candidates",
    "_every_n_train_steps",
    "_last_global_step_saved",
)


def prune_untracked(callback: ModelCheckpoint, trainer: pl.Trainer, prefix: str) -> list[Path]:
    """Remove the callback's own checkpoints in its folder that it no longer tracks (rank zero).

    Only files this pipeline wrote are candidates: the name follows the callback's pattern
    (`<prefix>` then seven digits) and the metadata JSON that `AtomicCheckpointIO` writes next to
    each checkpoint names the file. Anything else in checkpoints/ (a user's copy, a file of
    another tool) is never deleted.
    """
    from lightning_pipeline.checkpoint_io import read_metadata

    if not trainer.is_global_zero or callback.dirpath is None:
        return []
    tracked = {Path(p).resolve() for p in callback.best_k_models}
    tracked |= {
        Path(p).resolve() for p in (callback.best_model_path, callback.last_model_path) if p
    }
    ours = re.compile(re.escape(prefix) + r"(step-)?\d{7}\.ckpt")
    removed = []
    for path in sorted(Path(callback.dirpath).glob(f"{prefix}*.ckpt")):
        if path.resolve() in tracked or not ours.fullmatch(path.name):
            continue
        if (read_metadata(path) or {}).get("checkpoint") != path.name:
            continue
        trainer.strategy.remove_checkpoint(path)
        removed.append(path)
    return removed


def relative_state(state: dict[str, Any]) -> dict[str, Any]:
    """`ModelCheckpoint.state_dict()` with file names instead of absolute paths.

    The run folder may be moved or renamed between resumes (a Drive folder on Colab): a
    checkpoint that names `/old/place/checkpoints/x.ckpt` would make Lightning forget (and
    later delete) the files it tracks, or read the best weights from the old place.
    """
    state = dict(state)
    state["dirpath"] = "."
    for key in ("best_model_path", "kth_best_model_path", "last_model_path"):
        if state.get(key):
            state[key] = Path(state[key]).name
    if isinstance(state.get("best_k_models"), dict):
        state["best_k_models"] = {Path(k).name: v for k, v in state["best_k_models"].items()}
    return state


def located_state(state: dict[str, Any], dirpath: str | os.PathLike[str]) -> dict[str, Any]:
    """The inverse of `relative_state`: every file name (or old absolute path) placed in `dirpath`.

    Absolute paths of checkpoints written before this existed are mapped by file name too, so the
    old location is never read.
    """
    folder = Path(dirpath)
    state = dict(state)
    state["dirpath"] = os.fspath(dirpath)
    for key in ("best_model_path", "kth_best_model_path", "last_model_path"):
        if state.get(key):
            state[key] = str(folder / Path(state[key]).name)
    if isinstance(state.get("best_k_models"), dict):
        state["best_k_models"] = {
            str(folder / Path(k).name): v for k, v in state["best_k_models"].items()
        }
    return state


class RelocatableCheckpoint(ModelCheckpoint):
    """A `ModelCheckpoint` whose saved state names files relative to its folder (see `relative_state`)."""

    def state_dict(self) -> dict[str, Any]:
        return relative_state(super().state_dict())

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(located_state(state_dict, self.dirpath or "."))


class StepCheckpoint(RelocatableCheckpoint):
    """Checkpoint `step-0000100.ckpt` every `every_n_train_steps` steps; keep the newest `keep_last`.

    Example:
        >>> pl.Trainer(callbacks=[StepCheckpoint("runs/demo/checkpoints", every_n_train_steps=100)])  # doctest: +SKIP
    """

    PREFIX = "step-"

    def __init__(
        self,
        dirpath: str | os.PathLike[str],
        *,
        every_n_train_steps: int,
        keep_last: int = 3,
        validation_every_n_steps: int | None = None,
    ) -> None:
        super().__init__(
            dirpath=os.fspath(dirpath),
            filename=self.PREFIX + "{step:07d}",
            auto_insert_metric_name=False,
            monitor="step",
            mode="max",
            save_top_k=keep_last,
            every_n_train_steps=every_n_train_steps,
            save_on_train_epoch_end=False,
        )
        missing = [name for name in _LIGHTNING_INTERNALS if not hasattr(self, name)]
        if missing:
            raise CheckpointError(
                f"pytorch-lightning {pl.__version__} lacks ModelCheckpoint.{', .'.join(missing)}, which "
                "StepCheckpoint builds on; install a release it was tested with "
                "(pip install 'pytorch-lightning>=2.4,<2.7') and report this version to us"
            )
        self.validation_every_n_steps = validation_every_n_steps
        self._save_after_validation = False

    @property
    def state_key(self) -> str:
        return "StepCheckpoint"

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if self._save_after_validation:  # the validation this save waited for did not happen
            self._save_now(trainer)
        step = trainer.global_step
        due = self._every_n_train_steps >= 1 and step % self._every_n_train_steps == 0
        validating = (
            self.validation_every_n_steps is not None
            and step % self.validation_every_n_steps == 0
            and trainer.enable_validation
        )
        if due and validating and not self._should_skip_saving_checkpoint(trainer):
            # Save after this step's validation, not before: Lightning resumes a checkpoint taken
            # at the end of a training step as if that step's validation had already run, so the
            # resumed run would skip it (and could keep another "best" checkpoint).
            self._save_after_validation = True
            return
        if due and not self._should_skip_saving_checkpoint(trainer):
            log_pending_step_metrics(trainer)  # the checkpoint covers this step: its row goes first
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_validation_end(trainer, pl_module)
        if self._save_after_validation and not trainer.sanity_checking:
            self._save_now(trainer)

    def _save_now(self, trainer: pl.Trainer) -> None:
        self._save_after_validation = False
        if self._should_skip_saving_checkpoint(trainer):
            return
        self._save_topk_checkpoint(trainer, self._monitor_candidates(trainer))
        self._last_global_step_saved = trainer.global_step

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_train_end(trainer, pl_module)
        if not trainer.interrupted:
            self._save_now(trainer)
        if not trainer.interrupted:
            prune_untracked(self, trainer, self.PREFIX)
