"""What the exporters share: the prepared inputs and the try-in-order-until-parity-passes loop.

`export_onnx`, `export_torchscript` and `export_pt2` each know several ways to export (dynamo,
then the TorchScript-based ONNX exporter; trace, then script; named dims, then `Dim.AUTO`).
They record every attempt and the first reason to fall back, and move a file to the target
path only once it passed parity. Keeping that bookkeeping in one place keeps their results
(`attempts`, `fallback_reason`) and their inputs (traced example, parity shapes) alike.

A private module: nothing here is part of the package's API.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from model_export.errors import ExportFailedError, describe_exception
from model_export.parity import (
    LogitsFn,
    ParityReport,
    default_parity_shapes,
    measure_parity,
    shapes_within,
)

if TYPE_CHECKING:
    import torch
    from torch import nn

    from model_export.exportable import ExportableLM

Artifact = TypeVar("Artifact")
Report = TypeVar("Report", bound="ParityReport | None")


@dataclass(frozen=True)
class ExportInputs:
    """The wrapped model, its sizes, the example every exporter traces and the parity shapes."""

    module: ExportableLM
    vocab_size: int
    max_seq_len: int | None
    example: torch.Tensor
    shapes: list[tuple[int, int]]

    def parity(self, reference: LogitsFn, candidate: LogitsFn, **measure: Any) -> ParityReport:
        """`measure_parity` of `candidate` over this export's shapes (`fmt`, `exporter`, `atol`...)."""
        return measure_parity(
            reference, candidate, vocab_size=self.vocab_size, shapes=self.shapes, **measure
        )


def mkdir_parent(path: Path) -> Path:
    """Create the folder `path` will be written in (exports stage their files beside it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.parent


def example_inputs(vocab_size: int, max_seq_len: int | None, seq_len: int | None = None):
    """The `(batch 2, seq)` example the exporters trace; sizes 0 and 1 would get specialised."""
    import torch

    if seq_len is None:
        seq_len = min(16, max_seq_len) if max_seq_len else 16
    seq_len = max(2, seq_len)
    generator = torch.Generator().manual_seed(0)
    return torch.randint(0, vocab_size, (2, seq_len), generator=generator, dtype=torch.long)


def prepare_export(
    model: nn.Module,
    vocab_size: int | None,
    max_seq_len: int | None,
    parity_shapes: list[tuple[int, int]] | None,
    *,
    example_seq_len: int | None = None,
    with_attention_mask: bool = False,
) -> ExportInputs:
    """Wrap `model`, fill in the sizes it does not say, pick the example and the parity shapes.

    Every format traces the same kind of example and is checked over the same shapes, so that
    their parity reports compare; one function keeps the formats from drifting apart.
    """
    from model_export.exportable import as_exportable, infer_max_seq_len, infer_vocab_size

    module = as_exportable(model, with_attention_mask=with_attention_mask)
    vocab = infer_vocab_size(module.model, vocab_size)
    max_len = infer_max_seq_len(module.model, max_seq_len)
    example = example_inputs(vocab, max_len, example_seq_len)
    shapes = shapes_within(
        parity_shapes or default_parity_shapes(max_len, example_seq_len=example.shape[1]),
        max_len,
    )
    return ExportInputs(module, vocab, max_len, example, shapes)


@dataclass
class Attempts:
    """Every way tried so far, in order, and the first reason to fall back.

    The results carry both (`attempts`, `fallback_reason`), so a user sees why the exporter they
    got is not the first choice. Warnings go to the logger of the module that exports.
    `failed_reason` and `parity_failed_reason` are the reasons `first_passing` records,
    `str.format` templates with the fields `name` and `detail`; `all_failed` (field `reasons`)
    is the message of the error raised when no way even wrote a file.
    """

    logger: logging.Logger
    failed_reason: str = "{name} failed: {detail}"
    parity_failed_reason: str = "{name} parity failed: {detail}"
    all_failed: str = "every way failed: {reasons}"
    records: list[dict] = field(default_factory=list)
    fallback_reason: str | None = None

    def failed(self, exporter: str, reason: str) -> None:
        self.logger.warning("%s", reason)
        self.records.append({"exporter": exporter, "ok": False, "reason": reason})
        self.fallback_reason = self.fallback_reason or reason

    def passed(self, exporter: str) -> None:
        self.records.append({"exporter": exporter, "ok": True, "reason": None})

    def reasons(self) -> str:
        """The recorded reasons, `; `-joined, for the error raised when no way worked."""
        return "; ".join(record["reason"] for record in self.records)


@dataclass(frozen=True)
class Outcome(Generic[Report]):
    """The exporter whose file now stands at the target path, and its parity verdict."""

    exporter: str
    report: Report
    passed: bool
    fallback_reason: str | None


def first_passing(
    names: Sequence[str],
    path: Path,
    suffix: str,
    export: Callable[[str, Path], Artifact],
    check: Callable[[str, Path, Artifact], Report],
    attempts: Attempts,
    raise_on_failure: bool,
) -> Outcome[Report]:
    """Try `names` in order and move the first file that passes parity to `path`.

    `export(name, target)` writes `target` (`name + suffix` in a temporary folder beside
    `path`); when it raises, the reason is recorded and the next way is tried.
    `check(name, target, artifact)` measures parity (a None report means unchecked, which
    passes); its errors are not caught. When no way passed, the last checked file is moved to
    `path` after all, unless `raise_on_failure`, when its `ParityError` names the worst shape.
    When no way even wrote a file, `ExportFailedError` says `attempts.all_failed`. The reasons
    recorded follow `attempts`' templates.
    """
    with tempfile.TemporaryDirectory(dir=mkdir_parent(path), prefix=f".{path.name}-") as tmp:
        last: tuple[Path, ParityReport] | None = None
        for name in names:
            target = Path(tmp) / f"{name}{suffix}"
            try:
                artifact = export(name, target)
            except Exception as exc:
                detail = describe_exception(exc)
                attempts.failed(name, attempts.failed_reason.format(name=name, detail=detail))
                continue
            report = check(name, target, artifact)
            if report is None or report.passed:
                attempts.passed(name)
                os.replace(target, path)
                fallback_reason = attempts.fallback_reason if name != names[0] else None
                return Outcome(name, report, True, fallback_reason)
            last = (target, report)
            reason = attempts.parity_failed_reason.format(name=name, detail=report.summary())
            attempts.failed(name, reason)
        if last is None:
            raise ExportFailedError(attempts.all_failed.format(reasons=attempts.reasons()))
        target, failed_report = last
        if raise_on_failure:
            failed_report.raise_if_failed()
        os.replace(target, path)
        # `failed_report` is what `check` returned, so it is a `Report`; mypy cannot see that.
        return Outcome(
            failed_report.exporter, cast(Report, failed_report), False, attempts.fallback_reason
        )
