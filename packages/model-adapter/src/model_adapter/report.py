"""The result of Tier 1 validation: one `CheckResult` per check, gathered in a `ValidationReport`.

A report is plain data (strings, numbers, lists, dicts) so that it renders the same way
everywhere: an aligned text table for terminals and logs, JSON for tools and run folders, and a
styled HTML table (with the hints) when a notebook displays it.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["passed", "warning", "failed"]
STATUSES: tuple[str, ...] = ("passed", "warning", "failed")

_TEXT_MARKS = {"passed": "PASS", "warning": "WARN", "failed": "FAIL"}
_HTML_COLOURS = {"passed": "#1a7f37", "warning": "#9a6700", "failed": "#cf222e"}
_KEY_VALUES_WIDTH = 60


@dataclass
class CheckResult:
    """What one check measured and what it concluded.

    `values` holds the measurements (plain JSON types; the most telling ones first, because the
    text table shows the first few scalars). `hint` says what to do when the check did not pass.
    """

    name: str
    status: Status
    values: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    hint: str = ""
    duration_s: float = 0.0

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def key_values(self, width: int = _KEY_VALUES_WIDTH) -> str:
        """The leading scalar values as `key=value`, as many as fit in `width` characters."""
        parts: list[str] = []
        used = 0
        for key, value in self.values.items():
            if not (isinstance(value, (bool, int, float, str)) or value is None):
                continue
            part = f"{key}={_format_scalar(value)}"
            if parts and used + 2 + len(part) > width:
                break
            parts.append(part)
            used += len(part) + (2 if len(parts) > 1 else 0)
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "values": _json_safe(self.values),
            "message": self.message,
            "hint": self.hint,
            "duration_s": round(self.duration_s, 4),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckResult:
        return cls(
            name=data["name"],
            status=data["status"],
            values=dict(data.get("values", {})),
            message=data.get("message", ""),
            hint=data.get("hint", ""),
            duration_s=float(data.get("duration_s", 0.0)),
        )


@dataclass
class ValidationReport:
    """All Tier 1 checks of one model. `passed` is True when no check failed.

    Warnings do not fail a report: they point at something worth a look (an unused parameter, a
    model that needs the adapter's causal repair) that does not stop training.
    """

    model_name: str
    checks: list[CheckResult] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0

    @property
    def passed(self) -> bool:
        return all(check.status != "failed" for check in self.checks)

    @property
    def failed(self) -> list[CheckResult]:
        return [check for check in self.checks if check.status == "failed"]

    @property
    def warnings(self) -> list[CheckResult]:
        return [check for check in self.checks if check.status == "warning"]

    def __getitem__(self, name: str) -> CheckResult:
        """The check called `name` (`report["causal_leak"]`)."""
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(f"no check named {name!r}; checks: {[c.name for c in self.checks]}")

    def summary(self) -> str:
        counts = {status: sum(c.status == status for c in self.checks) for status in STATUSES}
        verdict = "PASSED" if self.passed else "FAILED"
        return (
            f"Tier 1 validation of {self.model_name}: {verdict} "
            f"({counts['passed']} passed, {counts['warning']} warnings, {counts['failed']} failed"
            f", {self.duration_s:.1f} s)"
        )

    # -- renderings ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "passed": self.passed,
            "duration_s": round(self.duration_s, 3),
            "settings": _json_safe(self.settings),
            "checks": [check.to_dict() for check in self.checks],
        }

    def to_json(self, indent: int | None = 2) -> str:
        """Strict JSON (non-finite numbers become the strings "nan", "inf", "-inf")."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ValidationReport:
        return cls(
            model_name=data["model_name"],
            checks=[CheckResult.from_dict(c) for c in data.get("checks", [])],
            settings=dict(data.get("settings", {})),
            duration_s=float(data.get("duration_s", 0.0)),
        )

    def to_text(self) -> str:
        """An aligned table (check, status, key values, message), then the hints."""
        header = ("check", "status", "key values", "message")
        rows = [
            (c.name, _TEXT_MARKS[c.status], _shorten(c.key_values(), _KEY_VALUES_WIDTH), c.message)
            for c in self.checks
        ]
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(3)]

        def line(row: tuple[str, str, str, str]) -> str:
            cells = [row[i].ljust(widths[i]) for i in range(3)]
            return "  ".join([*cells, row[3]]).rstrip()

        rule = ("-" * widths[0], "-" * widths[1], "-" * widths[2], "-" * 7)
        out = [self.summary(), "", line(header), line(rule)]
        out += [line(row) for row in rows]
        hints = [c for c in self.checks if c.hint and c.status != "passed"]
        if hints:
            out.append("")
            out += [f"hint [{c.name}]: {c.hint}" for c in hints]
        return "\n".join(out)

    def __str__(self) -> str:
        return self.to_text()

    def _repr_html_(self) -> str:
        esc = html.escape
        rows = []
        for c in self.checks:
            colour = _HTML_COLOURS[c.status]
            rows.append(
                "<tr>"
                f"<td style='text-align:left'><code>{esc(c.name)}</code></td>"
                f"<td style='text-align:left;color:#fff;background:{colour};font-weight:600'>"
                f"{esc(c.status)}</td>"
                f"<td style='text-align:left;font-family:monospace'>{esc(c.key_values())}</td>"
                f"<td style='text-align:left'>{esc(c.message)}</td>"
                f"<td style='text-align:left;font-style:italic'>{esc(c.hint)}</td>"
                "</tr>"
            )
        verdict_colour = _HTML_COLOURS["passed" if self.passed else "failed"]
        return (
            "<div class='model-adapter-validation-report'>"
            f"<p style='font-weight:600;color:{verdict_colour}'>{esc(self.summary())}</p>"
            "<table style='border-collapse:collapse'>"
            "<thead><tr><th>check</th><th>status</th><th>key values</th><th>message</th>"
            "<th>hint</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></div>"
        )


def _format_scalar(value: Any) -> str:
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value == 0 or 1e-3 <= abs(value) < 1e3:
            return f"{value:.4g}"
        if 1e3 <= abs(value) < 1e12:
            return f"{value:.0f}"
        return f"{value:.3e}"
    return str(value)


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _json_safe(value: Any) -> Any:
    """Plain JSON types only; non-finite floats as strings so that the JSON stays strict."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # numpy / torch scalars
        return _json_safe(value.item())
    return str(value)
