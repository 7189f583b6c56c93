"""Experiment loggers beside `metrics.csv`: `--logger csv,tensorboard,wandb,mlflow`.

Each is Lightning's own logger, writing under `RUN_DIR/logs/<name>/` (wandb and MLflow: their
usual services, or local files when none is configured). Their packages are optional extras
(`pip install 'lightning-pipeline[tensorboard]'`); `check_loggers` names the missing one in one
line before any run folder is written.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lightning_pipeline.errors import ConfigError

# logger name -> (module that must be importable, extra that installs it)
REQUIREMENTS: dict[str, tuple[str | None, str | None]] = {
    "csv": (None, None),
    "tensorboard": ("tensorboard", "tensorboard"),
    "wandb": ("wandb", "wandb"),
    "mlflow": ("mlflow", "mlflow"),
}


def check_loggers(names: Sequence[str]) -> None:
    """Raise `ConfigError` for an unknown logger or one whose package is not installed."""
    for name in names:
        if name not in REQUIREMENTS:
            raise ConfigError(
                f"unknown logger {name!r}; use --logger with some of {', '.join(REQUIREMENTS)}."
            )
        module, extra = REQUIREMENTS[name]
        if module is not None and importlib.util.find_spec(module) is None:
            raise ConfigError(
                f"--logger {name} needs the {module} package, which is not installed: "
                f"pip install 'lightning-pipeline[{extra}]'"
            )


def build_loggers(
    names: Sequence[str], run_dir: Path, hyperparameters: dict[str, Any]
) -> list[Any]:
    """Lightning loggers for `names` (checked first), each given the run's full config once."""
    from pytorch_lightning import loggers as pl_loggers

    check_loggers(names)
    save_dir = str(run_dir / "logs")
    built: list[Any] = []
    for name in dict.fromkeys(names):  # a name given twice is one logger
        if name == "csv":
            built.append(pl_loggers.CSVLogger(save_dir, name="csv"))
        elif name == "tensorboard":
            built.append(
                pl_loggers.TensorBoardLogger(save_dir, name="tensorboard", default_hp_metric=False)
            )
        elif name == "wandb":
            built.append(
                pl_loggers.WandbLogger(
                    save_dir=save_dir, name=run_dir.name, project="lightning-pipeline"
                )
            )
        elif name == "mlflow":
            uri = os.environ.get("MLFLOW_TRACKING_URI") or (run_dir / "logs" / "mlruns").as_uri()
            built.append(
                pl_loggers.MLFlowLogger(
                    experiment_name="lightning-pipeline", run_name=run_dir.name, tracking_uri=uri
                )
            )
    for each in built:
        each.log_hyperparams(hyperparameters)
    return built


__all__ = ["REQUIREMENTS", "build_loggers", "check_loggers"]
