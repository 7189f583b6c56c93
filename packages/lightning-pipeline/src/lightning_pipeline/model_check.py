"""Skip the quick Tier 1 model check on resume when the model's files are unchanged.

`train()` checks the model before writing anything (a causal leak is refused). Re-running that
check on every resume costs seconds and proves nothing new when the model's source is the same
bytes, checked with the same settings by the same model-adapter version: the first run records
`model_check_key(...)` in run.json (`"model_check"`), and a resume whose key is equal skips the
check. Any change (an edited model.py or config.json, another seq_len, the causal repair turned
off, a new model-adapter) runs it again. Models without files (a Gist, an `nn.Module` object)
are always checked.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any


def _model_files(folder: Path) -> list[Path]:
    """model.py, config.json and the local Python source beside them (packages included)."""
    files = [
        p
        for p in folder.iterdir()
        if p.is_file() and (p.suffix == ".py" or p.name == "config.json")
    ]
    for package in (p for p in folder.iterdir() if p.is_dir() and (p / "__init__.py").is_file()):
        files.extend(p for p in package.rglob("*.py") if "__pycache__" not in p.parts)
    return sorted(files)


def model_files_digest(source: str | os.PathLike[str]) -> str | None:
    """sha256 over the model's files (names and bytes), or None when `source` is not local files."""
    path = Path(source).expanduser()
    if not path.exists():
        return None
    folder = path if path.is_dir() else path.parent
    digest = hashlib.sha256()
    for file in _model_files(folder):
        digest.update(file.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(file.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def model_check_key(source: Any, *, seq_len: int, repaired: bool) -> dict[str, Any] | None:
    """What must be equal for a previous check to stand (None: always check)."""
    from importlib.metadata import version

    if not isinstance(source, (str, os.PathLike)) or not str(source):
        return None
    digest = model_files_digest(source)
    if digest is None:
        return None
    return {
        "sha256": digest,
        "seq_len": int(seq_len),
        "repaired": bool(repaired),
        "model_adapter": version("model-adapter"),
    }


def previous_model_check(run_dir: Path) -> dict[str, Any] | None:
    """The key recorded by the last run in `run_dir`'s run.json, if any."""
    import json

    try:
        data = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = data.get("model_check") if isinstance(data, dict) else None
    return value if isinstance(value, dict) else None
