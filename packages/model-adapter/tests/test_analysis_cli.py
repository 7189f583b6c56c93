"""`model-adapter analyze` as a real subprocess, on an export folder and on a training run folder."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from model_adapter import load_model
from model_adapter.analysis.run_weights import read_safetensors
from model_adapter.testing import write_builder_export

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = "1"  # tiny models; a shared CPU
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [SRC, env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "model_adapter.cli", "analyze", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )


def _write_safetensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    """The safetensors layout (8-byte header length, JSON header, raw data), written by hand."""
    header, chunks, offset = {}, [], 0
    for name, tensor in tensors.items():
        data = tensor.detach().contiguous().float().numpy().tobytes()
        header[name] = {
            "dtype": "F32",
            "shape": list(tensor.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)
    encoded = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(encoded)) + encoded + b"".join(chunks))


@pytest.fixture
def run_folder(tmp_path: Path) -> Path:
    """A run folder in lightning-pipeline's layout, two checkpoints apart, written through files."""
    run = tmp_path / "run"
    write_builder_export(
        run / "model", vocab_size=97, d_model=16, n_heads=2, n_blocks=2, max_seq_len=16
    )
    (run / "run.json").write_text(
        json.dumps({"format_version": 1, "status": "completed"}), encoding="utf-8"
    )
    model, _ = load_model(run / "model")
    (run / "checkpoints").mkdir()
    (run / "final").mkdir()
    torch.manual_seed(0)
    for step in (10, 2):  # written out of order: the metadata's step decides which is first
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(0.05 * torch.randn_like(parameter))
        name = f"epoch=0-step={step}.ckpt"
        torch.save(
            {
                "global_step": step,
                "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
            },
            run / "checkpoints" / name,
        )
        (run / "checkpoints" / f"{name}.json").write_text(
            json.dumps({"step": step}), encoding="utf-8"
        )
    with torch.no_grad():
        model.embedding_0_token.weight.mul_(
            3.0
        )  # the final weights moved most in the token embedding
    _write_safetensors(run / "final" / "model.safetensors", model.state_dict())
    return run


def test_safetensors_reader_round_trips(tmp_path: Path):
    tensors = {"a": torch.randn(3, 4), "b.c": torch.arange(5.0)}
    _write_safetensors(tmp_path / "w.safetensors", tensors)
    read = read_safetensors(tmp_path / "w.safetensors")
    assert set(read) == {"a", "b.c"} and all(torch.equal(read[k], tensors[k]) for k in tensors)


def test_analyze_run_folder_writes_html_and_reports_weight_drift(run_folder: Path, tmp_path: Path):
    out = tmp_path / "report.html"
    result = _cli(
        str(run_folder),
        "--out",
        str(out),
        "--json",
        "--seq-len",
        "12",
        "--batch-size",
        "2",
        "--sections",
        "representations,attention",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "weights from final/model.safetensors" in result.stderr
    report = json.loads(result.stdout)
    assert [s["name"] for s in report["sections"]] == ["attention", "representations"]
    drift = report["sections"][1]["values"]["drift"]
    assert drift["first"] == "epoch=0-step=2.ckpt"
    assert drift["parameters"][0]["parameter"] == "embedding_0_token.weight"
    assert drift["parameters"][0]["relative_change"] > 1.0
    assert [c["checkpoint"] for c in drift["checkpoints"]] == ["epoch=0-step=10.ckpt"]
    page = out.read_text(encoding="utf-8")
    assert (
        page.startswith("<!DOCTYPE html>") and "relative change since epoch=0-step=2.ckpt" in page
    )


def test_analyze_export_folder_prints_the_summary(tmp_path: Path):
    export = write_builder_export(
        tmp_path / "export", vocab_size=61, d_model=16, n_heads=2, max_seq_len=16
    )
    result = _cli(
        str(export), "--sections", "context", "--seq-len", "10", "--batch-size", "2", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "== Context use" in result.stdout and "Attention maps" not in result.stdout
    assert list(tmp_path.iterdir()) == [export]  # nothing written without --out


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["{missing}"], "neither an existing file or folder"),
        (
            ["{export}", "--out", "{tmp}/no/such/folder/r.html"],
            "give a file path in an existing folder",
        ),
        (["{export}", "--sections", "attention,vibes"], "unknown section(s) ['vibes']"),
        (["{export}", "--seq-len", "500"], "exceeds the model's max_seq_len"),
        (["{export}", "--text", "{tmp}/missing.txt"], "is not a file"),
        (
            ["{export}", "--text", "{export}/config.json"],
            "--text needs a tokenizer: pass --tokenizer FOLDER",
        ),
    ],
)
def test_analyze_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], fragment: str):
    export = write_builder_export(
        tmp_path / "export", vocab_size=61, d_model=16, n_heads=2, max_seq_len=16
    )
    filled = [a.format(missing=tmp_path / "missing", export=export, tmp=tmp_path) for a in args]
    result = _cli(*filled, cwd=tmp_path)
    assert result.returncode == 2
    assert fragment in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_analyze_model_takes_a_run_folder_path(run_folder: Path):
    from model_adapter import analyze_model

    report = analyze_model(run_folder, sections=["representations"], seq_len=8, batch_size=2)
    drift = report["representations"].values["drift"]
    assert drift["first"] == "epoch=0-step=2.ckpt"
    assert drift["parameters"][0]["parameter"] == "embedding_0_token.weight"


def test_analyze_with_text_through_a_saved_tokenizer(tmp_path: Path):
    transformers = pytest.importorskip(
        "transformers", reason="--text reads tokenizers with transformers (test group)"
    )
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = ["[UNK]", "the", "king", "is", "dead", "long", "live", "!", "."]
    word_level = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    word_level.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer_dir = tmp_path / "tokenizer"
    transformers.PreTrainedTokenizerFast(
        tokenizer_object=word_level, unk_token="[UNK]"
    ).save_pretrained(tokenizer_dir)
    text = tmp_path / "probe.txt"
    text.write_text("the king is dead . long live the king ! " * 20, encoding="utf-8")
    export = write_builder_export(
        tmp_path / "export", vocab_size=61, d_model=16, n_heads=2, max_seq_len=16
    )
    result = _cli(
        str(export),
        "--text",
        str(text),
        "--tokenizer",
        str(tokenizer_dir),
        "--sections",
        "attribution",
        "--json",
        "--seq-len",
        "12",
        "--batch-size",
        "3",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["settings"]["inputs"] == "3 window(s) of 12 tokens from the given texts"
    assert report["sections"][0]["values"]["tokens"][:4] == ["the", "king", "is", "dead"]


def test_a_damaged_checkpoint_is_skipped_by_the_weight_drift(run_folder: Path):
    from model_adapter import analyze_model

    (run_folder / "checkpoints" / "epoch=0-step=2.ckpt").write_bytes(b"not a checkpoint")
    report = analyze_model(run_folder, sections=["representations"], seq_len=8, batch_size=2)
    drift = report["representations"].values["drift"]
    assert drift["first"] == "epoch=0-step=10.ckpt" and drift["checkpoints"] == []
    assert "1 checkpoint(s) compared" in report.to_text()
