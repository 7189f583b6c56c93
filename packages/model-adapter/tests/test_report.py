"""ValidationReport / CheckResult: verdict, text table, strict JSON and notebook HTML."""

from __future__ import annotations

import json

import pytest

from model_adapter.report import CheckResult, ValidationReport


def _report() -> ValidationReport:
    return ValidationReport(
        model_name="TinyLM",
        checks=[
            CheckResult(
                "shape_robustness",
                "passed",
                {"cases_passed": "5/5", "shapes": ["1x1"]},
                "all probed shapes give [B, T, vocab]",
            ),
            CheckResult(
                "gradient_flow",
                "warning",
                {"with_gradient": "8/9", "unused": ["dead.weight"]},
                "no gradient (unused) for dead.weight",
                "remove layers the forward never calls",
            ),
            CheckResult(
                "causal_leak",
                "failed",
                {"leaks": True, "max_abs_diff": 0.25},
                "sees the future",
                "pass causal=True <or> drop --no-causal",
            ),
        ],
        settings={"seq_len": 16},
        duration_s=1.25,
    )


def test_report_fails_when_any_check_failed_and_warnings_do_not_fail_it():
    report = _report()
    assert not report.passed
    assert [c.name for c in report.failed] == ["causal_leak"]
    assert [c.name for c in report.warnings] == ["gradient_flow"]

    report.checks.pop()
    assert report.passed


def test_report_indexes_checks_by_name():
    report = _report()
    assert report["gradient_flow"].values["unused"] == ["dead.weight"]
    with pytest.raises(KeyError, match="no check named 'speed'"):
        report["speed"]


def test_check_result_rejects_unknown_status():
    with pytest.raises(ValueError, match="status must be one of"):
        CheckResult("x", "ok")


def test_text_table_aligns_columns_and_lists_hints_of_non_passed_checks():
    text = _report().to_text()
    lines = text.splitlines()
    assert lines[0].startswith(
        "Tier 1 validation of TinyLM: FAILED (1 passed, 1 warnings, 1 failed"
    )
    table = [
        line for line in lines if line.startswith(("check ", "shape_", "gradient_", "causal_"))
    ]
    assert len(table) == 4
    status_columns = {
        line.index(word) for line, word in zip(table, ["status", "PASS", "WARN", "FAIL"])
    }
    assert len(status_columns) == 1, "the status column is aligned"
    assert "cases_passed=5/5" in text  # scalar values are shown, lists are not
    assert "['1x1']" not in text
    assert "hint [causal_leak]: pass causal=True <or> drop --no-causal" in text
    assert "hint [gradient_flow]" in text
    assert "hint [shape_robustness]" not in text


def test_json_is_strict_and_round_trips():
    report = _report()
    report.checks[0].values["max_abs_logit"] = float("nan")
    report.checks[0].values["inf"] = float("-inf")
    data = json.loads(report.to_json())
    assert data["passed"] is False
    assert data["checks"][0]["values"]["max_abs_logit"] == "nan"
    assert data["checks"][0]["values"]["inf"] == "-inf"
    again = ValidationReport.from_dict(data)
    assert [c.status for c in again.checks] == ["passed", "warning", "failed"]
    assert again["causal_leak"].hint == "pass causal=True <or> drop --no-causal"


def test_html_escapes_text_colours_statuses_and_shows_hints():
    markup = _report()._repr_html_()
    assert "<table" in markup and markup.count("<tr>") == 4  # header + one row per check
    assert "pass causal=True &lt;or&gt; drop --no-causal" in markup
    assert "<or>" not in markup
    assert "#cf222e" in markup and "#9a6700" in markup and "#1a7f37" in markup


def test_key_values_fit_the_cell_width():
    check = CheckResult(
        "memory_footprint",
        "passed",
        {
            "total_mb": 123.456,
            "activations_mb": 1.5,
            "parameters": 10_000_000,
            "very_long_key_name_that_does_not_fit": "x" * 40,
        },
    )
    cell = check.key_values(width=60)
    assert cell == "total_mb=123.5, activations_mb=1.5, parameters=10000000"
