"""The Colab resolution check's own logic: freeze parsing, stub wheels, report verdicts (no network)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from colab_resolution import (
    check_report,
    constraints_text,
    read_freeze,
    rewrite_local_packages,
    unpinned_additions,
    write_stub_wheels,
)

FREEZE = """# comment
numpy==2.1.3
torch==2.11.0+cu128
huggingface_hub==1.27.0
google-colab @ file:///colabtools/dist/google_colab-1.0.0.tar.gz
"""


def _report(*pairs: tuple[str, str]) -> dict:
    return {"install": [{"metadata": {"name": name, "version": version}} for name, version in pairs]}


def test_freeze_keeps_local_labels_and_skips_url_lines() -> None:
    assert read_freeze(FREEZE) == {"numpy": "2.1.3", "torch": "2.11.0+cu128", "huggingface-hub": "1.27.0"}
    assert "google-colab" not in constraints_text(FREEZE, "test")
    assert "torch==2.11.0+cu128" in constraints_text(FREEZE, "test").splitlines()


def test_report_verdicts_unchanged_added_and_changed() -> None:
    preinstalled = read_freeze(FREEZE)
    unchanged, added, problems = check_report(
        _report(("torch", "2.11.0+cu128"), ("onnx", "1.22.0"), ("numpy", "2.2.0"), ("huggingface_hub", "1.27.0")),
        preinstalled,
    )
    assert unchanged == ["torch==2.11.0+cu128", "huggingface-hub==1.27.0"]
    assert added == ["onnx==1.22.0"]
    assert problems == ["numpy: Colab has 2.1.3, the install would put 2.2.0 (core package)"]


def test_additions_must_be_pinned_in_the_requirements_file() -> None:
    requirements = "onnx==1.22.0\nmodel-adapter @ file:///x.whl\n"
    found = unpinned_additions(["onnx==1.22.0", "model-adapter==0.1.0", "protobuf==6.31.1"], requirements)
    assert found == ["protobuf==6.31.1: added to Colab but not pinned in the requirements file; add the line `protobuf==6.31.1`"]


def test_stub_wheel_installs_as_the_preinstalled_build(tmp_path: Path) -> None:
    [wheel] = write_stub_wheels({"torch": "2.11.0+cu128", "numpy": "2.1.3"}, tmp_path / "stubs")
    assert wheel.name == "torch-2.11.0+cu128-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        assert "Version: 2.11.0+cu128" in archive.read("torch-2.11.0+cu128.dist-info/METADATA").decode()
    target = tmp_path / "target"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--target", str(target),
                    str(wheel)], check=True)
    assert (target / "torch-2.11.0+cu128.dist-info" / "METADATA").is_file()


def test_git_lines_become_local_wheels_and_stale_tags_are_named(tmp_path: Path) -> None:
    requirements = (
        "# the stack\n"
        "model-adapter @ git+https://github.com/o/r@model-adapter-v0.1.0#subdirectory=packages/model-adapter\n"
        "lightning-pipeline[notebook] @ git+https://github.com/o/r@lightning-pipeline-v0.0.9#subdirectory=packages/lightning-pipeline\n"
        "onnx==1.22.0\n"
    )
    wheels = {"model-adapter": tmp_path / "m.whl", "lightning-pipeline": tmp_path / "l.whl"}
    text, problems = rewrite_local_packages(requirements, wheels, {"model-adapter": "0.1.0", "lightning-pipeline": "0.1.0"})
    assert f"model-adapter @ {(tmp_path / 'm.whl').as_uri()}" in text
    assert f"lightning-pipeline[notebook] @ {(tmp_path / 'l.whl').as_uri()}" in text
    assert "onnx==1.22.0" in text
    assert problems == [
        "lightning-pipeline: requirements-colab.txt installs tag lightning-pipeline-v0.0.9 but the package is 0.1.0; "
        "change the tag to lightning-pipeline-v0.1.0"
    ]
