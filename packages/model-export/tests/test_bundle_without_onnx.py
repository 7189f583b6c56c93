"""A model no ONNX exporter serves at every length ships without ONNX: inference.py runs the
TorchScript or `.pt2` file that passes, said in one line and recorded in the card and report."""

import json

import pytest
from conftest import run_cli, run_inference, train_tokenizer

from model_adapter.testing_styles import write_model_style


@pytest.fixture(scope="module")
def scan_bundle(tmp_path_factory):
    """The state-space-like model (a Python loop over time), exported with the default formats."""
    root = tmp_path_factory.mktemp("scan_torch")
    export = write_model_style(root / "export", "scan", vocab_size=300)
    tokenizer = train_tokenizer(root / "tok", 300)
    cwd = root / "cwd"
    cwd.mkdir()
    result = run_cli(
        export, "--tokenizer", tokenizer, "--out", root / "bundle", "--quantize", "int8", cwd=cwd
    )
    return root / "bundle", result, cwd


def test_a_python_loop_over_time_ships_a_bundle_without_onnx(scan_bundle):
    bundle, result, cwd = scan_bundle

    assert result.returncode == 0, result.stderr[-3000:]
    said = [line for line in result.stderr.splitlines() if "ships without ONNX" in line]
    assert len(said) == 1 and "inference.py runs model.torchscript.pt (script" in said[0]
    assert "--fixed-length N" in said[0]
    assert "onnx         left out (no ONNX export passes parity at every length" in result.stdout
    assert "pt2          left out (" in result.stdout
    assert "inference.py runs model.torchscript.pt" in result.stdout
    files = {p.name for p in bundle.iterdir()}
    assert "model.torchscript.pt" in files and "tokenizer.json" in files
    assert not files & {"model.onnx", "model.int8.onnx", "model.pt2"}
    report = json.loads((bundle / "parity_report.json").read_text())
    assert report["inference"] == {"format": "torchscript", "model": "model.torchscript.pt"}
    assert report["formats"]["torchscript"]["passed"]
    assert set(report["left_out"]) == {"onnx", "pt2"}
    assert report["generation"]["passed"] and report["generation"]["runtime"] == "torchscript"
    assert report["quantization"]["int8"]["status"] == "skipped"
    assert "no ONNX model" in report["quantization"]["int8"]["reason"]
    config = json.loads((bundle / "config.json").read_text())
    assert config["bundle"]["inference_model"] == "model.torchscript.pt"
    card = (bundle / "README.md").read_text()
    assert "library_name: pytorch" in card
    assert "**onnx** — not in this bundle: no ONNX export passes parity at every length" in card
    assert "runs `model.torchscript.pt` (needs only torch" in card
    assert (
        "from the TorchScript file (what inference.py runs) and from PyTorch are identical" in card
    )
    assert not any(cwd.iterdir())


def test_the_torch_only_bundle_generates_what_pytorch_generates(scan_bundle):
    bundle, _, _ = scan_bundle
    generation = json.loads((bundle / "parity_report.json").read_text())["generation"]

    greedy = run_inference(
        bundle,
        "--ids",
        *map(str, generation["prompt"]),
        "--max-new-tokens",
        "6",
        "--temperature",
        "0",
        "--no-stop-at-eos",
        "--json",
    )

    assert greedy.returncode == 0, greedy.stderr
    assert json.loads(greedy.stdout)["generated_ids"] == generation["reference_tokens"][:6]


def test_the_torch_only_bundle_samples_with_every_option_repeatably(scan_bundle):
    bundle, _, _ = scan_bundle
    options = ["--prompt", "the king", "--max-new-tokens", "8", "--temperature", "0.9"]
    options += ["--top-k", "20", "--top-p", "0.9", "--repetition-penalty", "1.2"]
    options += ["--num-samples", "2", "--seed", "5", "--no-stop-at-eos", "--json"]

    first, second = run_inference(bundle, *options), run_inference(bundle, *options)

    assert first.returncode == 0, first.stderr
    answer = json.loads(first.stdout)
    assert answer == json.loads(second.stdout)
    assert [len(s["token_ids"]) for s in answer["samples"]] == [8, 8]
    assert answer["samples"][0]["token_ids"] != answer["samples"][1]["token_ids"]
    assert all(isinstance(s["text"], str) for s in answer["samples"])


def test_an_onnx_model_the_bundle_does_not_hold_is_a_one_line_error(scan_bundle):
    bundle, _, _ = scan_bundle
    result = run_inference(bundle, "--model", "model.onnx", "--ids", "5", "6")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {bundle / 'model.onnx'} does not exist; pass --model with a model file of the bundle"
    ]


def test_formats_named_without_onnx_make_a_pt2_bundle_its_inference_runs(tmp_path):
    from model_export import build_bundle
    from model_export.sources import load_source

    export = write_model_style(tmp_path / "export", "multi_file", vocab_size=61, max_seq_len=16)

    bundle = build_bundle(load_source(export), tmp_path / "out", formats=("pt2",))

    assert bundle.files == sorted(
        ["README.md", "config.json", "inference.py", "model.pt2", "parity_report.json"]
    )
    assert bundle.report["inference"]["model"] == "model.pt2"
    assert "left_out" not in bundle.report
    prompt = bundle.report["generation"]["prompt"]
    result = run_inference(
        bundle.path,
        "--ids",
        *map(str, prompt),
        "--max-new-tokens",
        "5",
        "--temperature",
        "0",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    assert (
        json.loads(result.stdout)["generated_ids"]
        == (bundle.report["generation"]["reference_tokens"][:5])
    )
