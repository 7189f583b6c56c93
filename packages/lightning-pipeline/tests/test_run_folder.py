"""RunFolder: layout, atomic run.json, refusal to reuse another run's folder, finding checkpoints."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest
import torch

from lightning_pipeline.checkpoint_io import AtomicCheckpointIO, metadata_path
from lightning_pipeline.errors import RunFolderConflictError, RunFolderError
from lightning_pipeline.run_folder import FORMAT_VERSION, RunFolder

CONFIG = {"lr": 0.001, "seq_len": 64, "batch_size": 8, "max_steps": 100, "data": "example"}
MODEL = {
    "vocab_size": 300,
    "d_model": 32,
    "heads": 2,
    "layers": 1,
    "max_seq_len": 64,
    "name": "M",
    "source": "/a/export",
}


def create(path: Path, **kwargs) -> RunFolder:
    options = {"config": CONFIG, "model_config": MODEL, "data": {"source": "example"}}
    options.update(kwargs)
    return RunFolder.create(path, **options)


def save(run: RunFolder, name: str, step: int) -> Path:
    path = run.checkpoints_dir / name
    AtomicCheckpointIO().save_checkpoint(
        {"global_step": step, "epoch": 0, "state_dict": {"w": torch.ones(2) * step}}, path
    )
    return path


def test_create_makes_the_documented_layout(tmp_path: Path) -> None:
    run = create(tmp_path / "run")

    for folder in ("model", "tokenizer", "checkpoints", "final"):
        assert (run.path / folder).is_dir()
    record = json.loads((run.path / "run.json").read_text())
    assert record["format_version"] == FORMAT_VERSION
    assert record["status"] == "running"
    assert record["config"] == CONFIG and record["model_config"] == MODEL
    assert record["data"] == {"source": "example"}
    assert "torch" in record["versions"] and "lightning-pipeline" in record["versions"]
    assert run.final_weights == run.path / "final" / "model.safetensors"
    assert [p.name for p in run.path.iterdir() if p.name.startswith(".")] == []


def test_same_run_reopens_and_keeps_its_checkpoints(tmp_path: Path) -> None:
    run = create(tmp_path / "run")
    kept = save(run, "last.ckpt", 10)

    again = create(
        tmp_path / "run",
        config={**CONFIG, "max_steps": 500},
        model_config={**MODEL, "source": "/elsewhere"},
    )

    assert kept.exists()
    assert again.read_run_json()["config"]["max_steps"] == 500  # max_steps may grow on resume
    assert again.latest_valid_checkpoint() == kept


def test_a_different_run_is_refused_and_left_untouched(tmp_path: Path) -> None:
    run = create(tmp_path / "run")
    kept = save(run, "last.ckpt", 10)
    before = run.run_json_path.read_bytes()

    with pytest.raises(
        RunFolderConflictError, match=r"model_config\.d_model.*config\.lr.*overwrite"
    ) as caught:
        create(
            tmp_path / "run", config={**CONFIG, "lr": 0.1}, model_config={**MODEL, "d_model": 64}
        )

    assert "\n" not in str(caught.value)
    assert kept.exists() and run.run_json_path.read_bytes() == before


def test_overwrite_moves_a_different_run_aside_and_starts_anew(tmp_path: Path) -> None:
    run = create(tmp_path / "run")
    old = save(run, "last.ckpt", 10)
    old_bytes = old.read_bytes()

    replaced = create(tmp_path / "run", model_config={**MODEL, "d_model": 64}, overwrite=True)

    assert not old.exists() and replaced.read_run_json()["model_config"]["d_model"] == 64
    assert replaced.checkpoints_dir.is_dir() and not replaced.checkpoint_paths()
    (moved,) = [p for p in tmp_path.iterdir() if p.name.startswith("run.replaced-")]
    assert (
        moved / "checkpoints" / "last.ckpt"
    ).read_bytes() == old_bytes  # the old run is kept whole
    assert metadata_path(moved / "checkpoints" / "last.ckpt").exists()


def test_a_foreign_non_empty_folder_is_never_used(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "holiday.jpg").write_bytes(b"jpeg")

    with pytest.raises(RunFolderError, match="not a run folder"):
        create(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["holiday.jpg"]


def test_open_checks_for_a_run_folder_and_its_version(tmp_path: Path) -> None:
    with pytest.raises(RunFolderError, match=r"no run\.json"):
        RunFolder.open(tmp_path)
    run = create(tmp_path / "run")
    assert RunFolder.open(run.path).path == run.path
    run.write_run_json({**run.read_run_json(), "format_version": 99})
    with pytest.raises(RunFolderError, match="format 99"):
        RunFolder.open(run.path)


def test_update_run_json_merges_metrics_and_validates_status(tmp_path: Path) -> None:
    run = create(tmp_path / "run")

    run.update_run_json(metrics={"val_loss": 3.0})
    run.update_run_json(metrics={"train_tokens": 1000}, status="completed")

    record = run.read_run_json()
    assert record["metrics"] == {"val_loss": 3.0, "train_tokens": 1000}
    assert record["status"] == "completed"
    with pytest.raises(RunFolderError, match="unknown run status"):
        run.set_status("exploded")
    assert run.read_run_json()["status"] == "completed"


def test_corrupt_run_json_is_a_clear_error(tmp_path: Path) -> None:
    run = create(tmp_path / "run")
    run.run_json_path.write_text("{half", encoding="utf-8")

    with pytest.raises(RunFolderError, match="not valid JSON"):
        run.read_run_json()


def test_save_model_source_copies_the_export(tmp_path: Path) -> None:
    export = tmp_path / "export"
    export.mkdir()
    (export / "model.py").write_text("# model\n")
    (export / "config.json").write_text('{"vocab_size": 300}')
    run = create(tmp_path / "run")

    run.save_model_source(export)

    assert (run.model_dir / "model.py").read_text() == "# model\n"
    assert json.loads((run.model_dir / "config.json").read_text()) == {"vocab_size": 300}


def test_save_model_source_copies_sibling_modules_and_local_packages(tmp_path: Path) -> None:
    from model_adapter.testing_styles import write_model_style

    export = write_model_style(tmp_path / "export", "multi_file", vocab_size=40)
    (export / "notes.py").write_text("# not imported by the model\n")
    run = create(tmp_path / "run")

    run.save_model_source(export)

    copied = sorted(
        p.relative_to(run.model_dir).as_posix() for p in run.model_dir.rglob("*") if p.is_file()
    )
    assert copied == [
        "blocks/__init__.py",
        "blocks/ffn.py",
        "blocks/norm.py",
        "config.json",
        "layers.py",
        "model.py",
    ]
    assert (run.model_dir / "layers.py").read_bytes() == (export / "layers.py").read_bytes()


def test_latest_valid_checkpoint_is_none_for_an_empty_run(tmp_path: Path) -> None:
    assert create(tmp_path / "run").latest_valid_checkpoint() is None
    assert RunFolder(tmp_path / "missing").latest_valid_checkpoint() is None


def test_latest_valid_checkpoint_picks_the_highest_step(tmp_path: Path) -> None:
    run = create(tmp_path / "run")
    save(run, "step-20.ckpt", 20)
    newest = save(run, "step-30.ckpt", 30)
    save(run, "step-10.ckpt", 10)  # written last, but older in training

    assert run.latest_valid_checkpoint() == newest


def test_truncated_and_corrupt_checkpoints_are_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run = create(tmp_path / "run")
    good = save(run, "step-10.ckpt", 10)
    truncated = save(run, "step-20.ckpt", 20)
    truncated.write_bytes(truncated.read_bytes()[:100])
    corrupt = save(run, "step-30.ckpt", 30)
    metadata_path(corrupt).unlink()
    corrupt.write_bytes(os.urandom(2000))
    empty = save(run, "step-40.ckpt", 40)
    with open(empty, "r+b") as handle:
        handle.truncate(0)

    with caplog.at_level(logging.WARNING, logger="lightning_pipeline.run_folder"):
        found = run.latest_valid_checkpoint()

    assert found == good
    skipped = " ".join(record.getMessage() for record in caplog.records)
    for bad in (truncated, corrupt, empty):
        assert bad.name in skipped


def test_checkpoint_whose_bytes_changed_is_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run = create(tmp_path / "run")
    good = save(run, "step-10.ckpt", 10)
    flipped = save(run, "step-20.ckpt", 20)
    data = bytearray(flipped.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, one byte different
    flipped.write_bytes(bytes(data))

    with caplog.at_level(logging.WARNING, logger="lightning_pipeline.run_folder"):
        assert run.latest_valid_checkpoint() == good
    assert "crc32 differs" in caplog.text


def test_older_checkpoints_with_a_sha256_in_their_metadata_are_still_verified(
    tmp_path: Path,
) -> None:
    import hashlib
    import json

    run = create(tmp_path / "run")
    good = save(run, "step-10.ckpt", 10)
    older = save(run, "step-20.ckpt", 20)
    for path, digest in ((good, hashlib.sha256(good.read_bytes()).hexdigest()), (older, "0" * 64)):
        meta_file = path.with_name(path.name + ".json")
        meta = json.loads(meta_file.read_text())
        del meta["checksum"]  # release 0.1.3 and earlier wrote a sha256 instead
        meta_file.write_text(json.dumps({**meta, "sha256": digest}))

    assert run.latest_valid_checkpoint() == good  # the one whose sha256 is wrong is skipped


def test_checkpoint_without_metadata_is_ordered_by_its_own_step(tmp_path: Path) -> None:
    # A run killed between the checkpoint's rename and its metadata's: the checkpoint is whole.
    run = create(tmp_path / "run")
    save(run, "step-10.ckpt", 10)
    orphan = save(run, "last.ckpt", 20)
    metadata_path(orphan).unlink()

    assert run.latest_valid_checkpoint() == orphan


def test_temporary_files_are_ignored_and_cleaned(tmp_path: Path) -> None:
    run = create(tmp_path / "run")
    good = save(run, "last.ckpt", 5)
    leftover = run.checkpoints_dir / ".last.ckpt.tmp-123-abcd"
    leftover.write_bytes(b"half a checkpoint")

    assert run.latest_valid_checkpoint() == good
    assert run.remove_temporary_files() == [leftover]
    assert not leftover.exists() and good.exists()
