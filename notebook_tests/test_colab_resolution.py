"""The Colab resolution check's own logic: freeze parsing, stub wheels, report verdicts (no network)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from colab_resolution import (
    ROOT,
    check_report,
    constraints_text,
    read_freeze,
    stack_pin_problems,
    stack_versions,
    sync_stack_pins,
    unpinned_additions,
    write_stub_wheels,
)

REQUIREMENTS_COLAB = ROOT / "requirements-colab.txt"

FREEZE = """# comment
numpy==2.1.3
torch==2.11.0+cu128
huggingface_hub==1.27.0
google-colab @ file:///colabtools/dist/google_colab-1.0.0.tar.gz
"""


def _report(*pairs: tuple[str, str]) -> dict:
    return {
        "install": [{"metadata": {"name": name, "version": version}} for name, version in pairs]
    }


def test_freeze_keeps_local_labels_and_skips_url_lines() -> None:
    assert read_freeze(FREEZE) == {
        "numpy": "2.1.3",
        "torch": "2.11.0+cu128",
        "huggingface-hub": "1.27.0",
    }
    assert "google-colab" not in constraints_text(FREEZE, "test")
    assert "torch==2.11.0+cu128" in constraints_text(FREEZE, "test").splitlines()


def test_report_verdicts_unchanged_added_and_changed() -> None:
    preinstalled = read_freeze(FREEZE)
    unchanged, added, problems = check_report(
        _report(
            ("torch", "2.11.0+cu128"),
            ("onnx", "1.22.0"),
            ("numpy", "2.2.0"),
            ("huggingface_hub", "1.27.0"),
        ),
        preinstalled,
    )
    assert unchanged == ["torch==2.11.0+cu128", "huggingface-hub==1.27.0"]
    assert added == ["onnx==1.22.0"]
    assert problems == ["numpy: Colab has 2.1.3, the install would put 2.2.0 (core package)"]


def test_additions_must_be_pinned_in_the_requirements_file() -> None:
    requirements = "onnx==1.22.0\nmodel-adapter @ file:///x.whl\n"
    found = unpinned_additions(
        ["onnx==1.22.0", "model-adapter==0.1.0", "protobuf==6.31.1"], requirements
    )
    assert found == [
        "protobuf==6.31.1: added to Colab but not pinned in the requirements file; add the line `protobuf==6.31.1`"
    ]


def test_stub_wheel_installs_as_the_preinstalled_build(tmp_path: Path) -> None:
    [wheel] = write_stub_wheels({"torch": "2.11.0+cu128", "numpy": "2.1.3"}, tmp_path / "stubs")
    assert wheel.name == "torch-2.11.0+cu128-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        assert (
            "Version: 2.11.0+cu128"
            in archive.read("torch-2.11.0+cu128.dist-info/METADATA").decode()
        )
    target = tmp_path / "target"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-index",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
    )
    assert (target / "torch-2.11.0+cu128.dist-info" / "METADATA").is_file()


def test_stack_pins_must_equal_the_pyproject_versions_and_name_the_line() -> None:
    versions = {"model-adapter": "0.1.1", "lightning-pipeline": "0.2.0"}
    requirements = (
        "# the stack\n"
        "model-adapter==0.1.0\n"
        "lightning-pipeline[notebook] @ git+https://github.com/o/r@v0.2.0#subdirectory=packages/lightning-pipeline\n"
        "onnx==1.22.0\n"
    )
    assert stack_pin_problems(requirements, versions) == [
        "requirements-colab.txt line 2: pins model-adapter==0.1.0 but packages/model-adapter/pyproject.toml says "
        "0.1.1; run `python notebook_tests/notebook_build.py --write`",
        "requirements-colab.txt line 3: `lightning-pipeline[notebook] @ git+https://github.com/o/r@v0.2.0"
        "#subdirectory=packages/lightning-pipeline` must pin lightning-pipeline by exact version "
        "(`lightning-pipeline==0.2.0`); run `python notebook_tests/notebook_build.py --write`",
    ]
    assert stack_pin_problems("onnx==1.22.0\n", {"model-export": "0.1.2"}) == [
        "requirements-colab.txt: does not install model-export; add the line `model-export==0.1.2`"
    ]


def test_syncing_the_pins_rewrites_only_the_stack_versions() -> None:
    requirements = "# model-adapter==0.0.1 in a comment stays\nmodel-adapter==0.1.0\nlightning-pipeline[notebook]==0.1.3\nonnx==1.22.0\n"
    synced = sync_stack_pins(
        requirements, {"model-adapter": "0.2.0", "lightning-pipeline": "0.1.4"}
    )
    assert (
        synced
        == "# model-adapter==0.0.1 in a comment stays\nmodel-adapter==0.2.0\nlightning-pipeline[notebook]==0.1.4\nonnx==1.22.0\n"
    )
    assert (
        stack_pin_problems(synced, {"model-adapter": "0.2.0", "lightning-pipeline": "0.1.4"}) == []
    )


def test_the_committed_requirements_pin_the_checkout_versions() -> None:
    assert stack_pin_problems(REQUIREMENTS_COLAB.read_text(), stack_versions(ROOT)) == []
