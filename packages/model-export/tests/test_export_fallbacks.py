"""Models whose ONNX graph bakes in the traced length get a fixed-length ONNX, said out loud;
int8 keeps its temporary files to itself and quantizes a tied embedding's lookup too."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli, run_inference

from model_adapter.testing_styles import write_model_style
from model_export.errors import clean_error_text
from model_export.fixed_length import fixed_window

CLI = Path(sys.executable).with_name("model-export")


def test_fixed_window_right_pads_and_left_truncates():
    window, real = fixed_window([5, 6, 7], 5)
    assert window.tolist() == [[5, 6, 7, 0, 0]] and real == 3
    window, real = fixed_window(list(range(1, 9)), 4)
    assert window.tolist() == [[5, 6, 7, 8]] and real == 4


def test_onnxruntime_colour_codes_are_stripped():
    assert (
        clean_error_text("\x1b[1;31m2026 [E:onnxruntime] Reshape failed\x1b[m\n")
        == "2026 [E:onnxruntime] Reshape failed"
    )


@pytest.fixture(scope="module")
def scan_bundle(tmp_path_factory):
    root = tmp_path_factory.mktemp("scan")
    export = write_model_style(root / "export", "scan", vocab_size=41)
    cwd = root / "cwd"
    cwd.mkdir()
    result = run_cli(
        export, "--out", root / "bundle", "--formats", "onnx", "--quantize", "int8", cwd=cwd
    )
    return root / "bundle", result, cwd


def test_a_python_loop_over_time_falls_back_to_a_fixed_length_onnx(scan_bundle):
    bundle, result, cwd = scan_bundle

    assert result.returncode == 0, result.stderr[-3000:]
    assert "exporting a fixed-length ONNX of 64 tokens" in result.stderr
    assert "\x1b[" not in result.stderr  # onnxruntime's red error text does not reach the user
    assert "fixed length 64" in result.stdout
    report = json.loads((bundle / "parity_report.json").read_text())
    onnx = report["formats"]["onnx"]
    assert onnx["fixed_length"] == 64 and onnx["parity"]["passed"]
    assert onnx["fallback_reason"].startswith("every-length export failed")
    assert report["generation"]["passed"]
    assert report["quantization"]["int8"]["status"] == "skipped"
    assert json.loads((bundle / "config.json").read_text())["bundle"]["onnx_fixed_length"] == 64
    assert "fixed input length 64" in (bundle / "README.md").read_text()
    assert not any(cwd.iterdir())


def test_bundle_inference_pads_prompts_to_the_fixed_length(scan_bundle):
    bundle, _, _ = scan_bundle
    result = run_inference(bundle, "--ids", 5, 17, 3, "--max-new-tokens", 4, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads((bundle / "parity_report.json").read_text())
    prompt = report["generation"]["prompt"]
    again = run_inference(
        bundle,
        *("--ids", *prompt, "--max-new-tokens", 4, "--temperature", 0),
        *("--no-stop-at-eos", "--json"),
    )
    assert json.loads(again.stdout)["generated_ids"] == report["generation"]["reference_tokens"][:4]


def test_int8_in_an_empty_working_directory_leaves_it_empty_and_tied_models_shrink(tmp_path):
    export = write_model_style(tmp_path / "export", "tied", vocab_size=2000, max_seq_len=32)
    cwd = tmp_path / "cwd"
    cwd.mkdir()

    result = subprocess.run(
        [
            str(CLI),
            str(export),
            "--out",
            str(tmp_path / "bundle"),
            "--formats",
            "onnx",
            "--quantize",
            "int8",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    assert not any(cwd.iterdir())
    q = json.loads((tmp_path / "bundle" / "parity_report.json").read_text())["quantization"]["int8"]
    # the tied matrix is stored once in int8 (see benchmarks/int8_tied_embeddings.py).
    # The agreement gate is the same as for every model
    # (an untrained model's near-ties on random ids decide accepted vs rejected here)
    assert q["size_ratio"] >= 3.5, q
    assert q["status"] == "accepted" or q["reason"].startswith("top-1 agreement"), q
    assert np.isfinite(q["top1_agreement"])
