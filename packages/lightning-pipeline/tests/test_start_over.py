"""Starting over is never silent: damaged checkpoints are named, earlier results are never replaced
without `overwrite`, which moves the old run aside (renamed, never deleted); files the run did not
make are never deleted."""

from __future__ import annotations

import logging

import pytest

from lightning_pipeline import train
from lightning_pipeline.errors import RunFolderError

# This file's run, on top of conftest's TINY_RUN (see the tiny_config fixture).
RUN_SHAPE = dict(max_steps=8, warmup_steps=2, eval_every=4)


def test_a_run_whose_checkpoints_are_all_damaged_is_refused_until_overwrite_moves_it_aside(
    tmp_path, builder_export, corpus, tiny_config
):
    run_dir = tmp_path / "run"
    first = train(tiny_config(builder_export, corpus, run_dir))
    weights = first.final_weights.read_bytes()
    for path in (run_dir / "checkpoints").glob("*.ckpt"):
        path.write_bytes(path.read_bytes()[:200])  # truncated, e.g. by a full disk or a bad sync
    damaged = sorted(p.name for p in (run_dir / "checkpoints").glob("*.ckpt"))
    run_json = (run_dir / "run.json").read_bytes()

    with pytest.raises(
        RunFolderError
    ) as caught:  # extending the run (a finished one is only reported)
        train(tiny_config(builder_export, corpus, run_dir, max_steps=16))

    message = str(caught.value)
    assert "\n" not in message and "--overwrite" in message
    assert all(name in message for name in damaged), (damaged, message)
    assert first.final_weights.read_bytes() == weights  # nothing replaced
    assert (run_dir / "run.json").read_bytes() == run_json

    again = train(tiny_config(builder_export, corpus, run_dir), overwrite=True)

    assert again.status == "completed" and again.resumed_from is None
    (aside,) = tmp_path.glob("run.replaced-*")
    assert (aside / "final" / "model.safetensors").read_bytes() == weights  # moved, not deleted
    assert sorted(p.name for p in (aside / "checkpoints").glob("*.ckpt")) == damaged


def test_final_weights_without_checkpoints_are_not_trained_over(
    tmp_path, builder_export, corpus, tiny_config
):
    run_dir = tmp_path / "run"
    first = train(tiny_config(builder_export, corpus, run_dir, max_steps=4))
    for path in (run_dir / "checkpoints").iterdir():
        path.unlink()

    with pytest.raises(RunFolderError, match=r"final weights but no checkpoint.*--overwrite"):
        train(tiny_config(builder_export, corpus, run_dir, max_steps=8))
    assert first.final_weights.is_file()


def test_a_damaged_best_checkpoint_is_named_and_foreign_files_are_kept(
    tmp_path, builder_export, corpus, caplog, tiny_config
):
    run_dir = tmp_path / "run"
    train(tiny_config(builder_export, corpus, run_dir))
    checkpoints = run_dir / "checkpoints"
    (best,) = checkpoints.glob("best-*.ckpt")
    best.write_bytes(best.read_bytes()[:300])
    foreign = {
        "notes.txt": b"my notes",
        "step-mine.ckpt": (checkpoints / "step-0000008.ckpt").read_bytes(),
        "best-step-0000099.ckpt": (
            checkpoints / "step-0000008.ckpt"
        ).read_bytes(),  # not written by the run
    }
    for name, data in foreign.items():
        (checkpoints / name).write_bytes(data)

    with caplog.at_level(logging.WARNING, logger="lightning_pipeline"):
        result = train(tiny_config(builder_export, corpus, run_dir, max_steps=16))

    assert result.status == "completed" and result.global_step == 16
    assert any(
        best.name in record.getMessage() and "damaged" in record.getMessage()
        for record in caplog.records
    )
    for name, data in foreign.items():
        assert (checkpoints / name).read_bytes() == data, name
