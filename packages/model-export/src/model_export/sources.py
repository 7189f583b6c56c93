"""Turn what the user points at into a model with its weights, tokenizer and training record.

Three kinds of SOURCE:

- an export folder (model.py + config.json), optionally with a weights file (`weights=`);
- a training run folder (run.json + model/ + final/model.safetensors + tokenizer/), the layout
  lightning-pipeline writes; model-export reads it through its files only;
- an `nn.Module` already in memory.

Weights are the user's module's `state_dict` (`UniversalModelAdapter.model`), saved with
safetensors (`.safetensors`) or torch (`.pt`, `.bin`, Lightning `.ckpt`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from model_export.errors import ExportSourceError
from model_export.tokenizer_files import check_no_remote_code

if TYPE_CHECKING:
    from torch import nn

    from model_adapter import ModelConfig, UniversalModelAdapter

logger = logging.getLogger(__name__)

RUN_FILE = "run.json"
RUN_MODEL_DIR = "model"
RUN_WEIGHTS = Path("final") / "model.safetensors"
RUN_TOKENIZER_DIR = "tokenizer"
SUPPORTED_RUN_FORMAT = 1


@dataclass
class ExportSource:
    """A model ready to export and what is known about it."""

    model: nn.Module  # a UniversalModelAdapter
    config: ModelConfig
    kind: str  # "export" | "run" | "module"
    export_dir: Path | None = None
    weights: Path | None = None
    tokenizer_dir: Path | None = None
    run: dict[str, Any] | None = None


def is_run_folder(path: Path) -> bool:
    """A run folder holds run.json and the export under model/."""
    return (path / RUN_FILE).is_file() and (path / RUN_MODEL_DIR).is_dir()


def read_run_json(path: Path) -> dict[str, Any]:
    """run.json as a dict; a newer format_version than this package knows is refused."""
    try:
        run = json.loads((path / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ExportSourceError(
            f"cannot read {path / RUN_FILE}: {exc}; the run folder is damaged"
        ) from exc
    version = run.get("format_version")
    if not isinstance(version, int) or version > SUPPORTED_RUN_FORMAT:
        raise ExportSourceError(
            f"{path / RUN_FILE} has format_version {version!r}; this model-export reads version "
            f"{SUPPORTED_RUN_FORMAT}: upgrade model-export"
        )
    return run


def _matching_prefix(keys: list[str], wanted: set[str]) -> str | None:
    """The prefix that turns checkpoint keys into the model's keys (Lightning adds e.g. `model.`)."""
    for key in keys:
        for name in wanted:
            if key.endswith(name):
                prefix = key[: len(key) - len(name)]
                if all(prefix + w in keys for w in wanted):
                    return prefix
    return None


def load_weights(module: nn.Module, weights: Path) -> None:
    """Load `weights` into `module` strictly; any mismatch is an :class:`ExportSourceError`."""
    import torch

    if not weights.is_file():
        raise ExportSourceError(
            f"weights file {weights} does not exist; pass the path of the trained weights"
        )
    try:
        if weights.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(weights))
        else:
            loaded = torch.load(str(weights), map_location="cpu", weights_only=True)
            found = loaded.get("state_dict", loaded) if isinstance(loaded, dict) else None
            if not isinstance(found, dict):
                raise ExportSourceError(
                    f"{weights} holds no state_dict; save the model's state_dict"
                )
            state = found
    except ExportSourceError:
        raise
    except Exception as exc:
        raise ExportSourceError(
            f"cannot read weights {weights}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}; "
            "give a .safetensors or torch state_dict file"
        ) from exc
    wanted = set(module.state_dict())
    keys = list(state)
    if not wanted.issubset(keys):
        prefix = _matching_prefix(keys, wanted)
        if prefix:
            state = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    # Tied weights are saved once by safetensors' save_model; the module shares the tensor.
    missing = sorted(wanted - set(state))
    shared = _tied_aliases(module)
    missing = [m for m in missing if not any(alias in state for alias in shared.get(m, ()))]
    unexpected = sorted(set(state) - wanted)
    mismatched = [
        f"{k} {tuple(state[k].shape)} vs model {tuple(v.shape)}"
        for k, v in module.state_dict().items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    if missing or unexpected or mismatched:
        detail = "; ".join(
            part
            for part in (
                f"missing {', '.join(missing[:3])}{'...' if len(missing) > 3 else ''}"
                if missing
                else "",
                f"unexpected {', '.join(unexpected[:3])}{'...' if len(unexpected) > 3 else ''}"
                if unexpected
                else "",
                f"shape {mismatched[0]}" if mismatched else "",
            )
            if part
        )
        raise ExportSourceError(
            f"weights {weights.name} do not match the model ({detail}); use the weights trained with this export"
        )
    module.load_state_dict(state, strict=False)


def _tied_aliases(module: nn.Module) -> dict[str, tuple[str, ...]]:
    """For each state_dict key, the other keys that share its storage (tied weights)."""
    by_ptr: dict[int, list[str]] = {}
    for name, tensor in module.state_dict(keep_vars=True).items():
        by_ptr.setdefault(tensor.data_ptr(), []).append(name)
    aliases: dict[str, tuple[str, ...]] = {}
    for names in by_ptr.values():
        for name in names:
            aliases[name] = tuple(n for n in names if n != name)
    return aliases


def _adapter(
    model: nn.Module, config: ModelConfig | None
) -> tuple[UniversalModelAdapter, ModelConfig]:
    from model_adapter import UniversalModelAdapter

    adapter = (
        model if isinstance(model, UniversalModelAdapter) else UniversalModelAdapter(model, config)
    )
    return adapter.eval(), adapter.config


def _load_export(folder: Path) -> tuple[UniversalModelAdapter, ModelConfig]:
    from model_adapter import ModelAdapterError, load_model

    try:
        model, config = load_model(folder)
    except ModelAdapterError as exc:
        raise ExportSourceError(f"cannot load the model in {folder}: {exc}") from exc
    return _adapter(model, config)


def load_source(
    source: str | Path | nn.Module,
    *,
    weights: str | Path | None = None,
    tokenizer: str | Path | None = None,
) -> ExportSource:
    """Resolve SOURCE (export folder, model.py, run folder or nn.Module) into an :class:`ExportSource`."""
    tokenizer_dir = Path(tokenizer) if tokenizer else None
    if tokenizer_dir is not None and not (tokenizer_dir / "tokenizer.json").is_file():
        raise ExportSourceError(
            f"{tokenizer_dir} holds no tokenizer.json; pass a save_pretrained folder"
        )
    if tokenizer_dir is not None:  # refused before minutes of export work, not after
        check_no_remote_code(tokenizer_dir)
    weights_path = Path(weights) if weights else None
    if weights_path is not None and not weights_path.is_file():
        raise ExportSourceError(
            f"weights file {weights_path} does not exist; pass the path of the trained weights"
        )
    if not isinstance(source, (str, Path)):  # an nn.Module in memory
        model, config = _adapter(source, None)
        if weights_path:
            load_weights(model.model, weights_path)
        return ExportSource(model, config, "module", None, weights_path, tokenizer_dir)

    path = Path(source)
    if not path.exists():
        raise ExportSourceError(
            f"{path} does not exist; give an export folder, a model.py or a run folder"
        )
    if path.is_dir() and is_run_folder(path):
        run = read_run_json(path)
        weights_path = weights_path or path / RUN_WEIGHTS
        if not weights_path.is_file():
            raise ExportSourceError(
                f"run folder {path} has no {RUN_WEIGHTS} (run status: {run.get('status', 'unknown')}); "
                "finish training or pass --weights with a checkpoint"
            )
        model, config = _load_export(path / RUN_MODEL_DIR)
        load_weights(model.model, weights_path)
        if tokenizer_dir is None and (path / RUN_TOKENIZER_DIR / "tokenizer.json").is_file():
            tokenizer_dir = path / RUN_TOKENIZER_DIR
            check_no_remote_code(tokenizer_dir)
        if run.get("status") != "completed":
            logger.warning(
                "run %s has status %r; exporting its final weights anyway", path, run.get("status")
            )
        return ExportSource(
            model, config, "run", path / RUN_MODEL_DIR, weights_path, tokenizer_dir, run
        )
    model, config = _load_export(path)
    if weights_path:
        load_weights(model.model, weights_path)
    export_dir = path if path.is_dir() else path.parent
    return ExportSource(model, config, "export", export_dir, weights_path, tokenizer_dir)
