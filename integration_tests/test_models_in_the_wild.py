"""Every popular way of writing a language model goes all the way to a bundle.

Each style of `model_adapter.testing_styles` (a multi-file model, a sequence-first transformer,
the tutorial LSTM with `init_hidden`, a minGPT CfgNode config, a namespace config, a Python
loop over time, tied embeddings) is loaded, validated, trained for a few steps by the
`lightning-pipeline` CLI, resumed, then its run folder is copied to a new place, the model's
original folder deleted, and `generate`, `model-export` and the bundle's own `inference.py` run
from the copy. Every CLI runs in an empty working directory that must stay empty.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from model_adapter import load_model, validate_model
from model_adapter.testing_styles import STYLES, write_model_style

VOCAB = 96
SEQ_LEN = 16


def _run(command: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, (
        f"{command[:2]} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    )
    assert not any(cwd.iterdir()), (
        f"{command[:2]} left {sorted(p.name for p in cwd.iterdir())} in the working directory"
    )
    return result


@pytest.mark.parametrize("style", STYLES)
def test_style_goes_from_folder_to_bundle_from_a_moved_run(style, tmp_path, corpus, console_script):
    export = write_model_style(tmp_path / "export", style, vocab_size=VOCAB, max_seq_len=32)
    model, config = load_model(export)
    report = validate_model(model, config, seq_len=SEQ_LEN, quick=True)
    assert report.passed, report.to_text()
    cwd = tmp_path / "cwd"
    cwd.mkdir()

    run_dir = tmp_path / "run"
    train = [
        console_script("lightning-pipeline"),
        "train",
        "--model",
        str(export),
        "--data",
        str(corpus),
        "--out",
        str(run_dir),
        "--seq-len",
        str(SEQ_LEN),
        "--batch-size",
        "4",
        "--lr",
        "3e-3",
        "--limit-val-batches",
        "2",
        "--accelerator",
        "cpu",
        "--no-progress-bar",
    ]
    _run([*train, "--max-steps", "3"], cwd)
    resumed = _run([*train, "--max-steps", "5"], cwd)
    assert "resuming from" in resumed.stderr
    assert "done: step 5" in resumed.stdout

    moved = tmp_path / "elsewhere" / "run-copy"
    shutil.copytree(run_dir, moved)
    shutil.rmtree(run_dir)
    shutil.rmtree(export)  # the copy must not need the model's original folder

    generated = _run(
        [
            console_script("lightning-pipeline"),
            "generate",
            str(moved),
            "--prompt",
            "the",
            "--max-new-tokens",
            "5",
            "--temperature",
            "0",
            "--seed",
            "0",
        ],
        cwd,
    )
    assert generated.stdout.startswith("the")
    assert "parameters" not in generated.stdout  # the model's own prints stay out of the text

    bundle = tmp_path / "bundle"
    _run(
        [console_script("model-export"), str(moved), "--out", str(bundle), "--formats", "onnx"], cwd
    )
    parity = json.loads((bundle / "parity_report.json").read_text())
    assert parity["formats"]["onnx"]["parity"]["passed"], parity["formats"]["onnx"]
    assert parity["source"]["kind"] == "run"

    inference = _run(
        [
            sys.executable,
            str(bundle / "inference.py"),
            "--prompt",
            "the",
            "--max-new-tokens",
            "4",
            "--json",
        ],
        cwd,
    )
    assert json.loads(inference.stdout)
