"""train(): the whole job on builder-style exports, the run-folder contract, refusals before writing."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_model as load_safetensors
from transformers import AutoTokenizer

from lightning_pipeline import (
    ConfigError,
    ModelRejectedError,
    RunFolderConflictError,
    TrainingConfig,
    train,
)
from model_adapter import load_model
from model_adapter.testing import write_builder_export

# This file's run, on top of conftest's TINY_RUN (see the tiny_config fixture).
RUN_SHAPE = dict(max_steps=10, warmup_steps=2, checkpoint_every=5, eval_every=5, keep_last=3)


def test_broken_signature_export_trains_into_a_complete_run_folder(tmp_path, corpus, tiny_config):
    export = write_builder_export(
        tmp_path / "broken",
        vocab_size=257,
        d_model=32,
        n_heads=2,
        n_blocks=2,
        max_seq_len=24,
        defects=("leaked_intermediates", "unmasked_attention"),
        config_form="nodes",
    )
    run_dir = tmp_path / "run"
    result = train(
        tiny_config(export, corpus, run_dir, seq_len=64)
    )  # longer than the model: clamped to 24
    assert result.status == "completed" and result.global_step == 10

    record = json.loads((run_dir / "run.json").read_text())
    assert record["format_version"] == 1 and record["status"] == "completed"
    assert record["config"]["seq_len"] == 24
    assert record["model_config"]["vocab_size"] == 257
    assert {"lightning-pipeline", "model-adapter", "adaptive-tokenizer", "torch"} <= set(
        record["versions"]
    )
    assert record["metrics"]["val_loss"] == pytest.approx(result.val_loss)
    assert record["metrics"]["val_perplexity"] == pytest.approx(
        torch.exp(torch.tensor(result.val_loss)).item(), rel=1e-4
    )
    assert record["metrics"]["train_tokens"] == 10 * 4 * 24
    assert record["data"]["source"] == str(corpus) and record["data"]["num_train_tokens"] > 0

    assert (run_dir / "model" / "model.py").read_text() == (export / "model.py").read_text()
    tokenizer = AutoTokenizer.from_pretrained(str(run_dir / "tokenizer"))
    assert len(tokenizer) == 257
    assert (run_dir / "metrics.csv").exists() and (run_dir / "curves.png").exists()
    assert list((run_dir / "checkpoints").glob("step-*.ckpt")) and list(
        (run_dir / "checkpoints").glob("*.ckpt.json")
    )

    # final/model.safetensors is the user's module's state_dict, loadable into a freshly loaded model
    fresh, _ = load_model(str(run_dir / "model"))
    before = {k: v.clone() for k, v in fresh.state_dict().items()}
    load_safetensors(fresh, str(run_dir / "final" / "model.safetensors"))
    assert any(not torch.equal(before[k], v) for k, v in fresh.state_dict().items())


def test_a_causal_leak_is_refused_when_repair_is_off_and_nothing_is_written(
    tmp_path, corpus, tiny_config
):
    export = write_builder_export(
        tmp_path / "leaky",
        vocab_size=300,
        d_model=32,
        n_heads=2,
        max_seq_len=32,
        defects=("unmasked_attention",),
    )
    run_dir = tmp_path / "run"
    with pytest.raises(ModelRejectedError, match="causal"):
        train(tiny_config(export, corpus, run_dir, repair_causal_leak=False))
    assert not run_dir.exists()


def test_a_run_folder_of_other_settings_is_never_reused(
    tmp_path, corpus, builder_export, tiny_config
):
    run_dir = tmp_path / "run"
    train(
        tiny_config(builder_export, corpus, run_dir, max_steps=2, checkpoint_every=2, eval_every=2)
    )
    before = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    with pytest.raises(RunFolderConflictError, match="different run"):
        train(tiny_config(builder_export, corpus, run_dir, max_steps=2, batch_size=8))
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == before


def test_resume_skips_the_model_check_only_while_the_model_files_are_unchanged(
    tmp_path, corpus, builder_export, caplog, tiny_config
):
    import logging

    run_dir = tmp_path / "run"
    skipped = "quick validation skipped"
    with caplog.at_level(logging.INFO, logger="lightning_pipeline.train"):
        train(
            tiny_config(
                builder_export, corpus, run_dir, max_steps=2, checkpoint_every=2, eval_every=2
            )
        )
        assert skipped not in caplog.text
        recorded = json.loads((run_dir / "run.json").read_text())["model_check"]
        assert recorded["seq_len"] == 16 and len(recorded["sha256"]) == 64

        caplog.clear()
        train(
            tiny_config(
                builder_export, corpus, run_dir, max_steps=3, checkpoint_every=2, eval_every=2
            )
        )
        assert skipped in caplog.text

        caplog.clear()
        model_py = builder_export / "model.py"
        model_py.write_text(model_py.read_text() + "\n# edited\n")
        train(
            tiny_config(
                builder_export, corpus, run_dir, max_steps=4, checkpoint_every=2, eval_every=2
            )
        )
        assert skipped not in caplog.text  # the edited model is checked again
    assert (
        json.loads((run_dir / "run.json").read_text())["model_check"]["sha256"]
        != recorded["sha256"]
    )


def test_accumulation_and_label_smoothing_train(tmp_path, corpus, builder_export, tiny_config):
    result = train(
        tiny_config(
            builder_export,
            corpus,
            tmp_path / "run",
            max_steps=4,
            accumulate_grad_batches=2,
            label_smoothing=0.1,
            schedule="linear",
            checkpoint_every=2,
            eval_every=2,
        )
    )
    assert result.global_step == 4
    assert result.train_tokens == 4 * 2 * 4 * 16


def test_config_round_trips_through_json_and_rejects_bad_values():
    config = TrainingConfig(model="m", max_steps=10, betas=(0.8, 0.9))
    assert TrainingConfig.from_json(config.to_json()) == config
    with pytest.raises(ConfigError, match="schedule"):
        TrainingConfig(model="m", max_steps=10, schedule="exponential")
    with pytest.raises(ConfigError, match="max-steps"):
        TrainingConfig(model="m", max_steps=-1, max_epochs=None)
    with pytest.raises(ConfigError, match="unknown TrainingConfig fields"):
        TrainingConfig.from_dict({"model": "m", "max_steps": 1, "learning_rate": 1})


def test_public_api_resolves_and_importing_the_package_does_not_import_torch():
    import subprocess
    import sys

    import lightning_pipeline

    assert all(hasattr(lightning_pipeline, name) for name in lightning_pipeline.__all__)
    assert callable(lightning_pipeline.train) and callable(lightning_pipeline.generate)
    probe = "import sys, lightning_pipeline; print('torch' in sys.modules, 'pytorch_lightning' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )
    assert result.stdout.split() == ["False", "False"], result.stderr
