"""`RunFolder`: one self-contained folder per training run (the contract model-export reads).

```
RUN_DIR/
  run.json          format_version, status, config, model_config, versions, metrics, data
  model/            model.py + config.json + the local modules/packages model.py imports
  tokenizer/        tokenizer.save_pretrained output
  checkpoints/      Lightning .ckpt files + <name>.ckpt.json metadata each (last K + best)
  metrics.csv
  curves.png
  final/model.safetensors
  cache/            the tokenized data (rebuilt when missing)
```

Every JSON write is atomic (temporary file, fsync, rename), so a run killed at any moment
leaves the previous `run.json`, never half of one. A folder that belongs to another model or
configuration is never reused silently: `RunFolder.create` raises `RunFolderConflictError`
unless the caller chooses `overwrite=True`.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
from collections.abc import Iterable, Mapping
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any, overload

from lightning_pipeline.config import RESUMABLE_FIELDS
from lightning_pipeline.errors import CheckpointError, RunFolderConflictError, RunFolderError

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
RUN_JSON = "run.json"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")  # either one: a saved tokenizer
STATUSES = ("running", "completed", "interrupted", "failed")
VERSIONED_PACKAGES = (
    "lightning-pipeline", "model-adapter", "adaptive-tokenizer", "torch", "pytorch-lightning",
    "transformers", "tokenizers", "datasets",
)  # fmt: skip


def package_versions(packages: Iterable[str] = VERSIONED_PACKAGES) -> dict[str, str]:
    """Installed versions of `packages` (missing ones are left out)."""
    found = {}
    for name in packages:
        try:
            found[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return found


def _differences(old: Any, new: Any, prefix: str, ignore: frozenset[str]) -> list[str]:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        found = []
        for key in sorted(set(old) | set(new), key=str):
            if key in ignore:
                continue
            name = f"{prefix}.{key}" if prefix else str(key)
            if key not in old or key not in new:
                found.append(name)
            else:
                found.extend(_differences(old[key], new[key], name, frozenset()))
        return found
    # JSON turns tuples into lists: compare what would be written
    return (
        []
        if json.loads(json.dumps(old, default=str)) == json.loads(json.dumps(new, default=str))
        else [prefix]
    )


def run_differences(
    previous: Mapping[str, Any],
    config: Mapping[str, Any],
    model_config: Mapping[str, Any],
    ignore: Iterable[str] = RESUMABLE_FIELDS,
) -> list[str]:
    """What makes `config` + `model_config` another run than run.json's `previous` (dotted names).

    Config fields in `ignore` may differ; so may the model's `source` (the folder it came from).
    """
    return _differences(
        previous.get("model_config", {}), dict(model_config), "model_config", frozenset({"source"})
    ) + _differences(previous.get("config", {}), dict(config), "config", frozenset(ignore))


class _InRun:
    """A path inside the run folder, read as an attribute: `RunFolder("runs/x").model_dir`."""

    def __init__(self, *parts: str) -> None:
        self.parts = parts

    @overload
    def __get__(self, run: None, owner: type) -> _InRun: ...
    @overload
    def __get__(self, run: RunFolder, owner: type) -> Path: ...
    def __get__(self, run: RunFolder | None, owner: type) -> Path | _InRun:
        return self if run is None else run.path.joinpath(*self.parts)


class RunFolder:
    """Paths and safe writes for one run folder. Cheap to construct; touches nothing until asked.

    Example::

        run = RunFolder.create("runs/demo", config=cfg.to_dict(), model_config=model_config.to_dict())
        trainer = Trainer(plugins=[AtomicCheckpointIO()],
                          callbacks=[ModelCheckpoint(dirpath=run.checkpoints_dir, ...)])
        trainer.fit(module, datamodule, ckpt_path=run.latest_valid_checkpoint())
        run.update_run_json(status="completed", metrics={"val_loss": 3.2})
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    def __fspath__(self) -> str:
        return str(self.path)

    # ------------------------------------------------------------------ layout (the table above)
    run_json_path = _InRun(RUN_JSON)
    model_dir = _InRun("model")
    model_py = _InRun("model", "model.py")
    tokenizer_dir = _InRun("tokenizer")
    checkpoints_dir = _InRun("checkpoints")
    metrics_csv = _InRun("metrics.csv")
    curves_png = _InRun("curves.png")
    final_dir = _InRun("final")
    final_weights = _InRun("final", "model.safetensors")
    cache_dir = _InRun("cache")

    def exists(self) -> bool:
        """True when the folder holds a run.json (i.e. it is a run folder)."""
        return self.run_json_path.is_file()

    # ------------------------------------------------------------------ create / open
    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        *,
        config: Mapping[str, Any],
        model_config: Mapping[str, Any],
        data: Mapping[str, Any] | None = None,
        versions: Mapping[str, str] | None = None,
        overwrite: bool = False,
        resumable_keys: Iterable[str] = RESUMABLE_FIELDS,
    ) -> RunFolder:
        """Make a new run folder, or reopen the same run to resume it.

        * `path` missing or empty: the layout is created and run.json written (status "running").
        * `path` is a run folder of the same model and config (ignoring `resumable_keys`, by
          default `config.RESUMABLE_FIELDS`, such as max_steps): it is reopened, run.json gets the new config and status "running", and
          checkpoints are kept for resuming.
        * a run folder of another model/config: `RunFolderConflictError`, unless `overwrite`,
          which moves it aside (`move_aside`: renamed, never deleted) and starts a new run.
        * a non-empty folder that is not a run folder: `RunFolderError` (nothing is touched),
          unless `overwrite`, which moves it aside too.
        """
        run = cls(path)
        if run.path.exists() and not run.path.is_dir():
            raise RunFolderError(f"{run.path} is a file, not a folder: choose another --out path")
        if run.exists():
            conflicts = run_differences(run.read_run_json(), config, model_config, resumable_keys)
            if conflicts and not overwrite:
                shown = ", ".join(conflicts[:6]) + (" ..." if len(conflicts) > 6 else "")
                raise RunFolderConflictError(
                    f"{run.path} holds a different run (differs in {shown}): use a new output folder, "
                    "or pass overwrite=True (--overwrite) to move it aside and start anew"
                )
            if conflicts:
                moved = move_aside(run.path)
                logger.warning(
                    "Moved the old run in %s (differs in %s) to %s",
                    run.path,
                    ", ".join(conflicts),
                    moved,
                )
            else:
                logger.info("Reopening run folder %s to resume", run.path)
                run.update_run_json(
                    config=dict(config),
                    status="running",
                    versions=dict(versions or package_versions()),
                )
                run._make_layout()
                return run
        elif run.path.is_dir() and any(run.path.iterdir()):
            if not overwrite:
                raise RunFolderError(
                    f"{run.path} is not empty and is not a run folder (no run.json): "
                    "choose a new or empty output folder, or pass --overwrite to move it aside"
                )
            moved = move_aside(run.path)
            logger.warning("Moved %s (not a run folder) to %s", run.path, moved)
        run._make_layout()
        run.write_run_json(
            {
                "format_version": FORMAT_VERSION,
                "status": "running",
                "created": _now(),
                "config": dict(config),
                "model_config": dict(model_config),
                "versions": dict(versions or package_versions()),
                "metrics": {},
                "data": dict(data or {}),
            }
        )
        return run

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> RunFolder:
        """Open an existing run folder (checks run.json and its format version)."""
        run = cls(path)
        if not run.exists():
            raise RunFolderError(f"{run.path} is not a run folder (no {RUN_JSON}): check the path")
        version = run.read_run_json().get("format_version")
        if version != FORMAT_VERSION:
            raise RunFolderError(
                f"{run.path} has run folder format {version!r}, this version reads {FORMAT_VERSION}: "
                "upgrade lightning-pipeline"
            )
        return run

    def _make_layout(self) -> None:
        for directory in (
            self.path,
            self.model_dir,
            self.tokenizer_dir,
            self.checkpoints_dir,
            self.final_dir,
        ):
            directory.mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------ run.json
    def write_run_json(self, data: Mapping[str, Any]) -> None:
        """Replace run.json atomically with `data` (`format_version` is added when missing)."""
        from lightning_pipeline.checkpoint_io import atomic_write_json

        content = {"format_version": FORMAT_VERSION, **dict(data)}
        if content.get("status", "running") not in STATUSES:
            raise RunFolderError(
                f"unknown run status {content['status']!r}: use one of {', '.join(STATUSES)}"
            )
        content["updated"] = _now()
        atomic_write_json(self.run_json_path, content)

    def read_run_json(self) -> dict[str, Any]:
        try:
            data = json.loads(self.run_json_path.read_text(encoding="utf-8"))
        except FileNotFoundError as error:
            raise RunFolderError(
                f"{self.path} is not a run folder (no {RUN_JSON}): check the path"
            ) from error
        except ValueError as error:
            raise RunFolderError(
                f"{self.run_json_path} is not valid JSON ({error}): restore or delete it"
            ) from error
        if not isinstance(data, dict):
            raise RunFolderError(
                f"{self.run_json_path} does not hold a JSON object: restore or delete it"
            )
        return data

    def update_run_json(self, **fields: Any) -> dict[str, Any]:
        """Merge `fields` into run.json (dict values such as `metrics` are merged one level)."""
        data = self.read_run_json()
        for key, value in fields.items():
            if isinstance(value, Mapping) and isinstance(data.get(key), dict) and key != "config":
                data[key] = {**data[key], **value}
            else:
                data[key] = value
        self.write_run_json(data)
        return data

    def set_status(self, status: str) -> None:
        self.update_run_json(status=status)

    # ------------------------------------------------------------------ copies of inputs
    def save_model_source(self, source: str | os.PathLike[str]) -> None:
        """Copy the model's whole local source and `config.json` into model/ (`source`: folder or model.py).

        model.py, and every sibling module and local package it imports (followed with
        `model_adapter.sources.source_files`), keep their paths relative to the model folder,
        so `generate` and `model-export` of the run work from the run folder alone.
        """
        from lightning_pipeline.checkpoint_io import atomic_write_bytes
        from model_adapter.sources import source_files

        source = Path(source)
        folder = source if source.is_dir() else source.parent
        model_py = folder / "model.py" if source.is_dir() else source
        copies = [(model_py, "model.py"), (folder / "config.json", "config.json")]
        root = folder.resolve()
        copies += [(path, path.relative_to(root).as_posix()) for path in source_files(model_py)[1:]]
        for original, name in copies:
            if original.is_file():
                (self.model_dir / name).parent.mkdir(parents=True, exist_ok=True)
                data = original.read_bytes()

                def write(handle: Any, data: bytes = data) -> None:
                    handle.write(data)

                atomic_write_bytes(self.model_dir / name, write)

    def has_tokenizer(self) -> bool:
        """True when tokenizer/ holds a saved tokenizer (a resumed run keeps using it)."""
        return any((self.tokenizer_dir / name).exists() for name in TOKENIZER_FILES)

    def save_tokenizer(self, tokenizer: Any) -> None:
        """`tokenizer.save_pretrained` into tokenizer/, replacing it whole (written aside, then renamed)."""
        import shutil

        staging = self.path / ".tokenizer.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        tokenizer.save_pretrained(str(staging))
        shutil.rmtree(self.tokenizer_dir, ignore_errors=True)
        os.replace(staging, self.tokenizer_dir)

    # ------------------------------------------------------------------ checkpoints
    def checkpoint_record(self, checkpoint: str | os.PathLike[str]) -> str:
        """How run.json names a checkpoint: relative to the folder, so a moved run still finds it."""
        return f"{self.checkpoints_dir.name}/{Path(checkpoint).name}"

    def recorded_path(self, record: str) -> Path:
        """The path of a file run.json names relative to the folder (see `checkpoint_record`)."""
        return self.path / record

    def checkpoint_paths(self, pattern: str = "*.ckpt") -> list[Path]:
        """Every `pattern` file in checkpoints/ (temporary files of interrupted writes excluded)."""
        if not self.checkpoints_dir.is_dir():
            return []
        return sorted(p for p in self.checkpoints_dir.glob(pattern) if not p.name.startswith("."))

    def remove_temporary_files(self) -> list[Path]:
        """Delete leftovers of interrupted writes (`.<name>.tmp-*`), truncating them first."""
        from lightning_pipeline.checkpoint_io import TEMP_MARKER, remove_checkpoint_file

        removed = []
        for folder in (self.path, self.checkpoints_dir):
            if folder.is_dir():
                for leftover in folder.glob(f".*{TEMP_MARKER}*"):
                    if leftover.is_file():
                        remove_checkpoint_file(leftover)
                        removed.append(leftover)
        return removed

    def latest_valid_checkpoint(self, pattern: str = "*.ckpt") -> Path | None:
        """The newest checkpoint that loads with `weights_only=True`, or None (see `scan_checkpoints`)."""
        return self.scan_checkpoints(pattern)[0]

    def scan_checkpoints(
        self, pattern: str = "*.ckpt"
    ) -> tuple[Path | None, list[tuple[Path, str]]]:
        """The newest checkpoint that loads with `weights_only=True`, and the damaged ones seen.

        Newest means the highest training step (from the metadata JSON, else read from the file),
        then the latest modification time. A checkpoint that is empty, truncated, corrupt, whose
        size or checksum disagrees with its metadata, or that `torch.load(weights_only=True)`
        refuses, is skipped with a logged warning and listed with its reason (files older than
        the one returned are not opened, so they are not listed).
        """
        from lightning_pipeline.checkpoint_io import (
            checksum_mismatch,
            load_checkpoint_file,
            read_metadata,
        )

        damaged: list[tuple[Path, str]] = []

        def _skip(path: Path, reason: str) -> None:
            logger.warning("Skipping checkpoint %s: %s", path.name, reason)
            damaged.append((path, reason))

        candidates: list[tuple[int, float, Path]] = []
        loaded_ok: set[Path] = set()
        for path in self.checkpoint_paths(pattern):
            try:
                size = path.stat().st_size
                mtime = path.stat().st_mtime
            except OSError:
                continue
            meta = read_metadata(path)
            if meta is not None and isinstance(meta.get("step"), int):
                if meta.get("size") is not None and meta["size"] != size:
                    _skip(
                        path,
                        f"its size is {size} bytes but its metadata says {meta['size']} (truncated)",
                    )
                    continue
                candidates.append((meta["step"], mtime, path))
                continue
            try:  # no metadata (killed between the two renames): read the step from the file
                checkpoint = load_checkpoint_file(path)
            except CheckpointError as error:
                _skip(path, str(error))
                continue
            loaded_ok.add(path)
            candidates.append((int(checkpoint.get("global_step", 0)), mtime, path))
        for _step, _mtime, path in sorted(candidates, reverse=True):
            if path in loaded_ok:
                return path, damaged
            meta = read_metadata(path) or {}
            if (mismatch := checksum_mismatch(path, meta)) is not None:
                _skip(path, mismatch)
                continue
            try:  # the bytes are the ones written; check that torch can read their structure
                load_checkpoint_file(path, mmap=True)
            except CheckpointError as error:
                _skip(path, str(error))
                continue
            return path, damaged
        return None, damaged


def move_aside(path: str | os.PathLike[str]) -> Path:
    """Rename `path` to a free sibling `<name>.replaced-<UTC time>[-N]` and return the new path.

    What `--overwrite` does with the folder it replaces: the old run stays whole (to compare, or
    to delete by hand), and a rename within one parent folder is atomic.
    """
    path = Path(path)
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.replaced-{stamp}")
    index = 1
    while target.exists():
        index += 1
        target = path.with_name(f"{path.name}.replaced-{stamp}-{index}")
    os.replace(path, target)
    return target


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
