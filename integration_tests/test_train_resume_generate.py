"""End to end across packages: a builder-style export (fixed, or with the generator's broken
signature) is loaded and validated (model-adapter), gets a tokenizer of its vocab size
(adaptive-tokenizer), is trained by the `lightning-pipeline` CLI until the loss falls clearly,
SIGKILLed in the middle of training (a real subprocess), resumed by running the same command
again, and finally sampled with `lightning-pipeline generate`."""

from __future__ import annotations

import csv
import json
import math
import signal
import subprocess
import time
from pathlib import Path

import pytest

from adaptive_tokenizer import AdaptiveTokenizer
from lightning_pipeline.checkpoint_io import load_checkpoint_file
from model_adapter import load_model, validate_model
from model_adapter.testing import write_builder_export

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")

MAX_STEPS = 60
EXPORTS = {
    "fixed-kwargs-flat": dict(
        constructor="kwargs", config_form="flat", defects=("unmasked_attention",)
    ),
    "broken-signature-nodes": dict(
        config_form="nodes",
        defects=("leaked_intermediates", "missing_output_module", "unmasked_attention"),
    ),
}


def _checkpoint_steps(run_dir: Path) -> list[int]:
    steps = []
    for meta in (run_dir / "checkpoints").glob("step-*.ckpt.json"):
        try:
            steps.append(int(json.loads(meta.read_text())["step"]))
        except (OSError, ValueError, KeyError):
            continue
    return steps


def _train_until_killed(command: list[str], run_dir: Path, kill_after_checkpoint_step: int) -> None:
    """Start training, SIGKILL it once a checkpoint at or past the given step is on disk."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 400
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                output = process.stdout.read() if process.stdout else ""
                raise AssertionError(f"training ended before it could be killed:\n{output[-3000:]}")
            if any(step >= kill_after_checkpoint_step for step in _checkpoint_steps(run_dir)):
                process.send_signal(signal.SIGKILL)
                process.wait(timeout=60)
                return
            time.sleep(0.05)
        raise AssertionError("no checkpoint appeared in time")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize("kind", list(EXPORTS))
def test_export_trains_survives_sigkill_resumes_and_generates(
    kind, tmp_path, corpus, console_script
):
    export = write_builder_export(
        tmp_path / "export",
        vocab_size=300,
        d_model=32,
        n_heads=2,
        n_blocks=1,
        max_seq_len=32,
        **EXPORTS[kind],
    )

    # model-adapter: loads, and passes quick Tier 1 validation with the causal repair
    model, config = load_model(export)
    report = validate_model(model, config, seq_len=16, quick=True)
    assert report.passed, report.to_text()
    # adaptive-tokenizer: a tokenizer of exactly the model's vocabulary
    tokenizer = AdaptiveTokenizer.load_or_create(
        config.vocab_size, dataset=corpus.read_text().splitlines()
    )
    assert len(tokenizer) == config.vocab_size

    run_dir = tmp_path / "run"
    command = [
        console_script("lightning-pipeline"),
        "train",
        "--model",
        str(export),
        "--data",
        str(corpus),
        "--out",
        str(run_dir),
        "--max-steps",
        str(MAX_STEPS),
        "--seq-len",
        "16",
        "--batch-size",
        "8",
        "--lr",
        "5e-3",
        "--eval-every",
        "10",
        "--checkpoint-every",
        "10",
        "--log-every",
        "1",
        "--limit-val-batches",
        "4",
        "--accelerator",
        "cpu",
        "--no-progress-bar",
    ]
    _train_until_killed(command, run_dir, kill_after_checkpoint_step=20)
    for path in (run_dir / "checkpoints").glob("*.ckpt"):
        if not path.name.startswith("."):
            load_checkpoint_file(path)  # the kill never leaves a checkpoint that fails to load
    assert json.loads((run_dir / "run.json").read_text())["status"] == "running"

    resumed = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    assert "resuming from" in resumed.stderr
    assert f"done: step {MAX_STEPS}" in resumed.stdout

    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "completed"
    with open(run_dir / "metrics.csv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r.get("train_loss")]
    # the first logged loss: about ln(V) for the fixed export; far higher for the one whose output
    # projection is tied to the embedding (missing_output_module), whose initial logits are large
    start_loss = float(rows[0]["train_loss"])
    assert start_loss > math.log(config.vocab_size) - 1.0
    assert record["metrics"]["val_loss"] < start_loss - 1.5, (start_loss, record["metrics"])
    assert (run_dir / "curves.png").exists()

    generated = subprocess.run(
        [
            console_script("lightning-pipeline"),
            "generate",
            str(run_dir),
            "--prompt",
            "the",
            "--max-new-tokens",
            "12",
            "--temperature",
            "0.8",
            "--top-k",
            "20",
            "--seed",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert generated.returncode == 0, generated.stderr[-3000:]
    assert generated.stdout.startswith("the")
    assert len(generated.stdout.strip()) > len("the"), generated.stdout

    # model-adapter's Tier 2 analysis reads the run folder through its files too: the run's weights and
    # tokenizer, and the drift of every weight since the first (real Lightning) checkpoint
    analyzed = subprocess.run(
        [
            console_script("model-adapter"),
            "analyze",
            str(run_dir),
            "--text",
            str(corpus),
            "--json",
            "--sections",
            "attention,context,representations",
            "--out",
            str(run_dir / "analysis.html"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert analyzed.returncode == 0, analyzed.stderr[-3000:]
    analysis = {s["name"]: s for s in json.loads(analyzed.stdout)["sections"]}
    assert all(s["status"] == "ok" for s in analysis.values()), analysis
    assert analysis["attention"]["values"]["leaky_heads"] == 0  # the adapter's causal repair holds
    drift = analysis["representations"]["values"]["drift"]
    assert drift["first"].endswith(".ckpt") and drift["parameters"][0]["relative_change"] > 0

    # model-export reads the run folder through its files alone (the run-folder contract)
    bundle = tmp_path / "bundle"
    exported = subprocess.run(
        [console_script("model-export"), str(run_dir), "--out", str(bundle), "--formats", "onnx"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert exported.returncode == 0, exported.stderr[-3000:]
    parity = json.loads((bundle / "parity_report.json").read_text())
    assert (bundle / "model.onnx").exists() and (bundle / "tokenizer.json").exists()
    onnx_parity = parity["formats"]["onnx"]["parity"]
    assert onnx_parity["passed"] and onnx_parity["max_abs_diff"] <= 1e-4, onnx_parity
    assert parity["generation"]["passed"], parity["generation"]
    assert parity["source"]["kind"] == "run"
    assert (bundle / "analysis.html").exists() and "[analysis.html](analysis.html)" in (
        bundle / "README.md"
    ).read_text()
