"""The `lightning-pipeline` console script, run as a real subprocess."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("lightning-pipeline")
    if script.exists():
        return [str(script)]
    found = shutil.which("lightning-pipeline")
    if found is None:
        pytest.fail("the lightning-pipeline console script is not installed")
    return [found]


def _run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*_cli(), *args], capture_output=True, text=True, timeout=timeout)


def test_train_then_run_again_resumes(tmp_path, builder_export, corpus):
    out = tmp_path / "run"
    args = [
        "train",
        "--model",
        str(builder_export),
        "--data",
        str(corpus),
        "--out",
        str(out),
        "--max-steps",
        "6",
        "--seq-len",
        "16",
        "--batch-size",
        "4",
        "--limit-val-batches",
        "2",
        "--accelerator",
        "cpu",
    ]
    first = _run(*args)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "done: step 6" in first.stdout
    assert (
        "Training configuration (new run;" in first.stderr
    )  # the non-default values are printed at start
    assert "max_steps=6" in first.stderr
    assert (out / "curves.png").exists() and (out / "final" / "model.safetensors").exists()
    assert "bits per byte" in first.stdout
    metrics_before = (out / "metrics.csv").read_bytes()
    run_json_before = (out / "run.json").read_bytes()
    second = _run(*args)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "already complete" in second.stdout and "step 6" in second.stdout
    assert "bits per byte" in second.stdout  # the recorded result, comparable across tokenizers
    # One line per fact: the loader names the model, the next line adds only what it does not say.
    assert "already holds this finished run" not in second.stderr
    model_lines = [line for line in first.stderr.splitlines() if line.startswith("model: ")]
    assert len(model_lines) == 1 and "parameters, strategy=" in model_lines[0]
    assert "forward(" not in model_lines[0]
    assert (
        out / "metrics.csv"
    ).read_bytes() == metrics_before  # nothing trained or evaluated again
    assert (out / "run.json").read_bytes() == run_json_before
    longer = _run(
        *[a if a != "6" else "8" for a in args]
    )  # a longer run of the same job continues it
    assert longer.returncode == 0, longer.stderr[-3000:]
    assert "resuming from step-0000006.ckpt" in longer.stderr and "done: step 8" in longer.stdout


def test_generate_prints_text(trained_run):
    result = _run(
        "generate",
        str(trained_run),
        "--prompt",
        "the quick",
        "--max-new-tokens",
        "8",
        "--temperature",
        "0",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("the quick")
    assert "stopped at" in result.stderr


def test_generate_sampling_flags_and_json(trained_run):
    result = _run(
        "generate",
        str(trained_run),
        "--prompt",
        "the",
        "--max-new-tokens",
        "10",
        "--temperature",
        "0.9",
        "--top-k",
        "20",
        "--top-p",
        "0.9",
        "--repetition-penalty",
        "1.3",
        "--num-samples",
        "2",
        "--seed",
        "5",
        "--stop",
        "zzz",
        "--no-stop-at-eos",
        "--json",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    answer = json.loads(result.stdout)
    assert answer["seed"] == 5 and len(answer["samples"]) == 2
    assert all(
        len(s["token_ids"]) == 10 and s["stop_reason"] == "max_new_tokens"
        for s in answer["samples"]
    )

    plain = _run(
        "generate",
        str(trained_run),
        "--prompt",
        "the",
        "--max-new-tokens",
        "5",
        "--num-samples",
        "2",
    )
    assert plain.returncode == 0, plain.stderr[-3000:]
    assert "--- sample 2 of 2 ---" in plain.stdout
    assert "pass --seed" in plain.stderr  # an unseeded run says how to repeat it


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (
            [
                "train",
                "--model",
                "/does/not/exist",
                "--data",
                "example",
                "--out",
                "OUT",
                "--max-steps",
                "2",
            ],
            "exist",
        ),
        (["generate", "NOT_A_RUN", "--prompt", "x"], "not a run folder"),
        (["generate", "RUN", "--prompt", "x", "--temperature", "-1"], "temperature"),
        (["generate", "RUN", "--prompt", "x", "--top-p", "1.5"], "top_p"),
        (["generate", "RUN", "--prompt", "x", "--repetition-penalty", "0"], "repetition_penalty"),
        (["generate", "RUN", "--prompt", "x", "--num-samples", "0"], "num_samples"),
    ],
)
def test_errors_are_one_line_on_stderr_with_exit_status_2(tmp_path, args, needle, trained_run):
    args = [
        a.replace("OUT", str(tmp_path / "out"))
        .replace("NOT_A_RUN", str(tmp_path))
        .replace("RUN", str(trained_run))
        if a in ("OUT", "NOT_A_RUN", "RUN")
        else a
        for a in args
    ]
    result = _run(*args)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and needle in lines[0].lower(), result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_max_steps_and_max_epochs_are_exclusive():
    result = _run("train", "--model", "m", "--out", "o", "--max-steps", "2", "--max-epochs", "1")
    assert result.returncode == 2 and "not allowed with" in result.stderr


def test_document_split_decides_the_documents_of_a_real_run(tmp_path, builder_export):
    play = tmp_path / "play.txt"
    speech = "the quick brown fox\njumps over the lazy dog\n"
    play.write_text("\n".join([speech] * 30), encoding="utf-8")  # 30 two-line paragraphs
    common = [
        "--model",
        str(builder_export),
        "--data",
        str(play),
        "--max-steps",
        "2",
        "--seq-len",
        "16",
        "--batch-size",
        "4",
        "--limit-val-batches",
        "1",
        "--accelerator",
        "cpu",
    ]

    by_line = _run("train", *common, "--out", str(tmp_path / "lines"), "--document-split", "line")
    by_paragraph = _run("train", *common, "--out", str(tmp_path / "paragraphs"))

    assert by_line.returncode == 0, by_line.stderr[-3000:]
    assert by_paragraph.returncode == 0, by_paragraph.stderr[-3000:]
    lines = json.loads((tmp_path / "lines" / "run.json").read_text())
    paragraphs = json.loads((tmp_path / "paragraphs" / "run.json").read_text())
    assert lines["config"]["document_split"] == "line" and lines["data"]["num_documents"] == 60
    assert (
        paragraphs["config"]["document_split"] == "paragraph"
        and paragraphs["data"]["num_documents"] == 30
    )


def test_an_unknown_document_split_is_one_line_and_writes_nothing(tmp_path):
    result = _run(
        "train",
        "--model",
        "m",
        "--out",
        str(tmp_path / "out"),
        "--max-steps",
        "2",
        "--document-split",
        "sentence",
    )

    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "document-split" in result.stderr and "paragraph" in result.stderr
    assert not (tmp_path / "out").exists()
