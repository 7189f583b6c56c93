"""`train(config)`: the whole training job, from a model folder and a data source to a finished run folder.

load model -> quick Tier 1 validation (a causal leak is refused unless the adapter repairs it) ->
tokenizer with the model's vocab size -> packed data -> Lightning fit (checkpoints every N steps,
last K + best by validation loss, atomic writes) -> final evaluation of the best weights ->
`final/model.safetensors` + `run.json`. Calling it again with the same run folder resumes from the
newest checkpoint that loads, exactly where the interrupted run stopped.
"""

from __future__ import annotations

import dataclasses
import glob
import logging
import os
import shutil
import signal
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lightning_pipeline.config import TrainingConfig
from lightning_pipeline.console import quiet_console
from lightning_pipeline.errors import (
    CheckpointError,
    ConfigError,
    ModelRejectedError,
    RunFolderError,
)

logger = logging.getLogger(__name__)

# TrainingConfig fields that may change when a run is resumed (on top of RunFolder's own list):
# how often to evaluate, checkpoint and log, and the warmup the CLI derives from --max-steps.
RESUMABLE_FIELDS = frozenset(
    {
        "eval_every",
        "checkpoint_every",
        "log_every",
        "keep_last",
        "limit_val_batches",
        "warmup_steps",
        "extra",
        "progress_every",
        "loggers",
    }
)


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


def _rank() -> int:
    """Global rank before the Trainer exists (DDP children are launched with RANK / LOCAL_RANK set)."""
    return int(os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0")))


def check_model(adapter: Any, model_config: Any, seq_len: int, *, repaired: bool = True) -> None:
    """Quick Tier 1 validation; a failure (a causal leak above all) stops the run before training.

    With `repaired=True` the adapter injects a causal mask into attention that is called without
    one (what every builder export does), and the model is checked as repaired; a model that
    still sees the future (attention the repair cannot reach) is refused. With `repaired=False`
    the raw model is checked and any leak is refused.
    """
    from model_adapter import validate_model

    report = validate_model(adapter, model_config, seq_len=seq_len, quick=True, causal=repaired)
    for check in report.checks:
        if check.status == "warning":
            logger.warning("model check %s: %s", check.name, check.message)
    if not report.passed:
        failed = [c for c in report.checks if c.status == "failed"]
        first = failed[0] if failed else None
        detail = f"{first.name}: {first.message}" if first else "see the validation report"
        hint = f" Fix: {first.hint}" if first is not None and getattr(first, "hint", None) else ""
        if first is not None and "causal" in first.name and not repaired:
            hint = " Fix: train with repair_causal_leak=True (CLI: drop --no-causal-repair) to inject a causal mask."
        raise ModelRejectedError(f"the model failed quick validation ({detail}).{hint}")


def _saved_tokenizer(run_dir: Path) -> Path | None:
    saved = run_dir / "tokenizer"
    return (
        saved
        if (saved / "tokenizer.json").exists() or (saved / "tokenizer_config.json").exists()
        else None
    )


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
    config: TrainingConfig, run_dir: Path, vocab_size: int, dataset: Any, user_tokenizer: Any = None
) -> Any:
    """The run's tokenizer: the saved one when resuming, else the user's or a new adaptive one, saved into the run."""
    from transformers import AutoTokenizer

    from lightning_pipeline.console import interactive_output

    saved = run_dir / "tokenizer"
    if _saved_tokenizer(run_dir) is not None:
        logger.info("Using the run folder's tokenizer (%s)", saved)
        return AutoTokenizer.from_pretrained(str(saved))
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
        tmp = run_dir / ".tokenizer.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tokenizer.save_pretrained(str(tmp))
        shutil.rmtree(saved, ignore_errors=True)
        os.replace(tmp, saved)
    return tokenizer


def _save_final_weights(model: Any, path: Path) -> None:
    from safetensors.torch import save_model

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    save_model(model, str(tmp))
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _load_module_weights(module: Any, checkpoint_path: Path) -> None:
    from lightning_pipeline.checkpoint_io import load_checkpoint_file

    module.load_state_dict(load_checkpoint_file(checkpoint_path)["state_dict"])


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
    import pytorch_lightning as pl
    from torch import nn

    from lightning_pipeline.callbacks import LiveDashboard, TokenThroughputMonitor
    from lightning_pipeline.callbacks.best_checkpoint import BestCheckpoint
    from lightning_pipeline.callbacks.durable_metrics import DurableMetrics
    from lightning_pipeline.callbacks.plain_progress import PlainProgress
    from lightning_pipeline.callbacks.progress import step_bounded_progress_bar
    from lightning_pipeline.callbacks.step_checkpoint import StepCheckpoint
    from lightning_pipeline.checkpoint_io import AtomicCheckpointIO
    from lightning_pipeline.console import interactive_output
    from lightning_pipeline.data_sources import load_text_source
    from lightning_pipeline.datamodule import AdaptiveTokenizerDataModule
    from lightning_pipeline.experiment_loggers import build_loggers, check_loggers
    from lightning_pipeline.metrics_logger import RunMetricsLogger
    from lightning_pipeline.model_check import model_check_key, previous_model_check
    from lightning_pipeline.module import LanguageModelingModule
    from lightning_pipeline.run_folder import RESUMABLE_CONFIG_KEYS, RunFolder
    from model_adapter import UniversalModelAdapter, load_model

    model = overrides.get("model")
    if isinstance(model, nn.Module):
        overrides["model"] = f"<in-memory {type(model).__name__}>"
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

    run_dir = Path(config.out).expanduser().resolve()
    is_rank_zero = _rank() == 0

    # Seed before the model is built: its initial weights are part of the run's identity.
    pl.seed_everything(config.seed, workers=True, verbose=False)
    loaded = load_model(model if model is not None else config.model, model_name=config.model_name)
    user_model, model_config = loaded.model, loaded.config
    if model_config.max_seq_len and config.seq_len > model_config.max_seq_len:
        logger.warning(
            "seq_len %d is longer than the model's max_seq_len %d; training with %d",
            config.seq_len,
            model_config.max_seq_len,
            model_config.max_seq_len,
        )
        config = dataclasses.replace(config, seq_len=int(model_config.max_seq_len))

    # Check the model before anything is written: a rejected model leaves no run folder behind.
    adapter = UniversalModelAdapter(user_model, model_config, causal=config.repair_causal_leak)
    check_seq_len = min(config.seq_len, 32)
    check_key = model_check_key(
        config.model if model is None else None,
        seq_len=check_seq_len,
        repaired=config.repair_causal_leak,
    )
    if check_key is not None and previous_model_check(run_dir) == check_key:
        logger.info(
            "Model files unchanged since they were checked (run.json): quick validation skipped"
        )
    else:
        check_model(
            adapter, model_config, seq_len=check_seq_len, repaired=config.repair_causal_leak
        )
        adapter.zero_grad(
            set_to_none=True
        )  # the validation's gradient probe must not leak into step 1
    if is_rank_zero:
        params = sum(p.numel() for p in adapter.parameters())
        logger.info(
            "model: %s, %s parameters, %s",
            type(user_model).__name__,
            f"{params:,}",
            adapter.summary(),
        )

    # Every other input is checked before the run folder is written, too: data, tokenizer, loggers.
    dataset = load_text_source(  # local .txt: read in chunks, constant memory
        config.data,
        text_column=config.text_column,
        config_name=config.data_config_name,
        document_split=config.document_split,
    )
    # (A resumed run keeps the tokenizer saved in its folder; the path may no longer exist.)
    reuses_saved = _saved_tokenizer(run_dir) is not None and not overwrite
    user_tokenizer = (
        None if reuses_saved else load_user_tokenizer(config, int(model_config.vocab_size))
    )
    check_loggers(config.loggers)

    finished = None if overwrite else _finished_result(run_dir, config, model_config.to_dict())
    if finished is not None:
        logger.info("%s already holds this finished run; nothing to train or evaluate", run_dir)
        return finished

    # Resume only from the every-N-steps checkpoints, saved at the end of a training step. The
    # best-by-validation-loss ones are saved at the end of a validation; Lightning resumes from
    # those through a different (validation restart) path that does not reproduce the
    # uninterrupted run exactly, so they only provide the final weights.
    # Before run.json is touched: a folder whose earlier results cannot be resumed is refused.
    resume_from = _resume_point(
        RunFolder(run_dir), StepCheckpoint.PREFIX, BestCheckpoint.PREFIX, overwrite=overwrite
    )
    if is_rank_zero:
        run_folder = RunFolder.create(
            run_dir,
            config=config.to_dict(),
            model_config=model_config.to_dict(),
            data={"source": config.data, "num_train_tokens": None},
            resumable_keys=RESUMABLE_CONFIG_KEYS | RESUMABLE_FIELDS,
            overwrite=overwrite,
        )
        run_folder.remove_temporary_files()
        if check_key is not None:
            run_folder.update_run_json(model_check=check_key)
        if model is None and not (run_folder.model_dir / "model.py").exists():
            run_folder.save_model_source(config.model)
    else:
        run_folder = RunFolder(run_dir)
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
        config, run_dir, int(model_config.vocab_size), dataset, user_tokenizer
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
        cache_dir=str(run_dir / "cache"),
        model_vocab_size=int(model_config.vocab_size),
    )

    max_steps = config.max_steps if config.max_steps and config.max_steps > 0 else -1
    module = LanguageModelingModule(
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

    checkpoints_dir = run_dir / "checkpoints"
    metrics = RunMetricsLogger(run_dir)
    step_checkpoints = StepCheckpoint(
        checkpoints_dir,
        every_n_train_steps=config.cadence.checkpoint_every,
        keep_last=config.keep_last,
        validation_every_n_steps=config.cadence.eval_every,
    )
    best_checkpoint = BestCheckpoint(checkpoints_dir)
    all_callbacks: list[pl.Callback] = [
        # logs tokens/s in on_train_batch_end: before the checkpoints, so a step checkpoint's row has it
        TokenThroughputMonitor(layers=model_config.layers, d_model=model_config.d_model),
        DurableMetrics(
            metrics
        ),  # metrics.csv on disk before each checkpoint; trimmed to it on resume
        best_checkpoint,  # before the step checkpoint: a kill between the two keeps the new best known
        step_checkpoints,
        pl.callbacks.LearningRateMonitor(logging_interval="step"),
        LiveDashboard(metrics, run_dir, live=None if config.dashboard else False),
    ]
    live_bar = config.progress_bar and interactive_output()
    if live_bar and (bar := step_bounded_progress_bar()) is not None:
        all_callbacks.append(bar)
    elif config.progress_bar:  # a log file or a pipe: plain lines instead of a bar redrawn in place
        tokens_per_step = config.batch_size * config.seq_len * config.accumulate_grad_batches
        all_callbacks.append(
            PlainProgress(config.cadence.progress_every, tokens_per_step=tokens_per_step)
        )
    if config.early_stopping_patience:
        all_callbacks.append(
            pl.callbacks.EarlyStopping(
                monitor="val_loss", mode="min", patience=config.early_stopping_patience
            )
        )

    trainer = _make_trainer(
        pl,
        config,
        default_root_dir=str(run_dir),
        num_nodes=config.num_nodes,
        precision=config.precision_for_trainer,
        max_steps=max_steps,
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
        enable_model_summary=False,  # the one-line model summary above says what matters
        logger=[metrics, *build_loggers(config.loggers, run_dir, config.to_dict())]
        if is_rank_zero
        else metrics,
        callbacks=[*all_callbacks, *callbacks],
        plugins=[checkpoint_io if checkpoint_io is not None else AtomicCheckpointIO()],
        # the training loader shards itself across ranks (EpochShuffleSampler) and must stay resumable
        use_distributed_sampler=False,
    )
    if resume_from is not None:
        logger.info("Resuming from %s", resume_from)
    sigint_handler = signal.getsignal(signal.SIGINT)
    try:
        trainer.fit(
            module, datamodule=datamodule, ckpt_path=str(resume_from) if resume_from else None
        )
    except SystemExit:
        # Lightning turns Ctrl-C into sys.exit(1) after its own clean-up; the run is interrupted
        # (checkpoints kept), not failed, and the caller decides what to print and how to exit.
        if not trainer.interrupted:
            raise
    except BaseException:
        if trainer.is_global_zero:
            run_folder.set_status("failed")
        raise
    finally:  # Lightning ignores further Ctrl-C after the first; give the caller its handler back
        if threading.current_thread() is threading.main_thread() and sigint_handler is not None:
            signal.signal(signal.SIGINT, sigint_handler)

    train_loss = _scalar(trainer.callback_metrics.get("train_loss"))
    if (
        train_loss is None and run_folder.exists()
    ):  # resumed a finished run: nothing was trained now
        train_loss = run_folder.read_run_json().get("metrics", {}).get("train_loss")
    if train_loss is None:  # e.g. killed after its last checkpoint, before run.json was updated
        train_loss = next(
            (row["train_loss"] for row in reversed(metrics.rows) if "train_loss" in row), None
        )
    if trainer.interrupted:
        if trainer.is_global_zero:
            run_folder.set_status("interrupted")
        logger.warning(
            "Training was interrupted at step %d; run the same command again to resume.",
            trainer.global_step,
        )
        return TrainingResult(
            run_dir=run_dir,
            status="interrupted",
            global_step=trainer.global_step,
            val_loss=None,
            val_perplexity=None,
            train_loss=train_loss,
            train_tokens=_train_tokens(trainer, config),
            best_checkpoint=None,
            final_weights=None,
            resumed_from=resume_from,
        )

    # Final evaluation of the best weights (by validation loss), which are the ones exported.
    best_path = Path(best_checkpoint.best_model_path) if best_checkpoint.best_model_path else None
    if best_path is not None and best_path.exists():
        try:
            _load_module_weights(module, best_path)
        except CheckpointError as error:
            logger.warning(
                "The best checkpoint %s is damaged (%s); the final weights are the last step's instead",
                best_path.name,
                error,
            )
            best_path = None
    elif best_path is not None:
        logger.warning(
            "The best checkpoint %s is missing; the final weights are the last step's instead",
            best_path.name,
        )
        best_path = None
    results = trainer.validate(module, datamodule=datamodule, verbose=False)
    val_loss = float(results[0]["val_loss"]) if results else None
    val_perplexity = float(results[0]["val_perplexity"]) if results else None
    val_bits_per_byte = (
        float(results[0]["val_bits_per_byte"])
        if results and "val_bits_per_byte" in results[0]
        else None
    )

    final_weights = run_dir / "final" / "model.safetensors"
    train_tokens = _train_tokens(trainer, config)
    if trainer.is_global_zero:
        _save_final_weights(adapter.model, final_weights)
        stats = datamodule.stats()
        run_folder.update_run_json(
            status="completed",
            metrics={
                "val_loss": val_loss,
                "val_perplexity": val_perplexity,
                "val_bits_per_byte": val_bits_per_byte,
                "train_tokens": train_tokens,
                "train_loss": train_loss,
                "global_step": trainer.global_step,
                "world_size": trainer.world_size,
            },
            data={"source": config.data, "num_train_tokens": stats["num_train_tokens"], **stats},
            best_checkpoint=f"checkpoints/{best_path.name}" if best_path else None,
        )
        metrics.flush()
    logger.debug(
        "Finished: step %d, val loss %s, run folder %s", trainer.global_step, val_loss, run_dir
    )
    return TrainingResult(
        run_dir=run_dir,
        status="completed",
        global_step=trainer.global_step,
        val_loss=val_loss,
        val_perplexity=val_perplexity,
        train_loss=train_loss,
        train_tokens=train_tokens,
        best_checkpoint=best_path,
        final_weights=final_weights,
        resumed_from=resume_from,
        val_bits_per_byte=val_bits_per_byte,
    )


def _finished_result(
    run_dir: Path, config: TrainingConfig, model_config: dict[str, Any]
) -> TrainingResult | None:
    """The recorded result when `run_dir` holds a completed run of exactly this job, else None.

    Running the same command twice must not evaluate again: only settings that cannot change
    the result (where it runs, how it reports) may differ; a longer max_steps is a new job.
    """
    from lightning_pipeline.run_folder import RESUMABLE_CONFIG_KEYS, RunFolder, _differences

    folder = RunFolder(run_dir)
    if not folder.exists():
        return None
    try:
        previous = folder.read_run_json()
    except RunFolderError:  # a damaged run.json is RunFolder.create's to report
        return None
    metrics = previous.get("metrics") or {}
    if (
        previous.get("status") != "completed"
        or not metrics
        or not (run_dir / "final" / "model.safetensors").is_file()
    ):
        return None
    same_result = (RESUMABLE_CONFIG_KEYS | RESUMABLE_FIELDS) - {
        "max_steps",
        "max_epochs",
        "early_stopping_patience",
        "limit_val_batches",
    }
    if _differences(
        previous.get("config", {}), config.to_dict(), "config", frozenset(same_result)
    ) or _differences(
        previous.get("model_config", {}), model_config, "model_config", frozenset({"source"})
    ):
        return None
    best = previous.get("best_checkpoint")
    return TrainingResult(
        run_dir=run_dir,
        status="completed",
        global_step=int(metrics.get("global_step") or 0),
        val_loss=metrics.get("val_loss"),
        val_perplexity=metrics.get("val_perplexity"),
        train_loss=metrics.get("train_loss"),
        train_tokens=int(metrics.get("train_tokens") or 0),
        best_checkpoint=run_dir / "checkpoints" / best if best else None,
        final_weights=run_dir / "final" / "model.safetensors",
        resumed_from=None,
        val_bits_per_byte=metrics.get("val_bits_per_byte"),
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
    run_folder: Any, step_prefix: str, best_prefix: str, *, overwrite: bool = False
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
