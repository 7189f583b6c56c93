"""Read a training run folder through its files (never through lightning-pipeline).

The run folder contract (ARCHITECTURE.md): `run.json`, `model/` (model.py + config.json),
`checkpoints/*.ckpt` (Lightning checkpoints: a dict with `state_dict`, keys prefixed by the
LightningModule's attribute, e.g. `model.`), `final/model.safetensors` (the user's module's
state_dict). model-adapter depends on torch only, so safetensors files are read here with a
few lines over the documented format (8-byte header length, JSON header, raw little-endian
data) instead of the safetensors package.
"""

from __future__ import annotations

import json
import logging
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from model_adapter.errors import ModelLoadError

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["is_run_folder", "load_run_model", "read_safetensors", "read_weights", "weight_drift"]

logger = logging.getLogger(__name__)

FINAL_WEIGHTS = Path("final") / "model.safetensors"
_DTYPES = {
    "F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16",
    "I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8", "BOOL": "bool",
}  # fmt: skip


def is_run_folder(path: Path) -> bool:
    """A run folder holds run.json and the model's export under model/."""
    return (path / "run.json").is_file() and (path / "model").is_dir()


def read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """A .safetensors file as {name: tensor} (CPU), without the safetensors package."""
    import torch

    data = path.read_bytes()
    try:
        (header_length,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8 : 8 + header_length])
    except (struct.error, ValueError) as exc:
        raise ModelLoadError(
            f"{path} is not a safetensors file ({exc}); the run folder is damaged"
        ) from exc
    body = memoryview(data)[8 + header_length :]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        dtype = getattr(torch, _DTYPES.get(entry["dtype"], ""), None)
        if dtype is None:
            raise ModelLoadError(
                f"{path}: tensor {name} has dtype {entry['dtype']}, which this reader does not know"
            )
        start, end = entry["data_offsets"]
        chunk = bytes(body[start:end])
        tensor = (
            torch.frombuffer(bytearray(chunk), dtype=dtype)
            if chunk
            else torch.empty(0, dtype=dtype)
        )
        tensors[name] = tensor.reshape(entry["shape"])
    return tensors


def _strip_prefix(state: dict[str, Any], wanted: set[str]) -> dict[str, Any]:
    """Checkpoint keys as the user's module names them (Lightning adds e.g. `model.`)."""
    if not wanted or wanted & set(state):
        return state
    for key in state:
        for name in wanted:
            if key.endswith("." + name):
                prefix = key[: len(key) - len(name)]
                stripped = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
                if len(wanted & set(stripped)) >= len(wanted) // 2:
                    return stripped
    return state


def read_weights(path: Path, wanted: set[str] | None = None) -> dict[str, torch.Tensor]:
    """Tensors of a .safetensors, .pt/.bin state_dict or Lightning .ckpt, named as in `wanted`."""
    import torch

    if path.suffix == ".safetensors":
        state = read_safetensors(path)
    else:
        try:
            loaded = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # a damaged or foreign file: say which, keep going elsewhere
            raise ModelLoadError(
                f"cannot read {path}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            ) from exc
        found = loaded.get("state_dict", loaded) if isinstance(loaded, dict) else None
        if not isinstance(found, dict):
            raise ModelLoadError(f"{path} holds no state_dict; save the model's state_dict")
        state = found
    state = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
    return _strip_prefix(state, wanted or set())


def _checkpoint_step(path: Path) -> tuple[int, str]:
    """Order checkpoints by the step their metadata (or name) records, then by name."""
    meta = path.with_name(path.name + ".json")
    if meta.is_file():
        try:
            step = json.loads(meta.read_text(encoding="utf-8")).get("step")
            if isinstance(step, int):
                return step, path.name
        except (OSError, ValueError):
            pass
    digits = "".join(c if c.isdigit() else " " for c in path.stem).split()
    return (int(digits[-1]) if digits else 0), path.name


def load_run_model(run_dir: Path) -> tuple[nn.Module, Any, str]:
    """(the user's module with the run's weights, its ModelConfig, where the weights came from)."""
    from model_adapter.loading import load_model

    model, config = load_model(run_dir / "model")
    wanted = set(model.state_dict())
    candidates = [
        run_dir / FINAL_WEIGHTS,
        *sorted((run_dir / "checkpoints").glob("*.ckpt"), key=_checkpoint_step, reverse=True),
    ]
    for path in candidates:
        if not path.is_file():
            continue
        try:
            state = read_weights(path, wanted)
        except ModelLoadError as exc:  # a damaged file: the next newest one still tells the story
            logger.warning("skipping %s: %s", path, exc)
            continue
        missing = wanted - set(state)
        if len(missing) == len(wanted):
            continue
        model.load_state_dict(state, strict=False)
        return model, config, str(path.relative_to(run_dir))
    return model, config, "none (untrained: the run folder holds no weights yet)"


def _readable(
    paths: list[Path], wanted: set[str]
) -> Iterator[tuple[Path, dict[str, torch.Tensor]]]:
    """(path, weights) of each checkpoint that can be read, one at a time; damaged ones are logged."""
    for path in paths:
        try:
            yield path, read_weights(path, wanted)
        except ModelLoadError as exc:
            logger.warning("weight drift: skipping %s: %s", path, exc)


def weight_drift(run_dir: Path, model: nn.Module) -> dict[str, Any]:
    """How far each weight of `model` moved from the run's first checkpoint (relative L2)."""
    checkpoints = sorted((Path(run_dir) / "checkpoints").glob("*.ckpt"), key=_checkpoint_step)
    result: dict[str, Any] = {"first": None, "parameters": [], "checkpoints": [], "summary": []}
    if not checkpoints:
        result["summary"] = ["weight drift: the run folder has no checkpoints to compare with"]
        return result
    current = {
        k: v.detach().float().cpu() for k, v in model.state_dict().items() if v.is_floating_point()
    }
    wanted = set(current)
    readable = _readable(checkpoints, wanted)
    first_path, first = next(readable, (None, {}))
    if first_path is None:
        result["summary"] = [
            f"weight drift: none of the {len(checkpoints)} checkpoint(s) could be read (see the log)"
        ]
        return result
    result["first"] = first_path.name
    rows: list[dict[str, Any]] = []
    for name, now in current.items():
        start = first.get(name)
        if start is None or start.shape != now.shape or now.dim() < 1:
            continue
        base = float(start.float().norm())
        change = float((now - start.float()).norm())
        rows.append(
            {
                "parameter": name,
                "relative_change": round(change / base, 6) if base > 0 else None,
                "change_norm": round(change, 6),
            }
        )
    rows.sort(key=lambda r: -(r["relative_change"] or 0.0))
    result["parameters"] = rows
    for path, state in readable:
        changes = [
            float((state[n].float() - first[n].float()).norm() / first[n].float().norm())
            for n in wanted
            if n in state
            and n in first
            and first[n].float().norm() > 0
            and state[n].shape == first[n].shape
        ]
        if changes:
            result["checkpoints"].append(
                {
                    "checkpoint": path.name,
                    "mean_relative_change": round(sum(changes) / len(changes), 6),
                }
            )
    if rows:
        top = rows[0]
        result["summary"] = [
            f"weight drift from {first_path.name}: largest {top['parameter']} "
            f"({top['relative_change']:.3f} of its norm), {len(result['checkpoints']) + 1} checkpoint(s) compared"
        ]
    return result
