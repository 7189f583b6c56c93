"""`train(config)`: the whole training job, from a model folder and a data source to a finished run folder.

Three steps, each a function below: `_prepare` (load the model and check it -- a causal leak is
refused unless the adapter repairs it -- then the data, the tokenizer with the model's vocab size,
the run folder, the module and the Trainer; nothing is written before every input passed), `_fit`
(Lightning fit: checkpoints every N steps, last K + best by validation loss, atomic writes) and
`_finish` (final evaluation of the best weights -> `final/model.safetensors` + `run.json`).
Calling it again with the same run folder resumes from the newest checkpoint that loads, exactly
where the interrupted run stopped.
"""

from __future__ import annotations

import dataclasses
import glob
import logging
import os
import signal
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lightning_pipeline.config import RESULT_FIELDS, RESUMABLE_FIELDS, TrainingConfig
from lightning_pipeline.console import quiet_console
from lightning_pipeline.errors import CheckpointError, ConfigError, RunFolderError
from lightning_pipeline.model_check import check_model
from lightning_pipeline.run_folder import RunFolder

if TYPE_CHECKING:
    import pytorch_lightning as pl

    from lightning_pipeline.callbacks.best_checkpoint import BestCheckpoint
    from lightning_pipeline.datamodule import AdaptiveTokenizerDataModule
    from lightning_pipeline.metrics_logger import RunMetricsLogger
    from lightning_pipeline.module import LanguageModelingModule
    from model_adapter import ModelConfig, UniversalModelAdapter

logger = logging.getLogger(__name__)


@dataclass
class TrainingResult:
    """What a finished (or interrupted) `train()` call produced."""

    run_dir: Path
    status: str  # "completed" | "interrupted"
    global_step: int
    val_loss: float | None
    val_perplexity: float | None
    train_loss: float | None
    train_tokens: int
    best_checkpoint: Path | None
    final_weights: Path | None
    resumed_from: Path | None
    val_bits_per_byte: float | None = None  # comparable across tokenizers (bits_per_byte.py)
    already_complete: bool = False  # the run folder held this finished run: nothing was done

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        return {k: str(v) if isinstance(v, Path) else v for k, v in data.items()}

    @classmethod
    def from_metrics(
        cls,
        run_folder: RunFolder,
        status: str,
        metrics: Mapping[str, Any],
        *,
        best_checkpoint: Path | None = None,
        resumed_from: Path | None = None,
        already_complete: bool = False,
    ) -> TrainingResult:
        """The result from run.json-shaped `metrics` (the one place a result is assembled)."""
        return cls(
            run_dir=run_folder.path,
            status=status,
            global_step=int(metrics.get("global_step") or 0),
            val_loss=metrics.get("val_loss"),
            val_perplexity=metrics.get("val_perplexity"),
            train_loss=metrics.get("train_loss"),
            train_tokens=int(metrics.get("train_tokens") or 0),
            best_checkpoint=best_checkpoint,
            final_weights=run_folder.final_weights if status == "completed" else None,
            resumed_from=resumed_from,
            val_bits_per_byte=metrics.get("val_bits_per_byte"),
            already_complete=already_complete,
        )


def _rank() -> int:
    """Global rank before the Trainer exists (DDP children are launched with RANK / LOCAL_RANK set)."""
    return int(os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0")))


def load_user_tokenizer(config: TrainingConfig, vocab_size: int) -> Any:
    """The user's own tokenizer (`config.tokenizer`), held to the vocab contract; None when not given.

    Called before the run folder is written, so a tokenizer that does not fit the model (more
    tokens than the model's vocab, unreadable files) leaves nothing behind.
    """
    if not config.tokenizer:
        return None
    from adaptive_tokenizer import AdaptiveTokenizer

    return AdaptiveTokenizer.load_or_create(
        vocab_size=vocab_size, strategy="upload", tokenizer_path=config.tokenizer
    )


def _load_tokenizer(
    config: TrainingConfig,
    run_folder: RunFolder,
    vocab_size: int,
    dataset: Any,
    user_tokenizer: Any = None,
) -> Any:
    """The run's tokenizer: the saved one when resuming, else the user's or a new adaptive one, saved into the run."""
    from transformers import AutoTokenizer

    from lightning_pipeline.console import interactive_output

    if run_folder.has_tokenizer():
        logger.info("Using the run folder's tokenizer (%s)", run_folder.tokenizer_dir)
        return AutoTokenizer.from_pretrained(str(run_folder.tokenizer_dir))
    from adaptive_tokenizer import AdaptiveTokenizer

    tokenizer = (
        user_tokenizer
        if user_tokenizer is not None
        else AdaptiveTokenizer.load_or_create(
            vocab_size=vocab_size,
            dataset=dataset,
            strategy=config.tokenizer_strategy,
            show_progress=interactive_output(),  # the trainer's bars print bare newlines into a pipe
        )
    )
    if _rank() == 0:
        run_folder.save_tokenizer(tokenizer)
    return tokenizer


def _save_final_weights(model: Any, path: Path) -> None:
    from safetensors.torch import save_model

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    save_model(model, str(tmp))
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)


@dataclass
class _Run:
    """Everything `_prepare` built that `_fit` and `_finish` need."""

    config: TrainingConfig
    run_folder: RunFolder
    resume_from: Path | None
    adapter: UniversalModelAdapter
    module: LanguageModelingModule
    datamodule: AdaptiveTokenizerDataModule
    trainer: pl.Trainer
    metrics: RunMetricsLogger
    best_checkpoint: BestCheckpoint


@quiet_console()
def train(
    config: TrainingConfig | None = None,
    *,
    callbacks: Sequence[Any] = (),
    checkpoint_io: Any = None,
    overwrite: bool = False,
    **overrides: Any,
) -> TrainingResult:
    """Train (or resume) one run; returns the final metrics and paths.

    Args:
        config: the run's settings; keyword `overrides` replace single fields
            (`train(model="export/", data="example", out="runs/x", max_steps=300)` works too).
            `model=` may also be an already built `nn.Module` (its source is then not copied
            into the run folder's model/, so model-export needs the module itself).
        callbacks: extra Lightning callbacks, added after the pipeline's own.
        checkpoint_io: a Lightning `CheckpointIO` to use instead of `AtomicCheckpointIO()`
            (for instance a subclass that also copies checkpoints elsewhere).
        overwrite: when `config.out` holds a different run, move it aside (never deleted) and
            start anew (CLI: `--overwrite`); without it that is a `RunFolderConflictError`.

    Example:
        >>> from lightning_pipeline import TrainingConfig, train
        >>> result = train(TrainingConfig(model="export/", data="example", out="runs/demo", max_steps=300))  # doctest: +SKIP
        >>> result.val_perplexity  # doctest: +SKIP
    """
    config, model = _resolve_config(config, overrides)
    run = _prepare(
        config, model, callbacks=callbacks, checkpoint_io=checkpoint_io, overwrite=overwrite
    )
    if isinstance(run, TrainingResult):  # the folder already holds this finished run
        return run
    _fit(run)
    return _finish(run)


def _resolve_config(
    config: TrainingConfig | None, overrides: dict[str, Any]
) -> tuple[TrainingConfig, Any]:
    """The config with `overrides` applied, and the in-memory `nn.Module` passed as `model=` (or None)."""
    from torch import nn

    model = overrides.get("model")
    if isinstance(model, nn.Module):
        overrides = {**overrides, "model": f"<in-memory {type(model).__name__}>"}
    else:
        model = None
    if config is None:
        config = TrainingConfig(**overrides)
    elif overrides:
        config = config.replace(**overrides)
    if model is None and not config.model:
        raise ConfigError(
            "no model given; pass --model PATH (a folder with model.py + config.json)."
        )
    return config, model


# ---------------------------------------------------------------------- step 1: prepare
def _prepare(
    config: TrainingConfig,
    model: Any,
    *,
    callbacks: Sequence[Any],
    checkpoint_io: Any,
    overwrite: bool,
) -> _Run | TrainingResult:
    """Check every input, then open the run folder and build the module, the data and the Trainer.

    Every check comes before the run folder is written: a rejected model, unreadable data, a
    tokenizer that does not fit or an unknown logger leave nothing behind. Returns the recorded
    result instead when the folder already holds this finished run.
    """
    import pytorch_lightning as pl

    from lightning_pipeline.callbacks.best_checkpoint import BestCheckpoint
    from lightning_pipeline.callbacks.step_checkpoint import StepCheckpoint
    from lightning_pipeline.checkpoint_io import AtomicCheckpointIO
    from lightning_pipeline.data_sources import load_text_source
    from lightning_pipeline.datamodule import AdaptiveTokenizerDataModule
    from lightning_pipeline.experiment_loggers import build_loggers, check_loggers
    from lightning_pipeline.metrics_logger import RunMetricsLogger

    run_folder = RunFolder(Path(config.out).expanduser().resolve())
    is_rank_zero = _rank() == 0

    # Seed before the model is built: its initial weights are part of the run's identity.
    pl.seed_everything(config.seed, workers=True, verbose=False)
    config, adapter, model_config, check_key = _load_checked_model(config, model, run_folder)

    dataset = load_text_source(  # local .txt: read in chunks, constant memory
        config.data,
        text_column=config.text_column,
        config_name=config.data_config_name,
        document_split=config.document_split,
    )
    # (A resumed run keeps the tokenizer saved in its folder; the path may no longer exist.)
    reuses_saved = run_folder.has_tokenizer() and not overwrite
    user_tokenizer = (
        None if reuses_saved else load_user_tokenizer(config, int(model_config.vocab_size))
    )
    check_loggers(config.loggers)

    finished = None if overwrite else _finished_result(run_folder, config, model_config.to_dict())
    if finished is not None:
        logger.debug(
            "%s already holds this finished run; nothing to train or evaluate", run_folder.path
        )
        return finished

    # Resume only from the every-N-steps checkpoints, saved at the end of a training step. The
    # best-by-validation-loss ones are saved at the end of a validation; Lightning resumes from
    # those through a different (validation restart) path that does not reproduce the
    # uninterrupted run exactly, so they only provide the final weights.
    # Before run.json is touched: a folder whose earlier results cannot be resumed is refused.
    resume_from = _resume_point(
        run_folder, StepCheckpoint.PREFIX, BestCheckpoint.PREFIX, overwrite=overwrite
    )
    if is_rank_zero:
        run_folder = RunFolder.create(
            run_folder.path,
            config=config.to_dict(),
            model_config=model_config.to_dict(),
            data={"source": config.data, "num_train_tokens": None},
            overwrite=overwrite,
        )
        run_folder.remove_temporary_files()
        if check_key is not None:
            run_folder.update_run_json(model_check=check_key)
        if model is None and not run_folder.model_py.exists():
            run_folder.save_model_source(config.model)
    if resume_from is not None and not resume_from.exists():  # --overwrite moved that run aside
        resume_from = None
    if is_rank_zero:  # the values set on purpose; run.json holds the full config
        logger.info(
            "Training configuration (%s; full config in %s): %s",
            f"resuming from {resume_from.name}" if resume_from else "new run",
            run_folder.run_json_path.name,
            config.to_text(changed_only=True),
        )
    tokenizer = _load_tokenizer(
        config, run_folder, int(model_config.vocab_size), dataset, user_tokenizer
    )
    datamodule = AdaptiveTokenizerDataModule(
        tokenizer,
        dataset,
        seq_len=config.seq_len,
        batch_size=config.batch_size,
        val_fraction=config.val_fraction,
        seed=config.seed,
        packing=config.packing,
        num_workers=config.num_workers,
        cache_dir=str(run_folder.cache_dir),
        model_vocab_size=int(model_config.vocab_size),
    )
    module = _build_module(config, adapter)
    metrics = RunMetricsLogger(run_folder.path)
    pipeline_callbacks, best_checkpoint, live_bar = _build_callbacks(
        config, run_folder, metrics, model_config
    )
    trainer = _make_trainer(
        pl,
        config,
        default_root_dir=str(run_folder.path),
        num_nodes=config.num_nodes,
        precision=config.precision_for_trainer,
        max_steps=_max_steps(config),
        max_epochs=config.max_epochs if config.max_epochs else -1,
        val_check_interval=config.cadence.eval_every * config.accumulate_grad_batches,
        check_val_every_n_epoch=None,
        limit_val_batches=config.limit_val_batches,
        num_sanity_val_steps=0,
        gradient_clip_val=config.grad_clip,
        accumulate_grad_batches=config.accumulate_grad_batches,
        deterministic=config.deterministic,
        log_every_n_steps=config.cadence.log_every,
        enable_progress_bar=live_bar,
        enable_model_summary=False,  # the one-line model summary says what matters
        logger=[metrics, *build_loggers(config.loggers, run_folder.path, config.to_dict())]
        if is_rank_zero
        else metrics,
        callbacks=[*pipeline_callbacks, *callbacks],
        plugins=[checkpoint_io if checkpoint_io is not None else AtomicCheckpointIO()],
        # the training loader shards itself across ranks (EpochShuffleSampler) and must stay resumable
        use_distributed_sampler=False,
    )
    return _Run(
        config=config,
        run_folder=run_folder,
        resume_from=resume_from,
        adapter=adapter,
        module=module,
        datamodule=datamodule,
        trainer=trainer,
        metrics=metrics,
        best_checkpoint=best_checkpoint,
    )


def _load_checked_model(
    config: TrainingConfig, model: Any, run_folder: RunFolder
) -> tuple[TrainingConfig, UniversalModelAdapter, ModelConfig, dict[str, Any] | None]:
    """The model (wrapped), its config, and `config` with seq_len fitted to it, after the quick check.

    Returns the check's key too (recorded in run.json, so a resume of unchanged model files
    skips the check; None for a model without files).
    """
    from lightning_pipeline.model_check import (
        fit_seq_len,
        model_check_key,
        previous_model_check,
        quick_check_seq_len,
    )
    from model_adapter import UniversalModelAdapter, load_model

    loaded = load_model(model if model is not None else config.model, model_name=config.model_name)
    user_model, model_config = loaded.model, loaded.config
    seq_len = fit_seq_len(config.seq_len, model_config.max_seq_len)
    if seq_len != config.seq_len:
        logger.warning(
            "seq_len %d is longer than the model's max_seq_len %d; training with %d",
            config.seq_len,
            model_config.max_seq_len,
            seq_len,
        )
        config = dataclasses.replace(config, seq_len=seq_len)

    adapter = UniversalModelAdapter(user_model, model_config, causal=config.repair_causal_leak)
    check_seq_len = quick_check_seq_len(model_config.max_seq_len, config.seq_len)
    check_key = model_check_key(
        config.model if model is None else None,
        seq_len=check_seq_len,
        repaired=config.repair_causal_leak,
    )
    if check_key is not None and previous_model_check(run_folder) == check_key:
        logger.info(
            "Model files unchanged since they were checked (run.json): quick validation skipped"
        )
    else:
        check_model(
            adapter, model_config, seq_len=check_seq_len, repaired=config.repair_causal_leak
        )
        # the validation's gradient probe must not leak into step 1
        adapter.zero_grad(set_to_none=True)
    if _rank() == 0:
        params = sum(p.numel() for p in adapter.parameters())
        # The loader's line already names the model and its folder; the full forward signature
        # is for --verbose / debug logs.
        logger.info("model: %s parameters, %s", f"{params:,}", adapter.summary(brief=True))
        logger.debug("adapter: %s", adapter.summary())
    return config, adapter, model_config, check_key


def _max_steps(config: TrainingConfig) -> int:
    """Lightning's `max_steps` (-1: bounded by epochs)."""
    return config.max_steps if config.max_steps and config.max_steps > 0 else -1


def _build_module(config: TrainingConfig, adapter: UniversalModelAdapter) -> LanguageModelingModule:
    from lightning_pipeline.module import LanguageModelingModule

    max_steps = _max_steps(config)
    return LanguageModelingModule(
        adapter,
        lr=config.lr,
        weight_decay=config.weight_decay,
        betas=config.betas,
        warmup_steps=config.cadence.warmup_steps,
        schedule=config.schedule,
        min_lr_ratio=config.min_lr_ratio,
        total_steps=max_steps if max_steps > 0 else None,
        label_smoothing=config.label_smoothing,
        compile=config.compile,
        seed=config.seed,
    )


def _build_callbacks(
    config: TrainingConfig,
    run_folder: RunFolder,
    metrics: RunMetricsLogger,
    model_config: ModelConfig,
) -> tuple[list[pl.Callback], BestCheckpoint, bool]:
    """The pipeline's callbacks (order matters, see the comments), the best-checkpoint one, and
    whether a live progress bar is shown."""
    import pytorch_lightning as pl

    from lightning_pipeline.callbacks import LiveDashboard, TokenThroughputMonitor
    from lightning_pipeline.callbacks.best_checkpoint import BestCheckpoint
    from lightning_pipeline.callbacks.durable_metrics import DurableMetrics
    from lightning_pipeline.callbacks.plain_progress import PlainProgress
    from lightning_pipeline.callbacks.progress import step_bounded_progress_bar
    from lightning_pipeline.callbacks.step_checkpoint import StepCheckpoint
    from lightning_pipeline.console import interactive_output

    best_checkpoint = BestCheckpoint(run_folder.checkpoints_dir)
    found: list[pl.Callback] = [
        # logs tokens/s in on_train_batch_end: before the checkpoints, so a step checkpoint's row has it
        TokenThroughputMonitor(layers=model_config.layers, d_model=model_config.d_model),
        # metrics.csv on disk before each checkpoint; trimmed to it on resume
        DurableMetrics(metrics),
        best_checkpoint,  # before the step checkpoint: a kill between the two keeps the new best known
        StepCheckpoint(
            run_folder.checkpoints_dir,
            every_n_train_steps=config.cadence.checkpoint_every,
            keep_last=config.keep_last,
            validation_every_n_steps=config.cadence.eval_every,
        ),
        pl.callbacks.LearningRateMonitor(logging_interval="step"),
        LiveDashboard(metrics, run_folder.path, live=None if config.dashboard else False),
    ]
    live_bar = config.progress_bar and interactive_output()
    if live_bar and (bar := step_bounded_progress_bar()) is not None:
        found.append(bar)
    elif config.progress_bar:  # a log file or a pipe: plain lines instead of a bar redrawn in place
        tokens_per_step = config.batch_size * config.seq_len * config.accumulate_grad_batches
        found.append(PlainProgress(config.cadence.progress_every, tokens_per_step=tokens_per_step))
    if config.early_stopping_patience:
        found.append(
            pl.callbacks.EarlyStopping(
                monitor="val_loss", mode="min", patience=config.early_stopping_patience
            )
        )
    return found, best_checkpoint, live_bar


# ---------------------------------------------------------------------- step 2: fit
def _fit(run: _Run) -> None:
    """`trainer.fit`, resuming from `run.resume_from`; Ctrl-C leaves the run interrupted, not failed."""
    trainer = run.trainer
    if run.resume_from is not None:
        logger.info("Resuming from %s", run.resume_from)
    sigint_handler = signal.getsignal(signal.SIGINT)
    try:
        trainer.fit(
            run.module,
            datamodule=run.datamodule,
            ckpt_path=str(run.resume_from) if run.resume_from else None,
        )
    except SystemExit:
        # Lightning turns Ctrl-C into sys.exit(1) after its own clean-up; the run is interrupted
        # (checkpoints kept), not failed, and the caller decides what to print and how to exit.
        if not trainer.interrupted:
            raise
    except BaseException:
        if trainer.is_global_zero:
            run.run_folder.set_status("failed")
        raise
    finally:  # Lightning ignores further Ctrl-C after the first; give the caller its handler back
        if threading.current_thread() is threading.main_thread() and sigint_handler is not None:
            signal.signal(signal.SIGINT, sigint_handler)


# ---------------------------------------------------------------------- step 3: finish
def _finish(run: _Run) -> TrainingResult:
    """Record an interrupted run, or evaluate the best weights and write the final ones + run.json."""
    trainer, run_folder = run.trainer, run.run_folder
    metrics: dict[str, Any] = {
        "train_tokens": _train_tokens(trainer, run.config),
        "train_loss": _train_loss(run),
        "global_step": trainer.global_step,
    }
    if trainer.interrupted:
        if trainer.is_global_zero:
            run_folder.set_status("interrupted")
        logger.warning(
            "Training was interrupted at step %d; run the same command again to resume.",
            trainer.global_step,
        )
        return TrainingResult.from_metrics(
            run_folder, "interrupted", metrics, resumed_from=run.resume_from
        )

    # Final evaluation of the best weights (by validation loss), which are the ones exported.
    best_path = _load_best_weights(run)
    results = trainer.validate(run.module, datamodule=run.datamodule, verbose=False)
    evaluation = dict(results[0]) if results else {}
    metrics = {
        "val_loss": _scalar(evaluation.get("val_loss")),
        "val_perplexity": _scalar(evaluation.get("val_perplexity")),
        "val_bits_per_byte": _scalar(evaluation.get("val_bits_per_byte")),
        **metrics,
        "world_size": trainer.world_size,
    }
    if trainer.is_global_zero:
        _save_final_weights(run.adapter.model, run_folder.final_weights)
        stats = run.datamodule.stats()
        run_folder.update_run_json(
            status="completed",
            metrics=metrics,
            data={
                "source": run.config.data,
                "num_train_tokens": stats["num_train_tokens"],
                **stats,
            },
            best_checkpoint=run_folder.checkpoint_record(best_path) if best_path else None,
        )
        run.metrics.flush()
    logger.debug(
        "Finished: step %d, val loss %s, run folder %s",
        trainer.global_step,
        metrics["val_loss"],
        run_folder.path,
    )
    return TrainingResult.from_metrics(
        run_folder, "completed", metrics, best_checkpoint=best_path, resumed_from=run.resume_from
    )


def _train_loss(run: _Run) -> float | None:
    """The last training loss: the Trainer's, else run.json's (a finished run resumed), else metrics.csv's."""
    train_loss = _scalar(run.trainer.callback_metrics.get("train_loss"))
    if train_loss is None and run.run_folder.exists():
        train_loss = run.run_folder.read_run_json().get("metrics", {}).get("train_loss")
    if train_loss is None:  # e.g. killed after its last checkpoint, before run.json was updated
        train_loss = next(
            (row["train_loss"] for row in reversed(run.metrics.rows) if "train_loss" in row), None
        )
    return train_loss


def _load_best_weights(run: _Run) -> Path | None:
    """Load the best checkpoint's weights into the module; None (last step's weights) when it is gone or damaged."""
    from lightning_pipeline.checkpoint_io import load_checkpoint_file

    best = run.best_checkpoint.best_model_path
    if not best:
        return None
    best_path = Path(best)
    if not best_path.exists():
        logger.warning(
            "The best checkpoint %s is missing; the final weights are the last step's instead",
            best_path.name,
        )
        return None
    try:
        run.module.load_state_dict(load_checkpoint_file(best_path)["state_dict"])
    except CheckpointError as error:
        logger.warning(
            "The best checkpoint %s is damaged (%s); the final weights are the last step's instead",
            best_path.name,
            error,
        )
        return None
    return best_path


def _finished_result(
    run_folder: RunFolder, config: TrainingConfig, model_config: dict[str, Any]
) -> TrainingResult | None:
    """The recorded result when the folder holds a completed run of exactly this job, else None.

    Running the same command twice must not evaluate again: only settings that cannot change
    the result (where it runs, how it reports) may differ; a longer max_steps is a new job.
    """
    from lightning_pipeline.run_folder import run_differences

    if not run_folder.exists():
        return None
    try:
        previous = run_folder.read_run_json()
    except RunFolderError:  # a damaged run.json is RunFolder.create's to report
        return None
    metrics = previous.get("metrics") or {}
    if (
        previous.get("status") != "completed"
        or not metrics
        or not run_folder.final_weights.is_file()
    ):
        return None
    if run_differences(previous, config.to_dict(), model_config, RESUMABLE_FIELDS - RESULT_FIELDS):
        return None
    best = previous.get("best_checkpoint")
    return TrainingResult.from_metrics(
        run_folder,
        "completed",
        metrics,
        best_checkpoint=run_folder.recorded_path(best) if best else None,
        already_complete=True,
    )


def _make_trainer(pl: Any, config: TrainingConfig, **options: Any) -> Any:
    """`pl.Trainer(...)`; an accelerator, device count or strategy this machine cannot use is a `ConfigError`."""
    from lightning_fabric.utilities.exceptions import MisconfigurationException

    try:
        return pl.Trainer(
            accelerator=config.accelerator,
            devices=config.devices,
            strategy=config.strategy,
            **options,
        )
    except (MisconfigurationException, ValueError) as error:
        text = " ".join(str(error).split())
        raise ConfigError(
            f"the Trainer refused accelerator={config.accelerator!r}, devices={config.devices!r}, "
            f"strategy={config.strategy!r}: {text[:300]} Fix: choose values this machine supports "
            "(--accelerator cpu|gpu|auto, --strategy auto|ddp|fsdp|deepspeed ...)"
        ) from error


def _resume_point(
    run_folder: RunFolder, step_prefix: str, best_prefix: str, *, overwrite: bool = False
) -> Path | None:
    """The step checkpoint to resume from; refuses to start over when the run has results.

    A run folder whose checkpoints are all damaged, or that holds final weights but no
    checkpoint, is not silently trained again from step 0 (that would replace the earlier
    results): the error names each damaged file and the way to start again (`--overwrite`).
    A damaged best checkpoint is named in a warning (the final weights then come from a later
    best, or the last step).
    """
    resume_from, damaged = run_folder.scan_checkpoints(pattern=f"{step_prefix}*.ckpt")
    damaged_best = [  # each one opened: a valid newer file must not hide a damaged best
        found
        for path in run_folder.checkpoint_paths(f"{best_prefix}*.ckpt")
        for found in run_folder.scan_checkpoints(pattern=glob.escape(path.name))[1]
    ]
    for path, reason in damaged_best:
        logger.warning(
            "The best checkpoint %s is damaged (%s); it will not provide the final weights",
            path.name,
            reason,
        )
    if resume_from is not None:
        return resume_from
    if damaged or damaged_best or run_folder.final_weights.exists():
        found = "; ".join(f"{path.name}: {reason}" for path, reason in [*damaged, *damaged_best])
        what = (
            f"no checkpoint in it loads ({found})"
            if found
            else "it holds final weights but no checkpoint to resume from"
        )
        if overwrite:
            from lightning_pipeline.run_folder import move_aside

            moved = move_aside(run_folder.path)
            logger.warning(
                "%s held an earlier run but %s; moved it to %s to start again",
                run_folder.path,
                what,
                moved,
            )
            return None
        raise RunFolderError(
            f"{run_folder.path} holds an earlier run but {what}: pass --overwrite (overwrite=True) to move "
            f"it aside (renamed to {run_folder.path.name}.replaced-<time>, never deleted) and start again, "
            "or restore a checkpoint"
        )
    return None


def _scalar(value: Any) -> float | None:
    if value is None:
        return None
    return float(value.item() if hasattr(value, "item") else value)


def _train_tokens(trainer: Any, config: TrainingConfig) -> int:
    return int(
        trainer.global_step
        * config.accumulate_grad_batches
        * config.batch_size
        * config.seq_len
        * trainer.world_size
    )
