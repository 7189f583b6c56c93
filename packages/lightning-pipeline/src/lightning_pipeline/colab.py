"""The one place that talks to `google.colab` (Drive mounting and the upload widget).

Outside Colab the module answers "not available" and the rest of the package works with local
paths. Tests (and any other host that offers the same services) pass their own backend as the
explicit `backend=` argument of each function, never by replacing `sys.modules` entries::

    class FakeColab:
        def mount(self, mountpoint: str) -> None: ...
        def upload(self) -> dict[str, bytes]: return {"poems.txt": b"..."}

    upload_files("/tmp/uploads", backend=FakeColab())
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path
from typing import Protocol

from lightning_pipeline.errors import ColabUnavailableError, DataSourceError

logger = logging.getLogger(__name__)

DEFAULT_MOUNTPOINT = "/content/drive"


class ColabBackend(Protocol):
    """What the package needs from Colab: mount Drive, and run the browser upload widget."""

    def mount(self, mountpoint: str) -> None:
        """Mount Google Drive at `mountpoint` (`google.colab.drive.mount`)."""

    def upload(self) -> dict[str, bytes]:
        """Show the upload widget and return `{file name: content}` (`google.colab.files.upload`)."""


class GoogleColabBackend:
    """The real backend: `google.colab.drive` and `google.colab.files`, imported when used."""

    def mount(self, mountpoint: str) -> None:
        from google.colab import drive  # type: ignore[import-not-found]

        drive.mount(mountpoint)

    def upload(self) -> dict[str, bytes]:
        from google.colab import files  # type: ignore[import-not-found]

        return dict(files.upload())


def _google_colab_installed() -> bool:
    try:
        return importlib.util.find_spec("google.colab") is not None
    except (ImportError, ValueError):  # `google` absent or a namespace package without spec
        return False


def get_backend() -> ColabBackend | None:
    """The real backend when `google.colab` exists (inside Colab), else None."""
    return GoogleColabBackend() if _google_colab_installed() else None


def colab_available(backend: ColabBackend | None = None) -> bool:
    """True inside Colab, or when a `backend` is given."""
    return (backend if backend is not None else get_backend()) is not None


def _require_backend(feature: str, fix: str, backend: ColabBackend | None) -> ColabBackend:
    found = backend if backend is not None else get_backend()
    if found is None:
        raise ColabUnavailableError(
            f"{feature} needs Google Colab (google.colab is not importable here): {fix}"
        )
    return found


def mount_drive(
    path: str | os.PathLike[str] = DEFAULT_MOUNTPOINT, *, backend: ColabBackend | None = None
) -> Path:
    """Mount Google Drive at `path` and return the folder of the user's files (`<path>/MyDrive`).

    Mounting twice is harmless (Colab itself ignores an already mounted Drive). `backend`:
    another host's Drive (default: `google.colab`'s).
    """
    backend = _require_backend(
        "mounting Google Drive", "use a local folder for the run instead", backend
    )
    mountpoint = Path(path)
    logger.info("Mounting Google Drive at %s", mountpoint)
    backend.mount(str(mountpoint))
    return mountpoint / "MyDrive"


def upload_files(
    destination: str | os.PathLike[str], *, backend: ColabBackend | None = None
) -> list[Path]:
    """Ask the user for files with Colab's upload widget and write them under `destination`.

    Returns the written paths in the order the widget reported them. Each file is written to a
    temporary name and renamed, so an interrupted upload never leaves a half-written file.
    `backend`: another host's upload widget (default: `google.colab`'s).
    """
    backend = _require_backend(
        "uploading files", "pass the path of a local file or folder instead", backend
    )
    uploaded = backend.upload()
    if not uploaded:
        raise DataSourceError("no file was uploaded: run the cell again and pick at least one file")
    target = Path(destination)
    target.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, content in uploaded.items():
        path = target / Path(name).name  # never let a file name escape the destination
        temporary = path.with_name(f".{path.name}.uploading")
        temporary.write_bytes(content)
        os.replace(temporary, path)
        written.append(path)
        logger.info("Uploaded %s (%d bytes)", path, len(content))
    return written
