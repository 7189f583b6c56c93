"""Durable checkpoint files: atomic writes, a metadata JSON each, deletion that frees Drive space.

`AtomicCheckpointIO` is a Lightning `CheckpointIO` (a `TorchCheckpointIO`), so Lightning's own
`ModelCheckpoint` keeps deciding *which* checkpoints exist (last K, best by validation loss);
this class decides *how* they are written and removed:

* save: `torch.save` into a temporary file in the same folder, `fsync`, `os.replace` onto the
  final name, `fsync` the folder. A process killed at any moment leaves either the old file or
  the new one, never half a file under a checkpoint name (only a `.<name>.tmp-*` file, which
  `RunFolder` ignores and cleans up).
* metadata: next to `X.ckpt`, `X.ckpt.json` with step, epoch, val_loss (when known), time,
  size and ``"checksum": "zip-crc32"``, also written atomically, after the checkpoint. The
  checksum is the CRC-32 that `torch.save`'s zip writer already stores for every record
  (`checksum_mismatch` checks them with `zipfile`): computing a second one of the whole file
  cost a third of the save's CPU time for nothing more.
* remove: truncate to 0 bytes, then delete, then delete the metadata. Google Drive moves deleted
  files to its trash, where they keep using the user's quota; a truncated file costs nothing.
* load: `torch.load(weights_only=True)`, which refuses arbitrary pickled objects. The few
  non-tensor types Lightning puts in a checkpoint are allowlisted (`SAFE_GLOBALS`).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import logging
import os
import pickle
import re
import signal
import threading
import uuid
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, cast

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

from lightning_pipeline.errors import CheckpointError, first_line

logger = logging.getLogger(__name__)

METADATA_SUFFIX = ".json"
TEMP_MARKER = ".tmp-"


def _safe_globals() -> list[Any]:
    """Non-tensor types found in Lightning checkpoints that are safe to unpickle."""
    found: list[Any] = []
    try:
        from lightning_fabric.utilities.data import AttributeDict as FabricAttributeDict

        found.append(FabricAttributeDict)
    except ImportError:  # pragma: no cover - depends on the Lightning version
        pass
    try:
        from pytorch_lightning.utilities.parsing import AttributeDict

        found.append(AttributeDict)
    except ImportError:  # pragma: no cover
        pass
    found.extend(_numpy_array_globals())
    return list(dict.fromkeys(found))


def _numpy_array_globals() -> list[Any]:
    """What unpickling a plain numpy array needs (e.g. `numpy.random.get_state()` in RNG state).

    These rebuild arrays of plain dtypes only; no code runs. torch's docs name the same set.
    """
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy ships with torch wheels
        return []
    try:
        from numpy._core.multiarray import _reconstruct  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]
    dtypes = [type(np.dtype(code)) for code in "?bBhHiIlLqQefdgFDGUS"]
    return [_reconstruct, np.ndarray, np.dtype, *dtypes]


@contextlib.contextmanager
def _allow_lightning_types() -> Iterator[None]:
    serialization = torch.serialization
    if hasattr(serialization, "safe_globals"):  # torch >= 2.5: scoped to this load
        with serialization.safe_globals(_safe_globals()):
            yield
    else:  # pragma: no cover - torch 2.4 only has the process-wide allowlist
        serialization.add_safe_globals(_safe_globals())
        yield


def load_checkpoint_file(
    path: str | os.PathLike[str], map_location: Any = "cpu", *, mmap: bool = False
) -> dict[str, Any]:
    """Load a checkpoint with `weights_only=True` (plus the Lightning allowlist).

    `mmap=True` maps the tensors instead of reading them (a cheap structural check).

    Raises `CheckpointError` with a one-line reason for an empty, truncated or corrupt file,
    or for one that holds a type outside the allowlist.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    if path.stat().st_size == 0:
        raise CheckpointError(
            f"checkpoint is empty (0 bytes): {path}; delete it and resume from another"
        )
    try:
        with _allow_lightning_types():
            checkpoint = torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as error:
        unsupported = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(error))
        reason = f"it holds {unsupported.group(1)}" if unsupported else first_line(error)
        raise CheckpointError(
            f"checkpoint {path.name} cannot be loaded with weights_only=True ({reason}); "
            "it is corrupt or holds a non-allowlisted object: store only tensors and plain values"
        ) from error
    except Exception as error:
        # A damaged file can make torch's weights-only unpickler fail in any way (RuntimeError,
        # EOFError, KeyError, IndexError on a bad memo index, ...); whatever the parser raised,
        # the file is not loadable, and resume must skip it rather than crash.
        raise CheckpointError(
            f"checkpoint {path.name} is truncated or corrupt ({first_line(error)}); resume from an older one"
        ) from error
    if not isinstance(checkpoint, dict):
        raise CheckpointError(
            f"checkpoint {path.name} holds a {type(checkpoint).__name__}, not a dict"
        )
    return checkpoint


def metadata_path(checkpoint_path: str | os.PathLike[str]) -> Path:
    """`X.ckpt` -> `X.ckpt.json`."""
    path = Path(checkpoint_path)
    return path.with_name(path.name + METADATA_SUFFIX)


def read_metadata(checkpoint_path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The metadata written next to a checkpoint, or None when missing or unreadable."""
    try:
        data = json.loads(metadata_path(checkpoint_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _fsync_directory(directory: Path) -> None:
    if os.name != "posix":  # pragma: no cover - directories cannot be opened on Windows
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some network file systems refuse it
        pass
    finally:
        os.close(fd)


def temporary_path(final: Path) -> Path:
    return final.with_name(f".{final.name}{TEMP_MARKER}{os.getpid()}-{uuid.uuid4().hex[:8]}")


@contextlib.contextmanager
def sigint_deferred() -> Iterator[None]:
    """Hold a Ctrl-C (SIGINT) that arrives inside the block until the block is done.

    A KeyboardInterrupt raised inside `torch.save`'s zip writer does not reach Python as itself:
    the C++ writer turns it into a RuntimeError ("unexpected pos ..."), which reads like a full
    disk, and the checkpoint being written is lost. Deferred, the write finishes and is published,
    then the signal goes to the handler that was there before (Python's: KeyboardInterrupt).
    Only the main thread can set signal handlers; elsewhere, and when SIGINT is ignored or not
    handled from Python, the block runs as is.
    """
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        yield
        return
    received: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            signal.raise_signal(signal.SIGINT)


def atomic_write_bytes(
    path: str | os.PathLike[str], writer: Callable[[Any], None], *, sync_folder: bool = True
) -> None:
    """Write a file atomically: `writer(file)` into a temporary file, fsync, rename, fsync folder.

    `sync_folder=False` leaves the folder's fsync to the caller's next atomic write in the same
    folder (one fsync then makes both renames durable)."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_path(final)
    try:
        with sigint_deferred(), open(temporary, "wb") as handle:
            writer(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, final)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    if sync_folder:
        _fsync_directory(final.parent)


def atomic_write_json(path: str | os.PathLike[str], data: Any) -> None:
    """`json.dump` with the atomicity of `atomic_write_bytes` (sorted keys, indented)."""
    text = json.dumps(data, indent=2, sort_keys=True, default=_json_default) + "\n"
    atomic_write_bytes(path, lambda handle: handle.write(text.encode("utf-8")))


def _json_default(value: Any) -> Any:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def sha256_of(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def crc32_of(path: str | os.PathLike[str]) -> str:
    crc = 0
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            crc = zlib.crc32(chunk, crc)
    return f"{crc:08x}"


ZIP_CHECKSUM = "zip-crc32"


def _zip_crc_mismatch(path: str | os.PathLike[str]) -> str | None:
    """Why the records of a torch zip archive fail their own CRC-32, or None when all match."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error) as error:
        return f"it is not a whole checkpoint archive ({first_line(error)}; truncated or corrupt)"
    return None if bad is None else f"its crc32 differs from the one recorded for {bad} (corrupt)"


def checksum_mismatch(path: str | os.PathLike[str], metadata: dict[str, Any]) -> str | None:
    """Why the file's bytes differ from its checksum: the CRC-32 of each zip record (what this
    version records), the crc32 or sha256 of the whole file (older checkpoints' metadata), or
    None when they match or no checksum was recorded."""
    if metadata.get("checksum") == ZIP_CHECKSUM:
        return _zip_crc_mismatch(path)
    if metadata.get("crc32"):
        return (
            None
            if crc32_of(path) == metadata["crc32"]
            else "its crc32 differs from its metadata (corrupt)"
        )
    if metadata.get("sha256"):
        return (
            None
            if sha256_of(path) == metadata["sha256"]
            else "its sha256 differs from its metadata (corrupt)"
        )
    return None


class _CheckpointWriter:
    """The temporary file as `torch.save` sees it: counts the bytes (the metadata's size).

    A Python file object costs `torch.save` nothing measurable over its own C++ file writer
    (benchmarks/checkpoint_save.py), and gives tests one place to slow or interrupt the bytes.
    """

    def __init__(self, handle: Any) -> None:
        self._handle = handle
        self.size = 0

    def write(self, data: Any) -> int:
        written = self._handle.write(data)
        self.size += written
        return written

    def flush(self) -> None:
        self._handle.flush()


def _torch_writes_crc32() -> bool:
    """Whether `torch.save` fills in its zip records' CRC-32 (it can be switched off since torch 2.6)."""
    try:
        from torch.utils.serialization import config
    except ImportError:  # pragma: no cover - torch < 2.6 always computes it
        return True
    return bool(getattr(config.save, "compute_crc32", True))


def _as_float(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            return None
        value = value.item()
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _val_loss_of(checkpoint: dict[str, Any], path: Path) -> float | None:
    """val_loss for this file: `checkpoint["metrics"]["val_loss"]` if the module put it there,
    else the score `ModelCheckpoint` recorded for this path (when it monitors val_loss)."""
    metrics = checkpoint.get("metrics")
    if isinstance(metrics, dict) and "val_loss" in metrics:
        return _as_float(metrics["val_loss"])
    callbacks = checkpoint.get("callbacks")
    if isinstance(callbacks, dict):
        for state in callbacks.values():
            # ModelCheckpoint and its subclasses record what they monitor in their state
            if not (isinstance(state, dict) and state.get("monitor") == "val_loss"):
                continue
            scores = state.get("best_k_models") or {}
            for candidate, score in scores.items():
                if Path(candidate).name == path.name:
                    return _as_float(score)
            # `last.ckpt` is not among the top k; it is saved right after the score was computed
            if state.get("current_score") is not None:
                return _as_float(state["current_score"])
    return None


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning `CheckpointIO` with atomic saves, metadata JSON and Drive-friendly removal.

    Example::

        trainer = Trainer(plugins=[AtomicCheckpointIO()],
                          callbacks=[ModelCheckpoint(dirpath=run.checkpoints_dir,
                                                     monitor="val_loss", save_top_k=1, save_last=True)])
    """

    def save_checkpoint(
        self,
        checkpoint: dict[str, Any],
        path: str | os.PathLike[str],
        storage_options: Any | None = None,
    ) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} does not take storage_options")
        final = Path(path)
        with sigint_deferred():  # a Ctrl-C waits for the checkpoint and its metadata
            self._save(checkpoint, final)

    def _save(self, checkpoint: dict[str, Any], final: Path) -> None:
        writers: list[_CheckpointWriter] = []

        def write(handle: Any) -> None:
            writer = _CheckpointWriter(handle)
            writers.append(writer)
            # torch.save only needs write/flush; its stub asks for a full IO[bytes].
            torch.save(checkpoint, cast(IO[bytes], writer))

        # The metadata JSON below goes into the same folder; its folder fsync covers both renames.
        atomic_write_bytes(final, write, sync_folder=False)
        metadata = {
            "checkpoint": final.name,
            "step": int(checkpoint.get("global_step", 0)),
            "epoch": int(checkpoint.get("epoch", 0)),
            "val_loss": _val_loss_of(checkpoint, final),
            "time": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "size": writers[0].size,
        }
        if _torch_writes_crc32():
            metadata["checksum"] = ZIP_CHECKSUM
        atomic_write_json(metadata_path(final), metadata)
        logger.debug("Saved checkpoint %s (step %d)", final, metadata["step"])

    def load_checkpoint(
        self,
        path: str | os.PathLike[str],
        map_location: Any = "cpu",
        weights_only: bool | None = None,
    ) -> dict[str, Any]:
        """Load with `weights_only=True` unless the caller explicitly passes False."""
        if weights_only is False:
            logger.warning(
                "Loading %s with weights_only=False: only do this for files you trust", path
            )
            return super().load_checkpoint(
                os.fspath(path), map_location=map_location, weights_only=False
            )
        return load_checkpoint_file(path, map_location=map_location)

    def remove_checkpoint(self, path: str | os.PathLike[str]) -> None:
        remove_checkpoint_file(path)


def remove_checkpoint_file(path: str | os.PathLike[str]) -> None:
    """Rename to a temporary name, delete the metadata, truncate to 0 bytes, delete.

    Truncating first frees the space even in Drive's trash; renaming first means a process killed
    half way leaves a temporary file (cleaned up on the next start), never an empty file under a
    checkpoint name.
    """
    target = Path(path)
    if target.is_file():
        doomed = temporary_path(target)
        os.replace(target, doomed)
        with contextlib.suppress(FileNotFoundError):
            metadata_path(target).unlink()
        with open(doomed, "r+b") as handle:
            handle.truncate(0)
            handle.flush()
            os.fsync(handle.fileno())
        doomed.unlink()
        logger.debug("Removed checkpoint %s", target)
    elif target.exists():
        raise CheckpointError(f"{target} is not a file: remove it by hand")
    with contextlib.suppress(FileNotFoundError):
        metadata_path(target).unlink()
