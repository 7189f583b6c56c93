"""The `model-export` CLI end to end, as real subprocesses, on folders laid out like real ones."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import (
    TESTS_DIR,
    run_cli,
    run_inference,
    tiny_corpus,
    train_tokenizer,
    write_builder,
    write_run_folder,
)

from model_export import greedy_generate
from model_export.parity import torch_logits_fn


def assert_one_line_error(result, *fragments):
    """Exit 2 and exactly one error line (log warnings about fallbacks may come before it)."""
    assert result.returncode == 2, result.stderr
    errors = [
        line for line in result.stderr.splitlines() if line.startswith("model-export: error: ")
    ]
    assert len(errors) == 1, result.stderr
    assert result.stderr.strip().splitlines()[-1] == errors[0]
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in errors[0]


def no_partial_folders(parent: Path) -> bool:
    return not [p for p in parent.iterdir() if ".partial-" in p.name or ".probe-" in p.name]


@pytest.fixture(scope="module")
def run_bundle(tmp_path_factory):
    """One run folder exported with every format and int8, judged on held-out text."""
    root = tmp_path_factory.mktemp("cli")
    run = write_run_folder(root / "run")
    from model_adapter import analyze_model

    analyze_model(run, sections=["context"], seq_len=8, batch_size=2).to_html(run / "analysis.html")
    held_out = root / "held_out.txt"
    held_out.write_text("\n".join(tiny_corpus().splitlines()[-60:]))
    out = root / "bundle"

    # Lenient thresholds so that int8 is accepted here; rejection has its own test below.
    result = run_cli(
        run,
        "--out",
        out,
        "--quantize",
        "int8",
        "--eval-text",
        held_out,
        "--license",
        "apache-2.0",
        "--min-top1",
        "0",
        "--max-ppl-increase",
        "100",
    )

    assert result.returncode == 0, result.stderr
    return run, out, result


def test_run_folder_bundle_holds_every_artifact(run_bundle):
    _, out, result = run_bundle
    files = {p.name for p in out.iterdir()}
    assert {
        "model.onnx",
        "model.torchscript.pt",
        "model.pt2",
        "tokenizer.json",
        "tokenizer_config.json",
        "config.json",
        "README.md",
        "parity_report.json",
        "inference.py",
    } <= files
    assert f"bundle written to {out}" in result.stdout
    assert no_partial_folders(out.parent)


def test_run_folder_bundle_reports_parity_generation_and_int8_verdict(run_bundle):
    _, out, _ = run_bundle
    report = json.loads((out / "parity_report.json").read_text())

    assert {f: i["passed"] for f, i in report["formats"].items()} == {
        "onnx": True,
        "torchscript": True,
        "pt2": True,
    }
    assert report["formats"]["onnx"]["exporter"] == "dynamo"
    assert report["generation"]["passed"]
    int8 = report["quantization"]["int8"]
    assert int8["eval_source"].endswith("held_out.txt")
    assert int8["status"] == "accepted" and int8["path"] == "model.int8.onnx"
    assert (out / "model.int8.onnx").is_file()
    assert int8["size_ratio"] > 1.5
    config = json.loads((out / "config.json").read_text())
    assert config["vocab_size"] == 300 and config["max_seq_len"] == 32
    assert config["bundle"]["quantized"] == {"int8": "model.int8.onnx"}


def test_run_folder_card_uses_run_json_and_admits_gaps(run_bundle):
    run, out, _ = run_bundle
    card = (out / "README.md").read_text()

    assert card.startswith('---\nlicense: "apache-2.0"')
    assert '  - "tiny-made-up-corpus"' in card
    assert "| learning_rate | 0.0003 |" in card
    assert "| val_perplexity | 70.1 |" in card
    assert f"| Weights | {os.path.relpath(run / 'final' / 'model.safetensors', out)} |" in card
    assert str(run.parent) not in card  # paths relative to the bundle: no home directory in a card
    assert "| Vocabulary | 300 |" in card and "| Context (max sequence length) | 32 |" in card
    assert "| type | BPE |" in card
    assert "**onnx** — exporter: `dynamo`" in card
    assert (
        "[analysis.html](analysis.html)" in card
    )  # the run's Tier 2 report, copied into the bundle
    assert (out / "analysis.html").read_text() == (run / "analysis.html").read_text()


def test_bundle_folder_gets_the_users_umask_not_0700(run_bundle):
    _, out, _ = run_bundle
    mask = os.umask(0o022)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o777 & ~mask


def test_weights_in_bundle_are_the_run_folders_weights(run_bundle):
    from safetensors.torch import load_model as load_weights

    from model_adapter import UniversalModelAdapter, load_model

    run, out, _ = run_bundle
    model, config = load_model(run / "model")
    load_weights(model, str(run / "final" / "model.safetensors"))
    adapter = UniversalModelAdapter(model, config).eval()
    ids = torch.randint(0, 300, (2, 9))

    with torch.no_grad():
        expected = adapter(ids)
    exported = torch.jit.load(str(out / "model.torchscript.pt"))(ids)

    torch.testing.assert_close(exported, expected, atol=1e-5, rtol=0)


@pytest.fixture(scope="module")
def torch_free_python(tmp_path_factory):
    """A venv with only onnxruntime, tokenizers and numpy: the bundle's promise to its users."""
    venv = tmp_path_factory.mktemp("venv") / "runtime"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120
    )
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    # This process's pip installs into the new venv (`--python`): no pip bootstrap in the venv.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--disable-pip-version-check",
            "onnxruntime",
            "tokenizers",
            "numpy",
        ],
        check=True,
        timeout=300,
        capture_output=True,
    )
    probe = subprocess.run([str(python), "-c", "import torch"], capture_output=True, text=True)
    assert probe.returncode != 0 and "No module named 'torch'" in probe.stderr
    return python


def test_inference_script_runs_without_torch_and_matches_pytorch(run_bundle, torch_free_python):
    run, out, _ = run_bundle
    from safetensors.torch import load_model as load_weights

    from model_adapter import UniversalModelAdapter, load_model

    model, config = load_model(run / "model")
    load_weights(model, str(run / "final" / "model.safetensors"))
    adapter = UniversalModelAdapter(model, config).eval()
    expected = greedy_generate(torch_logits_fn(adapter), [5, 17, 42], 12, max_seq_len=32)

    result = run_inference(
        out,
        *("--ids", 5, 17, 42, "--max-new-tokens", 12, "--temperature", 0),
        *("--no-stop-at-eos", "--json"),
        python=torch_free_python,
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["generated_ids"] == expected


def test_inference_script_continues_a_text_prompt_with_int8_without_torch(
    run_bundle, torch_free_python
):
    _, out, _ = run_bundle
    result = run_inference(
        out,
        *("--prompt", "the king speaks", "--model", "model.int8.onnx", "--max-new-tokens", 5),
        *("--no-stop-at-eos", "--json"),
        python=torch_free_python,
    )

    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert len(answer["prompt_ids"]) >= 3 and len(answer["generated_ids"]) == 5
    assert isinstance(answer["text"], str)


def test_export_folder_with_weights_ships_no_rejected_int8(tmp_path):
    export = write_builder(tmp_path / "export", "builder_gpt_fixed", vocab_size=300)
    run = write_run_folder(
        tmp_path / "run", kind="builder_gpt_fixed"
    )  # same architecture, trained weights
    tokenizer = train_tokenizer(tmp_path / "tok", 300)

    result = run_cli(
        export,
        "--weights",
        run / "final" / "model.safetensors",
        "--tokenizer",
        tokenizer,
        "--out",
        tmp_path / "out",
        "--formats",
        "onnx",
        "--quantize",
        "int8",
        "--min-top1",
        "1.01",
    )

    assert result.returncode == 0, result.stderr
    assert "int8         rejected (top-1 agreement" in result.stdout
    files = {p.name for p in (tmp_path / "out").iterdir()}
    assert "model.onnx" in files and "model.int8.onnx" not in files and "model.pt2" not in files
    card = (tmp_path / "out" / "README.md").read_text()
    assert "| int8 | rejected (top-1 agreement" in card
    assert "Training data and hyper-parameters: not recorded" in card


def test_failure_after_some_artifacts_leaves_no_half_written_bundle(tmp_path):
    # The model branches on token values: tracing works, torch.export refuses. The TorchScript
    # file is already written when the pt2 export fails, and none of it may survive.
    export = tmp_path / "data_dependent"
    export.mkdir()
    export.joinpath("model.py").write_text((TESTS_DIR / "hand_written_models.py").read_text())
    export.joinpath("config.json").write_text(
        json.dumps({"model_name": "DataDependentLM", "vocab_size": 211})
    )

    result = run_cli(export, "--out", tmp_path / "out", "--formats", "torchscript,pt2")

    assert_one_line_error(
        result, "pt2 export failed", "GuardOnDataDependentSymNode", "--formats torchscript"
    )
    assert not (tmp_path / "out").exists()
    assert no_partial_folders(tmp_path)


def test_missing_run_weights_is_a_one_line_error(tmp_path):
    run = write_run_folder(tmp_path / "run", with_weights=False)
    result = run_cli(run, "--out", tmp_path / "out")
    assert_one_line_error(result, "final/model.safetensors", "--weights")
    assert not (tmp_path / "out").exists()


def test_weights_of_another_model_are_a_one_line_error(tmp_path):
    export = write_builder(tmp_path / "export", "builder_gpt_fixed", vocab_size=300, d_model=64)
    other = write_run_folder(tmp_path / "run")  # d_model 32 weights
    result = run_cli(
        export, "--weights", other / "final" / "model.safetensors", "--out", tmp_path / "out"
    )
    assert_one_line_error(result, "do not match the model")
    assert not (tmp_path / "out").exists()


def test_missing_weights_file_is_a_one_line_error(tmp_path):
    export = write_builder(tmp_path / "export", "builder_gpt_fixed")
    result = run_cli(export, "--weights", tmp_path / "nope.safetensors", "--out", tmp_path / "out")
    assert_one_line_error(result, "nope.safetensors", "does not exist")


def test_non_empty_out_is_refused_and_left_untouched(tmp_path):
    export = write_builder(tmp_path / "export", "builder_gpt_fixed")
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("user data")
    result = run_cli(export, "--out", out)
    assert_one_line_error(result, "not empty")
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_unwritable_out_is_a_one_line_error(tmp_path):
    export = write_builder(tmp_path / "export", "builder_gpt_fixed")
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    result = run_cli(export, "--out", blocker / "bundle")
    assert_one_line_error(result, "cannot write")


def test_bundle_inference_script_needs_only_runtime_packages():
    source = (
        Path(__file__).resolve().parents[1] / "src" / "model_export" / "bundle_inference.py"
    ).read_text()
    imports = {
        line.split()[1].split(".")[0]
        for line in source.splitlines()
        if line.startswith(("import ", "from ")) and not line.startswith("from __future__")
    }
    assert imports <= {
        "argparse",
        "json",
        "sys",
        "pathlib",
        "numpy",
        "onnxruntime",
        "tokenizers",
        "secrets",
        "collections",
        "dataclasses",
    }
    assert np is not None


def test_inference_script_without_onnxruntime_names_the_package_to_install(run_bundle, tmp_path):
    """A real interpreter where onnxruntime is not installed: only numpy is on its path."""
    _, out, _ = run_bundle
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120
    )
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site = tmp_path / "site"
    site.mkdir()
    numpy_dir = Path(np.__file__).resolve().parent
    for item in numpy_dir.parent.iterdir():
        if (
            item.name == "numpy"
            or item.name.startswith("numpy.libs")
            or item.name.startswith("numpy-")
        ):
            (site / item.name).symlink_to(item)
    env = {**os.environ, "PYTHONPATH": str(site)}

    result = subprocess.run(
        [str(python), str(out / "inference.py"), "--ids", "5", "17"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: inference.py needs onnxruntime to run model.onnx; install it with: pip install onnxruntime"
    ]


def test_a_tokenizer_that_needs_remote_code_is_refused_in_one_line(tmp_path):
    export = write_builder(tmp_path / "export", "builder_gpt_fixed", vocab_size=300)
    tokenizer = train_tokenizer(tmp_path / "tok", 300)
    config_file = tokenizer / "tokenizer_config.json"
    config = json.loads(config_file.read_text())
    config["auto_map"] = {"AutoTokenizer": ["tokenization_evil.EvilTokenizer", None]}
    config_file.write_text(json.dumps(config))
    (tokenizer / "tokenization_evil.py").write_text("import os\n")

    result = run_cli(
        export, "--tokenizer", tokenizer, "--out", tmp_path / "out", "--formats", "onnx"
    )

    assert_one_line_error(result, "needs remote code", "auto_map", "tokenization_evil.py")
    assert not (tmp_path / "out").exists()


def test_the_bundle_carries_only_the_tokenizers_data_files(tmp_path):
    from model_export import build_bundle
    from model_export.sources import load_source

    export = write_builder(tmp_path / "export", "builder_gpt_fixed", vocab_size=300)
    tokenizer = train_tokenizer(tmp_path / "tok", 300)
    data_files = sorted(p.name for p in tokenizer.iterdir())
    source = load_source(export, tokenizer=tokenizer)
    (tokenizer / "notes.bin").write_bytes(
        b"\x00 not tokenizer data"
    )  # appears after the check: still left out

    bundle = build_bundle(source, tmp_path / "out", formats=("torchscript",))

    shipped = {p.name for p in bundle.path.iterdir()}
    assert set(data_files) - {"config.json"} <= shipped
    assert "notes.bin" not in shipped and not [
        name for name in shipped if name.endswith(".py") and name != "inference.py"
    ]


def test_an_eval_text_that_is_not_utf8_is_a_one_line_error(tmp_path):
    export = write_builder(tmp_path / "export", "builder_gpt_fixed", vocab_size=300)
    tokenizer = train_tokenizer(tmp_path / "tok", 300)
    eval_text = tmp_path / "held_out.txt"
    eval_text.write_bytes("caf\u00e9 ".encode("latin-1") * 50)

    result = run_cli(
        export,
        "--tokenizer",
        tokenizer,
        "--eval-text",
        eval_text,
        "--out",
        tmp_path / "out",
        "--quantize",
        "int8",
    )

    assert_one_line_error(result, "--eval-text", "held_out.txt", "not UTF-8")
    assert not (tmp_path / "out").exists()
