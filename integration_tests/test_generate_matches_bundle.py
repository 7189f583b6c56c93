"""One sampling specification: `lightning-pipeline generate` on a trained run and the bundle's
torch-free `inference.py` (onnxruntime) give the same tokens for the same seed and settings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lightning_pipeline import TrainingConfig, generate_samples, train
from model_adapter.testing import write_builder_export

ROOT = Path(__file__).resolve().parents[1]
SPEC_BEGIN = "# ---- SAMPLING SPEC BEGIN"
SPEC_END = "# ---- SAMPLING SPEC END ----"
SETTINGS = dict(
    max_new_tokens=24,
    temperature=0.9,
    top_k=40,
    top_p=0.95,
    repetition_penalty=1.2,
    num_samples=3,
    seed=7,
)


def _spec_block(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    return text[text.index(SPEC_BEGIN) : text.index(SPEC_END)]


def test_sampling_spec_is_one_text_in_both_packages():
    ours = _spec_block(ROOT / "packages/lightning-pipeline/src/lightning_pipeline/sampling.py")
    bundled = _spec_block(ROOT / "packages/model-export/src/model_export/bundle_inference.py")
    assert ours == bundled, (
        "copy the SAMPLING SPEC block of lightning_pipeline/sampling.py into bundle_inference.py"
    )


@pytest.fixture(scope="module")
def run_and_bundle(tmp_path_factory):
    root = tmp_path_factory.mktemp("spec")
    export = write_builder_export(
        root / "export", vocab_size=300, d_model=32, n_heads=2, n_blocks=1, max_seq_len=32
    )
    corpus = root / "corpus.txt"
    corpus.write_text(
        "\n\n".join(
            f"the king speaks to the {w} at dawn.\nthe {w} answers."
            for w in ["queen", "fool", "knight", "bishop", "crowd", "ghost"] * 40
        ),
        encoding="utf-8",
    )
    train(
        TrainingConfig(
            model=str(export),
            data=str(corpus),
            out=str(root / "run"),
            max_steps=30,
            seq_len=16,
            batch_size=8,
            lr=5e-3,
            warmup_steps=3,
            eval_every=15,
            checkpoint_every=15,
            limit_val_batches=2,
            log_every=5,
            progress_bar=False,
            dashboard=False,
            accelerator="cpu",
            devices=1,
        )
    )
    export_cli = Path(sys.executable).with_name("model-export")
    result = subprocess.run(
        [str(export_cli), str(root / "run"), "--out", str(root / "bundle"), "--formats", "onnx"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return root / "run", root / "bundle"


def _inference(bundle: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(bundle / "inference.py"), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_generate_and_bundle_inference_give_the_same_tokens(run_and_bundle):
    run, bundle = run_and_bundle
    expected = generate_samples(run, "the king", **SETTINGS)

    result = _inference(
        bundle,
        "--prompt",
        "the king",
        "--max-new-tokens",
        "24",
        "--temperature",
        "0.9",
        "--top-k",
        "40",
        "--top-p",
        "0.95",
        "--repetition-penalty",
        "1.2",
        "--num-samples",
        "3",
        "--seed",
        "7",
        "--json",
    )

    assert result.returncode == 0, result.stderr
    samples = json.loads(result.stdout)["samples"]
    assert [s["token_ids"] for s in samples] == [s.token_ids for s in expected]
    assert [s["text"] for s in samples] == [s.text for s in expected]
    assert [s["stop_reason"] for s in samples] == [s.stop_reason for s in expected]
    assert len({tuple(s.token_ids) for s in expected}) > 1  # three samples, not one repeated


def test_cli_generate_and_bundle_print_the_same_text_with_the_prompt_and_stop_reason(
    run_and_bundle, tmp_path
):
    run, bundle = run_and_bundle
    cli = Path(sys.executable).with_name("lightning-pipeline")
    args = [
        "--prompt",
        "the king",
        "--max-new-tokens",
        "40",
        "--temperature",
        "0.8",
        "--seed",
        "3",
        "--stop",
        ".",
    ]
    ours = subprocess.run(
        [str(cli), "generate", str(run), *args], capture_output=True, text=True, timeout=300
    )
    theirs = _inference(bundle, *args)

    assert ours.returncode == 0 and theirs.returncode == 0, ours.stderr + theirs.stderr
    assert ours.stdout == theirs.stdout
    assert ours.stdout.startswith("the king")
    assert "." not in ours.stdout  # cut before the stop string
    assert "stopped at" in ours.stderr and "stopped at" in theirs.stderr
