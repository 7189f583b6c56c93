"""The quick Tier 1 model check before training, and fitting the sequence length to the model.

One owner for the rules `train()`, the wizard and the notebook share: `fit_seq_len` cuts a
sequence length to the model's `max_seq_len` (a learned position table has no rows beyond it),
`quick_check` validates the model on short sequences (`QUICK_CHECK_SEQ_LEN`: long enough to see
a causal leak, short enough to take a second) and says in one line what failed and the fix, and
`check_model` turns that into the `ModelRejectedError` that stops a run before anything is written.

Re-running the check on every resume costs seconds and proves nothing new when the model's source
is the same bytes, checked with the same settings by the same model-adapter version: the first run
records `model_check_key(...)` in run.json (`"model_check"`), and a resume whose key is equal skips
the check. Any change (an edited model.py or config.json, another seq_len, the causal repair turned
off, a new model-adapter) runs it again. Models without files (a Gist, an `nn.Module` object)
are always checked.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from lightning_pipeline.errors import ModelRejectedError, RunFolderError

if TYPE_CHECKING:
    from lightning_pipeline.run_folder import RunFolder
    from model_adapter import ModelConfig, ValidationReport

logger = logging.getLogger(__name__)

QUICK_CHECK_SEQ_LEN = 32


def fit_seq_len(seq_len: int, max_seq_len: int | None) -> int:
    """`seq_len` cut to the model's `max_seq_len` (None or 0: the model sets no limit)."""
    return min(int(seq_len), int(max_seq_len)) if max_seq_len else int(seq_len)


def quick_check_seq_len(max_seq_len: int | None, seq_len: int | None = None) -> int:
    """The quick check's sequence length: `QUICK_CHECK_SEQ_LEN`, or less for a shorter run or model."""
    return fit_seq_len(min(seq_len or QUICK_CHECK_SEQ_LEN, QUICK_CHECK_SEQ_LEN), max_seq_len)


class QuickCheck(NamedTuple):
    """A quick check's report (for display) and its one-line problem (None: the model passed)."""

    report: ValidationReport
    problem: str | None


def quick_check(
    model: Any, model_config: ModelConfig, *, seq_len: int | None = None, repaired: bool = True
) -> QuickCheck:
    """Quick Tier 1 validation of `model` (the user's module or its adapter); warnings are logged.

    With `repaired=True` the adapter injects a causal mask into attention that is called without
    one (what every builder export does), and the model is checked as repaired; a model that
    still sees the future (attention the repair cannot reach) fails. With `repaired=False` the raw
    model is checked and any leak fails. `seq_len` defaults to `quick_check_seq_len`.
    """
    from model_adapter import validate_model

    if seq_len is None:
        seq_len = quick_check_seq_len(model_config.max_seq_len)
    report = validate_model(model, model_config, seq_len=seq_len, quick=True, causal=repaired)
    for check in report.checks:
        if check.status == "warning":
            logger.warning("model check %s: %s", check.name, check.message)
    if report.passed:
        return QuickCheck(report, None)
    first = next((c for c in report.checks if c.status == "failed"), None)
    detail = f"{first.name}: {first.message}" if first else "see the validation report"
    hint = f" Fix: {first.hint}" if first is not None and getattr(first, "hint", None) else ""
    if first is not None and "causal" in first.name and not repaired:
        hint = " Fix: train with repair_causal_leak=True (CLI: drop --no-causal-repair) to inject a causal mask."
    return QuickCheck(report, f"the model failed quick validation ({detail}).{hint}")


def check_model(
    adapter: Any, model_config: ModelConfig, seq_len: int, *, repaired: bool = True
) -> None:
    """`quick_check`, raising `ModelRejectedError` when it fails: a run stops before training."""
    problem = quick_check(adapter, model_config, seq_len=seq_len, repaired=repaired).problem
    if problem is not None:
        raise ModelRejectedError(problem)


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


def previous_model_check(run_folder: RunFolder) -> dict[str, Any] | None:
    """The key recorded by the last run in the folder's run.json, if any."""
    try:
        value = run_folder.read_run_json().get("model_check") if run_folder.exists() else None
    except RunFolderError:  # a damaged run.json is RunFolder.create's to report
        return None
    return value if isinstance(value, dict) else None
