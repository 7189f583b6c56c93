"""`TrainingConfig`: every knob of one training job, as one JSON-serialisable dataclass.

The same object drives the CLI, `train()` and the notebook; it is written into `run.json` so a
run folder says exactly how it was produced, and printed at the start of every run.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from lightning_pipeline.errors import ConfigError

SCHEDULES = ("cosine", "linear", "constant")
PRECISIONS = ("auto", "32", "32-true", "bf16-mixed", "16-mixed", "bf16-true")
# What `precision_for_trainer` hands to `pl.Trainer(precision=...)`: PRECISIONS minus the aliases.
TrainerPrecision = Literal["32-true", "bf16-mixed", "16-mixed", "bf16-true"]


@dataclass
class TrainingConfig:
    """Configuration of one training run (model, data, optimisation, checkpoints, hardware).

    Example:
        >>> cfg = TrainingConfig(model="path/to/export", data="example", out="runs/demo", max_steps=300)
        >>> TrainingConfig.from_json(cfg.to_json()) == cfg
        True
    """

    # What to train and where to write it.
    model: str = ""
    data: str = "example"
    out: str = "runs/run"
    model_name: str | None = None
    text_column: str | None = None
    data_config_name: str | None = None
    tokenizer_strategy: str = "auto"
    repair_causal_leak: bool = True
    # Length of training: max_steps wins when both are set; -1 / None means "not limited by it".
    max_steps: int = -1
    max_epochs: int | None = None
    # Data.
    seq_len: int = 128
    batch_size: int = 8
    val_fraction: float = 0.1
    packing: bool = True
    num_workers: int = 0
    # Optimisation.
    lr: float = 3e-4
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.95)
    warmup_steps: int = 100
    schedule: str = "cosine"
    grad_clip: float | None = 1.0
    accumulate_grad_batches: int = 1
    label_smoothing: float = 0.0
    # Evaluation, checkpoints, logging.
    eval_every: int = 100
    limit_val_batches: int | float = 10  # batches per validation (the same ones each time); 1.0 = all
    checkpoint_every: int = 100
    keep_last: int = 3
    early_stopping_patience: int | None = None
    log_every: int = 10
    # Hardware.
    precision: str = "auto"
    accelerator: str = "auto"
    devices: int | str = "auto"
    strategy: str = "auto"
    compile: bool = False
    seed: int = 0
    deterministic: bool = True
    dashboard: bool = True
    progress_bar: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.betas = (float(self.betas[0]), float(self.betas[1]))
        self.validate()

    def validate(self) -> None:
        """Reject values that would fail (or silently misbehave) later, with the fix in the message."""
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"schedule={self.schedule!r} is unknown; use one of {', '.join(SCHEDULES)}.")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision={self.precision!r} is unknown; use one of {', '.join(PRECISIONS)}.")
        positive = {
            "seq_len": self.seq_len, "batch_size": self.batch_size, "eval_every": self.eval_every,
            "checkpoint_every": self.checkpoint_every, "keep_last": self.keep_last,
            "log_every": self.log_every, "accumulate_grad_batches": self.accumulate_grad_batches,
        }
        for name, value in positive.items():
            if int(value) < 1:
                raise ConfigError(f"{name}={value} must be at least 1; pass a positive integer.")
        if self.lr <= 0:
            raise ConfigError(f"lr={self.lr} must be positive; pass for example --lr 3e-4.")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ConfigError(f"label_smoothing={self.label_smoothing} must be in [0, 1); 0.1 is a usual value.")
        if not 0.0 < self.val_fraction < 1.0:
            raise ConfigError(f"val_fraction={self.val_fraction} must be between 0 and 1; 0.1 is a usual value.")
        if self.warmup_steps < 0:
            raise ConfigError(f"warmup_steps={self.warmup_steps} must be 0 or more.")
        if (self.max_steps is None or self.max_steps < 1) and not self.max_epochs:
            raise ConfigError("neither max_steps nor max_epochs is set; pass --max-steps N or --max-epochs N.")

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
            raise ConfigError(f"unknown TrainingConfig fields {unknown}; remove them or fix their spelling.")
        values = dict(data)
        if "betas" in values:
            values["betas"] = tuple(values["betas"])
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> TrainingConfig:
        return cls.from_dict(json.loads(text))

    def resume_key(self) -> dict[str, Any]:
        """The fields that must match for a run folder to be resumed with this config."""
        keys = ("model_name", "data", "text_column", "data_config_name", "seq_len", "batch_size",
                "val_fraction", "packing", "seed", "accumulate_grad_batches")
        return {k: getattr(self, k) for k in keys}

    def to_text(self) -> str:
        """A readable listing for the start of a run."""
        width = max(len(f.name) for f in dataclasses.fields(self))
        return "\n".join(f"  {name:<{width}} = {value!r}" for name, value in self.to_dict().items())
