"""`TrainingConfig`: every knob of one training job, as one JSON-serialisable dataclass.

The one source of every default and every derived value: the CLI's `train` flags are generated
from these fields (their help is each field's `help` metadata), the wizard and the notebook
build this object, and `run.json` stores it whole, so a run folder says exactly how it was
produced. Values left at `None` where the help says "derived" (evaluation, checkpoint, log and
progress cadence, warmup) are computed here from `max_steps`, so `train --max-steps 300` and
`train(TrainingConfig(max_steps=300))` are the same run.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple, cast

from lightning_pipeline.errors import ConfigError

SCHEDULES = ("cosine", "linear", "constant")
DOCUMENT_SPLITS = ("paragraph", "file", "line")
PRECISIONS = ("auto", "32", "32-true", "bf16-mixed", "16-mixed", "bf16-true")
TOKENIZER_STRATEGIES = ("auto", "pretrained", "bpe", "character", "upload")
LOGGERS = ("csv", "tensorboard", "wandb", "mlflow")
# What `precision_for_trainer` hands to `pl.Trainer(precision=...)`: PRECISIONS minus the aliases.
TrainerPrecision = Literal["32-true", "bf16-mixed", "16-mixed", "bf16-true"]
# Fields whose None means "derived from max_steps" (see `TrainingConfig.derived_defaults`).
DERIVED_FIELDS = ("warmup_steps", "eval_every", "checkpoint_every", "log_every", "progress_every")
# Fields a run may change when it is resumed (the one list: `RunFolder.create` ignores them when
# it decides whether a folder holds the same run): how long it trains, where it runs, and how
# often it evaluates, checkpoints, logs and reports.
RESUMABLE_FIELDS = frozenset(
    {
        "max_steps", "max_epochs", "early_stopping_patience", "out", "accelerator", "devices",
        "num_nodes", "strategy", "precision", "compile", "num_workers", "progress_bar",
        "dashboard", "eval_every", "checkpoint_every", "log_every", "progress_every", "keep_last",
        "limit_val_batches", "warmup_steps", "loggers", "extra",
    }
)  # fmt: skip
# Of those, the ones that change what a finished run produced: a completed run folder is only
# "already done" when these are equal too (a longer max_steps is a new job).
RESULT_FIELDS = frozenset(
    {"max_steps", "max_epochs", "early_stopping_patience", "limit_val_batches"}
)


class Cadence(NamedTuple):
    """The derived-or-given step counts of a config, as ints."""

    warmup_steps: int
    eval_every: int
    checkpoint_every: int
    log_every: int
    progress_every: int


def _meta(help: str, **cli: Any) -> dict[str, Any]:
    """Field metadata: the help text, and CLI hints (flag, aliases, nargs, parse, choices, group)."""
    return {"help": help, **cli}


def _field(default: Any, help: str, **cli: Any) -> Any:
    """A dataclass field with an immutable default and its help text (see `_meta`)."""
    return field(default=default, metadata=_meta(help, **cli))


def _comma_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _number(text: str) -> int | float:
    value = float(text)
    return (
        int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value
    )


def _devices(text: str) -> int | str:
    return int(text) if text.isdigit() else text


@dataclass
class TrainingConfig:
    """Configuration of one training run (model, data, optimisation, checkpoints, hardware).

    Example:
        >>> cfg = TrainingConfig(model="path/to/export", data="example", out="runs/demo", max_steps=300)
        >>> cfg.eval_every, cfg.warmup_steps  # derived from max_steps: 10 evaluations, 10% warmup
        (30, 30)
        >>> TrainingConfig.from_json(cfg.to_json()) == cfg
        True
    """

    # What to train and where to write it.
    model: str = _field(
        "", "folder with model.py + config.json, a model.py, or a GitHub Gist ID/URL"
    )
    data: str = _field(
        "example",
        "'example', a local .txt/.csv/.jsonl/.parquet file or folder, or a Hub dataset name",
    )
    out: str = _field("runs/run", "the run folder (created; resumed when it holds the same run)")
    model_name: str | None = _field(None, "class name in model.py when it defines several models")
    text_column: str | None = _field(
        None, "the dataset column holding the text (found automatically when unique)"
    )
    document_split: str = _field(
        "paragraph",
        "how plain text is cut into documents, each ending with end-of-text: paragraph "
        "(blocks separated by an empty line, newlines inside kept), file (each file whole) or line",
        choices=DOCUMENT_SPLITS,
    )
    data_config_name: str | None = _field(
        None, "Hugging Face dataset configuration name", aliases=["--data-config"]
    )
    tokenizer: str | list[str] | None = field(
        default=None,
        metadata=_meta(
            "your own tokenizer: a save_pretrained folder, a tokenizer.json, or vocab.json merges.txt",
            nargs="+",
            metavar="PATH",
        ),
    )
    tokenizer_strategy: str = _field(
        "auto", "how to get a tokenizer of the model's vocab size", choices=TOKENIZER_STRATEGIES
    )
    repair_causal_leak: bool = _field(
        True,
        "inject a causal mask into attention called without one (off: such a model is refused)",
        flag="causal-repair",
    )
    # Length of training: max_steps wins when both are set; -1 / None means "not limited by it".
    max_steps: int = _field(
        -1, "optimizer steps to train for (-1: bounded by --max-epochs)", group="length"
    )
    max_epochs: int | None = _field(
        None, "epochs to train for (when --max-steps is not given)", group="length"
    )
    # Data.
    seq_len: int = _field(128, "tokens per training sequence (at most the model's max_seq_len)")
    batch_size: int = _field(8, "sequences per batch")
    val_fraction: float = _field(0.1, "share of the documents held out for validation")
    packing: bool = _field(True, "pack documents into full blocks (off: pad each document)")
    num_workers: int = _field(0, "DataLoader worker processes")
    # Optimisation.
    lr: float = _field(3e-4, "peak learning rate (AdamW)")
    min_lr_ratio: float = _field(
        0.1, "final learning rate as a share of --lr (cosine and linear schedules)"
    )
    weight_decay: float = _field(0.1, "AdamW weight decay")
    betas: tuple[float, float] = _field(
        (0.9, 0.95), "AdamW betas", nargs=2, parse=float, metavar="B"
    )
    warmup_steps: int | None = _field(
        None, "learning-rate warmup steps (derived: 10% of --max-steps, at most 100)"
    )
    schedule: str = _field("cosine", "learning-rate schedule after warmup", choices=SCHEDULES)
    grad_clip: float | None = _field(1.0, "gradient norm clipping (0 or none: off)")
    accumulate_grad_batches: int = _field(
        1, "batches per optimizer step (gradient accumulation)", aliases=["--accumulate"]
    )
    label_smoothing: float = _field(0.0, "label smoothing of the cross-entropy loss")
    # Evaluation, checkpoints, logging.
    eval_every: int | None = _field(
        None, "steps between validations (derived: 10 per run, at most every 100 steps)"
    )
    limit_val_batches: int | float = _field(
        10,
        "batches per validation, the same ones each time (a fraction <= 1.0: that share; 1.0 = all)",
        parse=_number,
    )
    checkpoint_every: int | None = _field(
        None, "steps between checkpoints (derived: as --eval-every)"
    )
    keep_last: int = _field(3, "step checkpoints to keep (plus the best one)")
    early_stopping_patience: int | None = _field(
        None, "stop after this many validations without improvement"
    )
    log_every: int | None = _field(None, "steps between metric rows (derived: at most 10)")
    progress_every: int | None = _field(
        None,
        "steps between plain progress lines when the output is not a terminal (derived: 20 per run)",
    )
    loggers: list[str] = field(
        default_factory=list,
        metadata=_meta(
            f"extra experiment loggers, comma-separated: {', '.join(LOGGERS)}",
            flag="logger",
            parse=_comma_list,
            metavar="NAMES",
        ),
    )
    # Hardware.
    precision: str = _field(
        "auto",
        "numeric precision ('auto': bf16-mixed on GPUs that support it, else 32)",
        choices=PRECISIONS,
    )
    accelerator: str = _field("auto", "cpu, gpu, mps or auto")
    devices: int | str = _field("auto", "number of devices, or auto", parse=_devices)
    num_nodes: int = _field(
        1, "machines (multi-node DDP, e.g. under torchrun); each runs --devices processes"
    )
    strategy: str = _field("auto", "Lightning strategy: auto, ddp, fsdp, ...")
    compile: bool = _field(False, "torch.compile the model")
    seed: int = _field(0, "random seed (weights, data order, dropout)")
    deterministic: bool = _field(
        True, "deterministic algorithms (the same run gives the same numbers)"
    )
    dashboard: bool = _field(True, "live loss curves in notebooks and curves.png")
    progress_bar: bool = _field(True, "progress bar in terminals and notebooks")
    extra: dict[str, Any] = field(
        default_factory=dict,
        metadata=_meta("free-form JSON stored with the run", parse=json.loads, metavar="JSON"),
    )

    def __post_init__(self) -> None:
        self.betas = (float(self.betas[0]), float(self.betas[1]))
        if isinstance(self.tokenizer, (list, tuple)):
            paths = [str(p) for p in self.tokenizer]
            self.tokenizer = paths[0] if len(paths) == 1 else paths
        if isinstance(self.loggers, str):
            self.loggers = _comma_list(self.loggers)
        self.loggers = list(self.loggers)
        if self.grad_clip is not None and self.grad_clip <= 0:
            self.grad_clip = None
        if (
            isinstance(self.limit_val_batches, float)
            and self.limit_val_batches > 1
            and self.limit_val_batches.is_integer()
        ):
            self.limit_val_batches = int(self.limit_val_batches)
        self.validate()
        # Remember which values were derived, so `replace(max_steps=...)` derives them again.
        self._derived = frozenset(name for name in DERIVED_FIELDS if getattr(self, name) is None)
        for name, value in self.derived_defaults().items():
            if getattr(self, name) is None:
                setattr(self, name, value)
        self._validate_cadence()

    def derived_defaults(self) -> dict[str, int]:
        """The cadence and warmup this config's `max_steps` implies (the one place this policy lives).

        Short runs validate and checkpoint 10 times per run (at most every 100 steps), warm up over
        10% of the steps (at most 100), log at least every 10 steps and print 20 progress lines.
        """
        steps = self.max_steps if self.max_steps and self.max_steps > 0 else None
        cadence = max(1, min(100, steps // 10)) if steps else 100
        return {
            "warmup_steps": min(100, max(1, steps // 10)) if steps else 100,
            "eval_every": cadence,
            "checkpoint_every": cadence,
            "log_every": max(1, min(10, cadence)),
            "progress_every": max(1, steps // 20) if steps else 100,
        }

    @property
    def cadence(self) -> Cadence:
        """Warmup and the eval / checkpoint / log / progress intervals (never None after __init__)."""
        return Cadence(*(int(getattr(self, name)) for name in DERIVED_FIELDS))

    def replace(self, **changes: Any) -> TrainingConfig:
        """A copy with `changes`; values that were derived are derived again (from a new max_steps)."""
        for name in getattr(self, "_derived", ()):
            changes.setdefault(name, None)
        return dataclasses.replace(self, **changes)

    def validate(self) -> None:
        """Reject values that would fail (or silently misbehave) later, with the fix in the message."""
        for name, choices in (
            ("schedule", SCHEDULES),
            ("document_split", DOCUMENT_SPLITS),
            ("precision", PRECISIONS),
            ("tokenizer_strategy", TOKENIZER_STRATEGIES),
        ):
            value = getattr(self, name)
            if value not in choices:
                raise ConfigError(f"{name}={value!r} is unknown; use one of {', '.join(choices)}.")
        if self.tokenizer_strategy == "upload" and not self.tokenizer:
            raise ConfigError(
                "tokenizer_strategy='upload' needs a tokenizer; pass --tokenizer PATH."
            )
        unknown = [name for name in self.loggers if name not in LOGGERS]
        if unknown:
            raise ConfigError(
                f"unknown logger {unknown[0]!r}; use --logger with some of {', '.join(LOGGERS)}."
            )
        positive = {
            "seq_len": self.seq_len,
            "batch_size": self.batch_size,
            "keep_last": self.keep_last,
            "accumulate_grad_batches": self.accumulate_grad_batches,
            "num_nodes": self.num_nodes,
        }
        for name, value in positive.items():
            if int(value) < 1:
                raise ConfigError(f"{name}={value} must be at least 1; pass a positive integer.")
        if self.lr <= 0:
            raise ConfigError(f"lr={self.lr} must be positive; pass for example --lr 3e-4.")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ConfigError(
                f"label_smoothing={self.label_smoothing} must be in [0, 1); 0.1 is a usual value."
            )
        if not 0.0 < self.val_fraction < 1.0:
            raise ConfigError(
                f"val_fraction={self.val_fraction} must be between 0 and 1; 0.1 is a usual value."
            )
        if self.limit_val_batches <= 0:
            raise ConfigError(
                f"limit_val_batches={self.limit_val_batches} must be positive; 10 batches or 1.0 (all)."
            )
        if (self.max_steps is None or self.max_steps < 1) and not self.max_epochs:
            raise ConfigError(
                "neither max_steps nor max_epochs is set; pass --max-steps N or --max-epochs N."
            )

    def _validate_cadence(self) -> None:
        for name in ("eval_every", "checkpoint_every", "log_every", "progress_every"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(
                    f"{name}={getattr(self, name)} must be at least 1; pass a positive integer."
                )
        if int(cast(int, self.warmup_steps)) < 0:
            raise ConfigError(f"warmup_steps={self.warmup_steps} must be 0 or more.")

    @property
    def precision_for_trainer(self) -> TrainerPrecision:
        """The Lightning `precision` value: 'auto' is bf16-mixed on GPUs that support it, else 32-true."""
        if self.precision != "auto":
            # __post_init__ admitted only PRECISIONS; without "auto" and "32" that is TrainerPrecision.
            return "32-true" if self.precision == "32" else cast(TrainerPrecision, self.precision)
        import torch

        if torch.cuda.is_available() and self.accelerator in ("auto", "gpu", "cuda"):
            return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
        return "32-true"

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["betas"] = list(self.betas)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                f"unknown TrainingConfig fields {unknown}; remove them or fix their spelling."
            )
        values = dict(data)
        if "betas" in values:
            values["betas"] = tuple(values["betas"])
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> TrainingConfig:
        return cls.from_dict(json.loads(text))

    def changed_from_defaults(self) -> dict[str, Any]:
        """The values set on purpose: neither a field's default nor derived from max_steps."""
        changed: dict[str, Any] = {}
        derived: frozenset[str] = getattr(self, "_derived", frozenset())
        for item in dataclasses.fields(self):
            if item.name in derived:
                continue
            default = (
                item.default_factory()
                if item.default_factory is not dataclasses.MISSING
                else item.default
            )
            value = getattr(self, item.name)
            if value != default:
                changed[item.name] = value
        return changed

    def to_text(self, *, changed_only: bool = False) -> str:
        """A readable listing: every field, or with `changed_only` one line of the non-default values."""
        if changed_only:
            return ", ".join(
                f"{name}={value!r}" for name, value in self.changed_from_defaults().items()
            )
        width = max(len(f.name) for f in dataclasses.fields(self))
        return "\n".join(f"  {name:<{width}} = {value!r}" for name, value in self.to_dict().items())


def load_config_file(path: str | Path) -> dict[str, Any]:
    """The config values in a YAML or JSON file (the shape of run.json's `config`, or a whole run.json).

    Raises `ConfigError` (one line) for a missing or unreadable file, or one that holds no mapping.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(
            f"config file {str(path)!r} does not exist; pass --config FILE (YAML or JSON)."
        )
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml  # pyyaml, a declared dependency; imported only for YAML files

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as error:  # yaml.YAMLError or json.JSONDecodeError: both mean a malformed file
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ConfigError(
            f"config file {str(path)!r} cannot be parsed ({first_line}); fix its syntax."
        ) from None
    if isinstance(data, dict) and isinstance(data.get("config"), dict) and "format_version" in data:
        data = data["config"]  # a whole run.json: its config
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file {str(path)!r} holds no mapping of field: value; see run.json's config."
        )
    known = {f.name for f in dataclasses.fields(TrainingConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(
            f"config file {str(path)!r} has unknown fields {unknown}; remove them or fix their spelling."
        )
    return dict(data)
