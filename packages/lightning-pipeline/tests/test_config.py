"""TrainingConfig as the one source of defaults, derived values and the CLI's flags."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from lightning_pipeline.cli import build_parser, config_from_args
from lightning_pipeline.config import DERIVED_FIELDS, TrainingConfig, load_config_file
from lightning_pipeline.config_flags import flag_name
from lightning_pipeline.errors import ConfigError


def _train_args(*args: str) -> TrainingConfig:
    return config_from_args(build_parser().parse_args(["train", *args]))


def test_cadence_and_warmup_are_derived_from_max_steps_in_the_config():
    config = TrainingConfig(model="m", max_steps=300)

    assert (config.eval_every, config.checkpoint_every, config.log_every, config.warmup_steps) == (
        30,
        30,
        10,
        30,
    )
    assert TrainingConfig(model="m", max_steps=5000).eval_every == 100  # at most every 100 steps
    assert (
        TrainingConfig(model="m", max_epochs=2).eval_every == 100
    )  # no step count: the plain default


def test_cli_and_library_build_the_same_config():
    from_cli = _train_args("--model", "m", "--max-steps", "300")

    assert from_cli == TrainingConfig(model="m", max_steps=300)
    assert from_cli.to_dict() == TrainingConfig(model="m", max_steps=300).to_dict()


def test_replace_derives_again_but_explicit_and_stored_values_stay():
    config = TrainingConfig(model="m", max_steps=300, eval_every=7)

    longer = config.replace(max_steps=600)
    stored = TrainingConfig.from_dict(config.to_dict()).replace(max_steps=600)  # as `resume` does

    assert (longer.eval_every, longer.warmup_steps) == (7, 60)
    assert (stored.eval_every, stored.warmup_steps) == (7, 30)


def test_every_field_has_a_flag_with_help_and_default():
    parser = build_parser()
    train = parser._subparsers._group_actions[0].choices["train"]  # the `train` sub-parser
    by_dest = {action.dest: action for action in train._actions}

    for item in dataclasses.fields(TrainingConfig):
        assert item.name in by_dest, f"no flag for {item.name}"
        assert flag_name(item) in by_dest[item.name].option_strings
        assert item.metadata.get("help") and "(default: " in by_dest[item.name].help


@pytest.mark.parametrize("command", ["train", "resume"])
def test_help_lists_every_flag_with_its_default(command, capsys):
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args([command, "--help"])

    text = " ".join(capsys.readouterr().out.split())  # unwrapped
    assert exited.value.code == 0
    assert "--max-steps" in text and "--no-packing" in text and "--logger NAMES" in text
    assert "(default: 3)" in text  # --keep-last's, from the field


def test_max_steps_and_max_epochs_exclude_each_other(capsys):
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["train", "--max-steps", "2", "--max-epochs", "1"])

    assert exited.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1  # one line


def test_flags_parse_types_none_booleans_lists_and_aliases():
    config = _train_args(
        "--model",
        "m",
        "--max-epochs",
        "2",
        "--grad-clip",
        "none",
        "--no-packing",
        "--no-causal-repair",
        "--logger",
        "csv,tensorboard",
        "--betas",
        "0.8",
        "0.9",
        "--limit-val-batches",
        "0.5",
        "--accumulate",
        "2",
        "--devices",
        "1",
        "--tokenizer",
        "vocab.json",
        "merges.txt",
        "--extra",
        '{"note": "x"}',
    )

    assert (config.max_steps, config.max_epochs, config.grad_clip) == (-1, 2, None)
    assert not config.packing and not config.repair_causal_leak
    assert config.loggers == ["csv", "tensorboard"] and config.betas == (0.8, 0.9)
    assert (
        config.limit_val_batches == 0.5
        and config.accumulate_grad_batches == 2
        and config.devices == 1
    )
    assert config.tokenizer == ["vocab.json", "merges.txt"] and config.extra == {"note": "x"}


def test_flags_override_the_config_file_and_a_length_flag_replaces_the_files_length(tmp_path: Path):
    (tmp_path / "cfg.yaml").write_text(
        "model: m\nmax_epochs: 3\nlr: 0.01\nseq_len: 64\n", encoding="utf-8"
    )

    config = _train_args(
        "--config", str(tmp_path / "cfg.yaml"), "--max-steps", "40", "--seq-len", "32"
    )

    assert (config.max_steps, config.max_epochs, config.lr, config.seq_len) == (40, None, 0.01, 32)
    assert config.eval_every == 4  # derived from the final max_steps


def test_config_files_json_yaml_and_a_whole_run_json_give_the_same_values(tmp_path: Path):
    values = {"model": "m", "max_steps": 12, "betas": [0.8, 0.9]}
    (tmp_path / "a.json").write_text(json.dumps(values), encoding="utf-8")
    (tmp_path / "b.yml").write_text(
        "model: m\nmax_steps: 12\nbetas: [0.8, 0.9]\n", encoding="utf-8"
    )
    run_json = {
        "format_version": 1,
        "config": TrainingConfig(**values).to_dict(),
        "status": "completed",
    }
    (tmp_path / "run.json").write_text(json.dumps(run_json), encoding="utf-8")

    configs = [
        TrainingConfig.from_dict(load_config_file(tmp_path / n))
        for n in ("a.json", "b.yml", "run.json")
    ]

    assert (
        configs[0]
        == configs[1]
        == configs[2]
        == TrainingConfig(model="m", max_steps=12, betas=(0.8, 0.9))
    )


@pytest.mark.parametrize(
    ("content", "name", "needle"),
    [
        (None, "missing.yaml", "does not exist"),
        ("model: [unclosed\n", "bad.yaml", "cannot be parsed"),
        ("{not json", "bad.json", "cannot be parsed"),
        ("- a\n- b\n", "list.yaml", "no mapping"),
        ("model: m\nmax_stepz: 3\n", "typo.yaml", "max_stepz"),
    ],
)
def test_bad_config_files_are_one_line_errors(tmp_path: Path, content, name, needle):
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")

    with pytest.raises(ConfigError, match=needle) as caught:
        load_config_file(path)

    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("values", "needle"),
    [
        ({"loggers": ["csv", "comet"]}, "unknown logger 'comet'"),
        ({"tokenizer_strategy": "upload"}, "--tokenizer PATH"),
        ({"tokenizer_strategy": "wordpiece"}, "tokenizer_strategy='wordpiece'"),
        ({"eval_every": 0}, "eval_every=0"),
        ({"limit_val_batches": 0}, "limit_val_batches=0"),
    ],
)
def test_bad_values_are_config_errors(values, needle):
    with pytest.raises(ConfigError, match=needle.replace("(", r"\(").replace("[", r"\[")):
        TrainingConfig(model="m", max_steps=10, **values)


def test_console_summary_lists_only_values_set_on_purpose():
    text = TrainingConfig(model="m", max_steps=300, lr=1e-3).to_text(changed_only=True)

    assert (
        text == "model='m', max_steps=300, lr=0.001"
    )  # derived cadence and defaults stay in run.json


def test_derived_fields_are_named_in_their_help():
    fields = {item.name: item for item in dataclasses.fields(TrainingConfig)}
    for name in DERIVED_FIELDS:
        assert "derived" in fields[name].metadata["help"]


def test_resumable_fields_are_config_fields_and_the_result_fields_are_among_them():
    from lightning_pipeline.config import RESULT_FIELDS, RESUMABLE_FIELDS

    names = {f.name for f in dataclasses.fields(TrainingConfig)}
    assert RESUMABLE_FIELDS.issubset(names) and RESULT_FIELDS.issubset(RESUMABLE_FIELDS)
    assert not {"seq_len", "batch_size", "lr", "seed", "data"} & RESUMABLE_FIELDS


def test_sequence_length_is_fitted_to_the_model_and_the_quick_check_stays_short():
    from lightning_pipeline.model_check import fit_seq_len, quick_check_seq_len

    assert (
        fit_seq_len(128, 64) == 64 and fit_seq_len(16, 64) == 16 and fit_seq_len(128, None) == 128
    )
    assert quick_check_seq_len(1024, 256) == 32 and quick_check_seq_len(24, 128) == 24
    assert quick_check_seq_len(None, 16) == 16 and quick_check_seq_len(None) == 32
