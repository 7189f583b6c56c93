"""`google.colab.files` stand-in: uploads come from `$FAKE_COLAB_UPLOADS/<n>/`, downloads go to
`$FAKE_COLAB_DOWNLOADS`."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def upload() -> dict[str, bytes]:
    root = Path(os.environ["FAKE_COLAB_UPLOADS"])
    batches = sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: int(p.name))
    if not batches:
        return {}  # the user closed the dialog without choosing a file
    batch = batches[0]
    uploaded = {p.name: p.read_bytes() for p in sorted(batch.iterdir()) if p.is_file()}
    shutil.rmtree(batch)
    for name, content in uploaded.items():
        print(f"Saving {name} to {name} ({len(content)} bytes)")
    return uploaded


def download(filename: str) -> None:
    target = Path(os.environ["FAKE_COLAB_DOWNLOADS"])
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(filename, target / Path(filename).name)
