"""`import model_adapter` and `model-adapter --help` never import torch (a fresh interpreter each)."""

from __future__ import annotations

import subprocess
import sys

import model_adapter


def _modules_after(code: str) -> set[str]:
    probe = (
        code
        + "\nimport sys; print(' '.join(sorted(m for m in ('torch', 'numpy') if m in sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    return set(result.stdout.split())


def test_importing_the_package_imports_no_torch() -> None:
    assert "torch" not in _modules_after(
        "import model_adapter; model_adapter.__version__; model_adapter.ModelAdapterError"
    )


def test_cli_help_imports_no_torch() -> None:
    # argparse ends --help with SystemExit(0); any other exit (a failed import) fails the probe.
    code = (
        "from model_adapter.cli import main\ntry:\n    main(['--help'])\n"
        "except SystemExit as done:\n    assert done.code in (0, None), done.code"
    )
    assert "torch" not in _modules_after(code)


def test_a_public_name_imports_torch_on_first_use() -> None:
    assert "torch" in _modules_after("from model_adapter import UniversalModelAdapter")


def test_every_public_name_resolves() -> None:
    for name in model_adapter.__all__:
        assert getattr(model_adapter, name) is not None, name
    assert set(model_adapter.__all__) <= set(dir(model_adapter))
