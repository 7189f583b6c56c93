"""`google.colab.drive` stand-in: mounting makes `<mountpoint>/MyDrive` a local folder."""

from __future__ import annotations

import os


def mount(
    mountpoint: str, force_remount: bool = False, timeout_ms: int = 120000, readonly: bool = False
) -> None:
    os.makedirs(os.path.join(mountpoint, "MyDrive"), exist_ok=True)
    print(f"Mounted at {mountpoint}")
