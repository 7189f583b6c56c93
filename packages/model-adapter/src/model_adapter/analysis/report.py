"""The result of Tier 2 analysis: one `SectionResult` per analysis, gathered in an `AnalysisReport`.

A report is plain data (strings, numbers, lists, dicts) like Tier 1's `ValidationReport`, so
that it renders the same way everywhere: a text summary for terminals, JSON for tools, and one
self-contained HTML page whose figures are inline SVG drawn from the same data (no plotting
library, no network).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = ["AnalysisReport", "Figure", "SectionResult"]

SectionStatus = Literal["ok", "skipped", "failed"]
SECTION_STATUSES: tuple[str, ...] = ("ok", "skipped", "failed")
FIGURE_KINDS = ("heatmap", "lines", "bars")


def _check_choice(what: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{what} must be one of {allowed}, got {value!r}")


@dataclass
class Figure:
    """One chart as data, rendered to SVG by `model_adapter.analysis.html`.

    heatmap: `data["matrix"]` (rows of numbers in [0, 1] or any range), optional `row_labels`,
    `col_labels`. lines: `data["x"]` and `data["series"]` ({name: [y, ...]}), axis labels.
    bars: `data["labels"]` and `data["values"]`.
    """

    kind: str
    title: str
    data: dict[str, Any] = field(default_factory=dict)
    caption: str = ""

    def __post_init__(self) -> None:
        _check_choice("figure kind", self.kind, FIGURE_KINDS)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "title": self.title,
            "caption": self.caption,
            "data": _json_safe(self.data),
        }


@dataclass
class SectionResult:
    """What one analysis measured (`values`), what it concluded (`summary`) and its charts."""

    name: str
    title: str
    status: SectionStatus = "ok"
    summary: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)
    duration_s: float = 0.0

    def __post_init__(self) -> None:
        _check_choice("status", self.status, SECTION_STATUSES)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "status": self.status,
            "summary": list(self.summary),
            "values": _json_safe(self.values),
            "figures": [figure.to_dict() for figure in self.figures],
            "duration_s": round(self.duration_s, 3),
        }


@dataclass
class AnalysisReport:
    """Tier 2 analysis of one model: `sections` in the order they ran, the settings used."""

    model_name: str
    sections: list[SectionResult] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0

    def __getitem__(self, name: str) -> SectionResult:
        for section in self.sections:
            if section.name == name:
                return section
        raise KeyError(f"no section {name!r}; this report has {[s.name for s in self.sections]}")

    def __contains__(self, name: object) -> bool:
        return any(section.name == name for section in self.sections)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "settings": _json_safe(self.settings),
            "duration_s": round(self.duration_s, 3),
            "sections": [section.to_dict() for section in self.sections],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """The whole report, figures' data included, as JSON (NaN and infinities become null)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def to_text(self) -> str:
        """A plain-text summary: one block per section with its conclusions."""
        lines = [f"Tier 2 analysis of {self.model_name} ({self.duration_s:.1f} s)"]
        inputs = self.settings.get("inputs")
        if inputs:
            lines.append(f"inputs: {inputs}")
        for section in self.sections:
            mark = {"ok": "", "skipped": " [skipped]", "failed": " [FAILED]"}[section.status]
            lines.append("")
            lines.append(f"== {section.title}{mark} ({section.duration_s:.1f} s)")
            lines.extend(f"  {line}" for line in section.summary)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()

    def to_html(self, path: str | os.PathLike[str] | None = None) -> str:
        """The report as one self-contained HTML page; written to `path` (atomically) when given."""
        from model_adapter.analysis.html import render_report

        page = render_report(self)
        if path is not None:
            _write_atomically(Path(path), page)
        return page

    def _repr_html_(self) -> str:
        """Notebooks display the page inside an iframe, so its styles never touch the notebook's."""
        import html

        return (
            f'<iframe srcdoc="{html.escape(self.to_html(), quote=True)}" title="Tier 2 analysis" '
            'style="width: 100%; height: 900px; border: 1px solid #d0d7de;"></iframe>'
        )


def _write_atomically(path: Path, text: str) -> None:
    """Write through a temporary file and a rename, so a failure never leaves half a page."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _json_safe(value: Any) -> Any:
    """Plain JSON types only: non-finite floats become None, tuples lists, unknown objects str."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (bool, int, str)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    item = getattr(value, "item", None)  # numpy / torch scalars
    if callable(item):
        try:
            return _json_safe(item())
        except (TypeError, ValueError, RuntimeError):
            pass
    return str(value)
