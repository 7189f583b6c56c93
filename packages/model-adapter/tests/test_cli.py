"""The `model-adapter` console script, run for real in a subprocess: output and exit codes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from model_adapter.testing import write_builder_export
from model_adapter.validation import QUICK_CHECKS

RAW_DEFECTS = ("unmasked_attention", "leaked_intermediates", "missing_output_module")

HAND_WRITTEN_MODEL = textwrap.dedent(
    """
    import torch
    import torch.nn as nn


    class HandWritten(nn.Module):
        def __init__(self, vocab_size=263, d_model=32, max_seq_len=16):
            super().__init__()
            self.tok_emb = nn.Embedding(vocab_size, d_model)
            self.attn = nn.MultiheadAttention(d_model, 2, batch_first=True)
            self.lm_head = nn.Linear(d_model, vocab_size)

        def forward(self, input_ids, attention_mask=None):
            x = self.tok_emb(input_ids)
            t = input_ids.shape[1]
            mask = torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1)
            a, _ = self.attn(x, x, x, attn_mask=mask)
            return {"logits": self.lm_head(x + a)}
    """
)


def run_cli(*args: str, script: bool = False) -> subprocess.CompletedProcess:
    if script:
        command = [str(Path(sys.executable).parent / "model-adapter"), *args]
    else:
        command = [sys.executable, "-m", "model_adapter.cli", *args]
    # torch warns on import when numpy is absent (the isolated nox venv); that line is not ours
    env = {**os.environ, "PYTHONWARNINGS": "ignore:Failed to initialize NumPy:UserWarning"}
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)


@pytest.fixture(scope="module")
def raw_export(tmp_path_factory) -> Path:
    return write_builder_export(
        tmp_path_factory.mktemp("raw") / "export",
        vocab_size=389,
        d_model=32,
        n_heads=2,
        n_blocks=2,
        max_seq_len=24,
        defects=RAW_DEFECTS,
    )


def _row(stdout: str, check: str) -> str:
    return next(line for line in stdout.splitlines() if line.startswith(check + " "))


def test_validate_passes_a_raw_export_once_repaired_with_exit_0(raw_export):
    result = run_cli("validate", str(raw_export), "--seq-len", "16", script=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASSED" in result.stdout.splitlines()[0]
    causal = _row(result.stdout, "causal_leak")
    assert "PASS" in causal and "repairs it" in causal
    for check in ("shape_robustness", "gradient_flow", "memory_footprint", "inference_speed"):
        assert check in result.stdout


def test_validate_no_causal_flags_the_leak_with_exit_1(raw_export):
    result = run_cli("validate", str(raw_export), "--no-causal", "--quick", "--seq-len", "12")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAIL" in _row(result.stdout, "causal_leak")
    assert "hint [causal_leak]:" in result.stdout and "drop --no-causal" in result.stdout
    assert result.stderr == ""


def test_validate_json_is_machine_readable(raw_export):
    result = run_cli(
        "validate", str(raw_export), "--json", "--quick", "--seq-len", "8", "--batch-size", "3"
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["passed"] is True
    assert [c["name"] for c in data["checks"]] == list(QUICK_CHECKS)
    assert data["settings"]["seq_len"] == 8 and data["settings"]["batch_size"] == 3


def test_inspect_shows_signature_graph_in_order_and_repairs(raw_export):
    result = run_cli("inspect", str(raw_export), script=True)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "mhsa_0_output: intermediate" in out
    assert "asks for intermediate outputs: yes" in out
    nodes = re.findall(r"^\s+\d+\. (\w+) \(", out, flags=re.MULTILINE)
    assert nodes[:4] == ["input_0", "embedding_0", "mhsa_0", "residual_0"]
    assert nodes[-1] == "output_0" and len(nodes) == 2 + 2 * 6 + 1
    repairs = out.split("repairs:", 1)[1]
    assert (
        "forward() takes leaked intermediates" in repairs and "run the recovered graph" in repairs
    )
    assert "no output_0 module -> tie to embedding" in repairs
    assert "attention without mask -> inject causal mask" in repairs


def test_inspect_hand_written_causal_model_needs_no_repair(tmp_path):
    (tmp_path / "model.py").write_text(HAND_WRITTEN_MODEL)
    result = run_cli("inspect", str(tmp_path / "model.py"))
    assert result.returncode == 0, result.stderr
    assert "no builder node markers" in result.stdout
    assert "attention already causal -> no mask needed" in result.stdout
    assert "attention_mask passed to forward as 'attention_mask'" in result.stdout


def test_warnings_pass_unless_strict(tmp_path):
    source = HAND_WRITTEN_MODEL.replace(
        "self.lm_head = nn.Linear(d_model, vocab_size)",
        "self.lm_head = nn.Linear(d_model, vocab_size)\n        self.never_used = nn.Linear(d_model, d_model)",
    )
    (tmp_path / "model.py").write_text(source)
    lenient = run_cli("validate", str(tmp_path / "model.py"), "--quick", "--json")
    assert lenient.returncode == 0, lenient.stderr
    gradient = next(c for c in json.loads(lenient.stdout)["checks"] if c["name"] == "gradient_flow")
    assert gradient["status"] == "warning"
    assert gradient["values"]["unused"] == ["never_used.weight", "never_used.bias"]

    strict = run_cli("validate", str(tmp_path / "model.py"), "--quick", "--strict")
    assert strict.returncode == 1
    assert "WARN" in _row(strict.stdout, "gradient_flow")


def _syntax_error_export(folder: Path) -> Path:
    folder.mkdir()
    (folder / "model.py").write_text("import torch\n\nclass Broken(torch.nn.Module)\n    pass\n")
    (folder / "config.json").write_text('{"vocab_size": 10}')
    return folder


def _no_model_export(folder: Path) -> Path:
    folder.mkdir()
    (folder / "model.py").write_text("VOCAB = 10\n")
    (folder / "config.json").write_text('{"vocab_size": 10}')
    return folder


def _binary_model_py(folder: Path) -> Path:
    folder.mkdir()
    (folder / "model.py").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00binary")
    (folder / "config.json").write_text('{"vocab_size": 10}')
    return folder


def _binary_config_json(folder: Path) -> Path:
    write_builder_export(folder, vocab_size=50, d_model=16, n_heads=2, n_blocks=1, max_seq_len=8)
    (folder / "config.json").write_bytes(b"\xff\xfe{\x00\x00binary")
    return folder


@pytest.mark.parametrize(
    ("command", "make_path", "extra", "message"),
    [
        ("validate", lambda tmp: tmp / "does-not-exist", (), "does-not-exist"),
        ("inspect", lambda tmp: tmp / "does-not-exist", (), "does-not-exist"),
        ("validate", _no_model_export, (), "no nn.Module"),
        ("inspect", _syntax_error_export, (), "model.py:3"),
        ("validate", _syntax_error_export, (), "syntax error"),
        ("validate", None, ("--seq-len", "0"), "--seq-len: must be a positive integer, got 0"),
        ("validate", None, ("--seq-len", "25"), "exceeds the model's max_seq_len=24"),
        ("inspect", _binary_model_py, (), "model.py is not UTF-8 text"),
        ("validate", _binary_config_json, (), "config.json is not UTF-8 text"),
    ],
    ids=[
        "missing-path",
        "inspect-missing-path",
        "not-a-model",
        "inspect-syntax-error",
        "syntax-error",
        "seq-len-zero",
        "seq-len-too-long",
        "binary-model-py",
        "binary-config-json",
    ],
)
def test_bad_input_is_one_line_on_stderr_with_exit_2(
    tmp_path, raw_export, command, make_path, extra, message
):
    path = raw_export if make_path is None else make_path(tmp_path / "input")
    result = run_cli(command, str(path), *extra)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"model-adapter {command}: error: ")
    assert message in lines[0]
