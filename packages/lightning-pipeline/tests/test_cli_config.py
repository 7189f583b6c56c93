"""`train --config`, `resume`, `--overwrite`, `--tokenizer` and `--logger`, run as real subprocesses.

One tiny run is trained once per module from a YAML config file (with csv and tensorboard
loggers); tests that change a run work on a copy of it.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lightning_pipeline import TrainingConfig


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("lightning-pipeline")
    found = str(script) if script.exists() else shutil.which("lightning-pipeline")
    if found is None:
        pytest.fail("the lightning-pipeline console script is not installed")
    return [found]


def _run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*_cli(), *args], capture_output=True, text=True, timeout=timeout)


def _train_args(inputs: dict[str, Path], out: Path, *flags: str, seq_len: int = 16) -> list[str]:
    """`train` of the tiny export on the corpus into `out`: 2 steps on the CPU, then `flags`."""
    return [
        "train",
        "--model",
        str(inputs["export"]),
        "--data",
        str(inputs["corpus"]),
        "--out",
        str(out),
        "--max-steps",
        "2",
        "--seq-len",
        str(seq_len),
        "--batch-size",
        "4",
        "--limit-val-batches",
        "1",
        "--accelerator",
        "cpu",
        *flags,
    ]


def _error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(lines) == 1, result.stderr[-3000:]
    return lines[0]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory, words: list[str]) -> dict[str, Path]:
    from model_adapter.testing import write_builder_export

    root = tmp_path_factory.mktemp("cli_inputs")
    export = write_builder_export(
        root / "export", vocab_size=300, d_model=32, n_heads=2, n_blocks=1, max_seq_len=32
    )
    rng = random.Random(0)
    lines = [
        " ".join(rng.choice(words[:16]) for _ in range(rng.randint(5, 8))) + "." for _ in range(400)
    ]
    corpus = root / "corpus.txt"
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"root": root, "export": export, "corpus": corpus}


def _config_values(inputs: dict[str, Path], out: Path) -> dict:
    return {
        "model": str(inputs["export"]),
        "data": str(inputs["corpus"]),
        "out": str(out),
        "max_steps": 6,
        "seq_len": 16,
        "batch_size": 4,
        "limit_val_batches": 2,
        "lr": 0.005,
        "accelerator": "cpu",
    }


@pytest.fixture(scope="module")
def cli_run(inputs: dict[str, Path]) -> tuple[Path, subprocess.CompletedProcess]:
    """`train --config cfg.yaml --max-steps 4 --logger csv,tensorboard`: a finished run at step 4."""
    import yaml

    out = inputs["root"] / "run"
    config_file = inputs["root"] / "cfg.yaml"
    config_file.write_text(yaml.safe_dump(_config_values(inputs, out)), encoding="utf-8")
    result = _run(
        "train", "--config", str(config_file), "--max-steps", "4", "--logger", "csv,tensorboard"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return out, result


def test_config_file_with_a_flag_gives_the_librarys_config_for_the_same_values(cli_run, inputs):
    out, result = cli_run
    stored = json.loads((out / "run.json").read_text())["config"]

    expected = TrainingConfig(
        **{**_config_values(inputs, out), "max_steps": 4, "loggers": ["csv", "tensorboard"]}
    )
    assert (
        stored == expected.to_dict()
    )  # derived cadence and warmup included: one policy, in the config
    assert result.stdout.strip().splitlines() == [
        result.stdout.strip()
    ]  # one result line on stdout
    assert result.stdout.startswith("done: step 4")


def test_console_is_quiet_and_prints_plain_progress_lines_into_a_pipe(cli_run):
    _, result = cli_run
    err = result.stderr

    config_lines = [line for line in err.splitlines() if line.startswith("Training configuration")]
    assert (
        len(config_lines) == 1
        and "max_steps=4" in config_lines[0]
        and "eval_every" not in config_lines[0]
    )
    assert (
        sum(line.startswith("model: ") for line in err.splitlines()) == 1
    )  # the adapter line, once
    assert "causal mask injected" in err and "causal=False" not in err
    for banner in (
        "GPU available",
        "TPU available",
        "Tip:",
        "LeafSpec",
        "`Trainer.fit` stopped",
        "┏━",
    ):
        assert banner not in err + result.stdout
    progress = [line for line in err.splitlines() if line.startswith("step ")]
    assert progress and progress[-1].startswith("step 4/4  loss ") and "tokens/s" in progress[-1]


def test_csv_and_tensorboard_loggers_write_files_that_read_back(cli_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out, _ = cli_run
    (csv_file,) = (out / "logs" / "csv").glob("version_*/metrics.csv")
    header = csv_file.read_text().splitlines()[0].split(",")
    assert "train_loss" in header and "val_loss" in header

    (event_dir,) = (out / "logs" / "tensorboard").glob("version_*")
    events = EventAccumulator(str(event_dir))
    events.Reload()
    train_loss = events.Scalars("train_loss")
    assert [e.step for e in train_loss][-1] >= 3 and all(e.value > 0 for e in train_loss)
    assert "val_loss" in events.Tags()["scalars"]


def test_resume_continues_from_run_json_changing_only_max_steps(cli_run, tmp_path):
    run = tmp_path / "moved-run"
    shutil.copytree(cli_run[0], run)  # a moved folder resumes too: RUN_DIR is the run

    result = _run("resume", str(run), "--max-steps", "6")

    assert result.returncode == 0, result.stderr[-3000:]
    assert "resuming from step-0000004.ckpt" in result.stderr
    assert result.stdout.startswith("done: step 6")
    stored = json.loads((run / "run.json").read_text())["config"]
    assert stored["max_steps"] == 6 and stored["lr"] == 0.005 and stored["seq_len"] == 16
    assert stored["eval_every"] == 1 and stored["warmup_steps"] == 1  # as stored, not derived again


def test_overwrite_moves_the_old_run_aside(cli_run, inputs, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(cli_run[0], run)
    before = _snapshot(run)
    args = _train_args(inputs, run, seq_len=8)

    refused = _run(*args)
    assert "--overwrite" in _error_line(refused) and _snapshot(run) == before

    replaced = _run(*args, "--overwrite")

    assert replaced.returncode == 0, replaced.stderr[-3000:]
    assert json.loads((run / "run.json").read_text())["config"]["seq_len"] == 8
    (moved,) = tmp_path.glob("run.replaced-*")
    assert _snapshot(moved) == before  # the old run, whole


def test_tokenizer_flag_trains_with_the_users_tokenizer(inputs, tmp_path):
    from adaptive_tokenizer import AdaptiveTokenizer

    lines = inputs["corpus"].read_text().splitlines()
    own = AdaptiveTokenizer.load_or_create(
        300, dataset=lines, strategy="character", show_progress=False
    )
    own.save_pretrained(str(tmp_path / "tok"))
    out = tmp_path / "run"

    result = _run(
        *_train_args(inputs, out, "--tokenizer", str(tmp_path / "tok" / "tokenizer.json"))
    )

    assert result.returncode == 0, result.stderr[-3000:]
    saved = json.loads((out / "tokenizer" / "tokenizer.json").read_text())["model"]["vocab"]
    assert saved == json.loads((tmp_path / "tok" / "tokenizer.json").read_text())["model"]["vocab"]


def _too_big_tokenizer(inputs: dict[str, Path], folder: Path) -> Path:
    from adaptive_tokenizer import AdaptiveTokenizer

    lines = inputs["corpus"].read_text().splitlines()
    AdaptiveTokenizer.load_or_create(
        400, dataset=lines, strategy="bpe", show_progress=False
    ).save_pretrained(str(folder))
    return folder


@pytest.mark.parametrize(
    ("case", "needle"),
    [
        ("config-missing", "does not exist"),
        ("config-typo", "max_stepz"),
        ("tokenizer-missing", "does not exist"),
        ("tokenizer-too-big", "400"),
        ("logger-unknown", "comet"),
        ("logger-extra-missing", "lightning-pipeline[wandb]"),
        ("flag-bad-type", "--seq-len"),
        ("resume-not-a-run", "not a run folder"),
    ],
)
def test_bad_values_are_one_line_exit_2_and_write_no_run_folder(case, needle, inputs, tmp_path):
    out = tmp_path / "out"
    base = _train_args(inputs, out)
    (tmp_path / "typo.yaml").write_text("max_stepz: 3\n", encoding="utf-8")
    args = {
        "config-missing": [*base, "--config", str(tmp_path / "nope.yaml")],
        "config-typo": [*base, "--config", str(tmp_path / "typo.yaml")],
        "tokenizer-missing": [*base, "--tokenizer", str(tmp_path / "no-tokenizer")],
        "tokenizer-too-big": [*base, "--tokenizer", str(tmp_path / "big")]
        if case == "tokenizer-too-big"
        else [],
        "logger-unknown": [*base, "--logger", "csv,comet"],
        "logger-extra-missing": [*base, "--logger", "wandb"],
        "flag-bad-type": [*base, "--seq-len", "long"],
        "resume-not-a-run": ["resume", str(tmp_path), "--max-steps", "4"],
    }[case]
    if case == "tokenizer-too-big":
        _too_big_tokenizer(inputs, tmp_path / "big")
    if (
        case == "logger-extra-missing"
        and __import__("importlib").util.find_spec("wandb") is not None
    ):
        pytest.skip("wandb is installed here: the missing-extra message cannot show")

    line = _error_line(_run(*args))

    assert needle in line
    assert not out.exists()


def test_resume_with_a_conflicting_change_leaves_the_run_untouched(cli_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(cli_run[0], run)
    before = _snapshot(run)

    line = _error_line(_run("resume", str(run), "--seq-len", "8"))

    assert "config.seq_len" in line and _snapshot(run) == before
