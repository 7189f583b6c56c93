"""The generated notebook matches its source, and the check notices when it does not."""

from __future__ import annotations

import json
import re

import pytest
from colab_resolution import ROOT, stack_versions, sync_stack_pins
from notebook_build import (
    NOTEBOOK,
    REQUIREMENTS,
    SOURCE,
    build,
    embedded_requirements,
    problems,
    with_requirements,
)

SOURCE_TEXT = SOURCE.read_text(encoding="utf-8")
REQUIREMENTS_TEXT = REQUIREMENTS.read_text(encoding="utf-8")


def test_committed_notebook_is_the_build_of_its_source() -> None:
    assert problems(SOURCE_TEXT, NOTEBOOK.read_text(encoding="utf-8"), REQUIREMENTS_TEXT) == []


def test_build_is_deterministic_and_has_no_outputs() -> None:
    first, second = build(SOURCE_TEXT), build(SOURCE_TEXT)
    assert first == second
    notebook = json.loads(first)
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert all(cell["outputs"] == [] and cell["execution_count"] is None for cell in code)
    assert [cell for cell in code if "parameters" in cell["metadata"].get("tags", [])]


def test_a_hand_edit_of_the_notebook_is_detected() -> None:
    edited = NOTEBOOK.read_text(encoding="utf-8").replace("RUN_NAME = ", "RUN_NAME  = ", 1)
    assert any(
        "differs from notebook/template.py" in p
        for p in problems(SOURCE_TEXT, edited, REQUIREMENTS_TEXT)
    )


def test_requirements_drift_is_detected() -> None:
    drifted = REQUIREMENTS_TEXT.replace("onnx==1.22.0", "onnx==1.23.2")
    found = problems(SOURCE_TEXT, NOTEBOOK.read_text(encoding="utf-8"), drifted)
    assert any("REQUIREMENTS differ from requirements-colab.txt" in p for p in found)


def test_a_version_bump_without_the_sync_is_named_by_line() -> None:
    versions = {**stack_versions(ROOT), "model-export": "9.9.9"}
    found = problems(SOURCE_TEXT, NOTEBOOK.read_text(encoding="utf-8"), REQUIREMENTS_TEXT, versions)
    assert any(
        p.startswith("requirements-colab.txt line ")
        and "pins model-export==" in p
        and "says 9.9.9; run `python notebook_tests/notebook_build.py --write`" in p
        for p in found
    )


def test_the_sync_copies_the_synced_pins_into_the_install_cell() -> None:
    versions = {**stack_versions(ROOT), "model-export": "9.9.9"}
    synced = sync_stack_pins(REQUIREMENTS_TEXT, versions)
    source = with_requirements(SOURCE_TEXT, synced)
    assert "model-export==9.9.9" in embedded_requirements(source)
    assert problems(source, build(source), synced, versions) == []


def _install_cell_plan(git_source: str) -> dict:
    """Run the install cell up to its pip call (what it would install), with the optional field set."""
    cell = re.search(
        r"^# @title 1\. Install.*?(?=^if missing:)", SOURCE_TEXT, flags=re.S | re.M
    ).group(0)
    field = 'optional_install_from_git_url_and_branch = ""'
    assert field in cell
    namespace: dict = {}
    exec(
        cell.replace(field, f"optional_install_from_git_url_and_branch = {git_source!r}"), namespace
    )
    return namespace


def test_install_cell_installs_the_four_packages_from_a_git_branch_when_asked() -> None:
    plan = _install_cell_plan(" https://github.com/someone/fork@my-branch ")
    git_lines = [line for line in plan["missing"] if " @ " in line]
    assert git_lines == [
        "model-adapter @ git+https://github.com/someone/fork@my-branch#subdirectory=packages/model-adapter",
        "adaptive-tokenizer @ git+https://github.com/someone/fork@my-branch#subdirectory=packages/adaptive-tokenizer",
        "lightning-pipeline[notebook] @ git+https://github.com/someone/fork@my-branch#subdirectory=packages/lightning-pipeline",
        "model-export @ git+https://github.com/someone/fork@my-branch#subdirectory=packages/model-export",
    ]
    assert not any(
        re.match(r"(model-adapter|adaptive-tokenizer|lightning-pipeline|model-export)\b.*==", line)
        for line in plan["wanted"]
    )


def test_install_cell_names_a_malformed_git_source_and_the_fix() -> None:
    with pytest.raises(
        ValueError, match=r"'someone/fork' is not URL@branch; write it like https://github.com/"
    ):
        _install_cell_plan("someone/fork")
