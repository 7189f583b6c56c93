"""DDP through Lightning's own strategy: two CPU processes (gloo), launched by the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_two_process_ddp_on_cpu_trains_and_writes_one_run_folder(tmp_path, builder_export, corpus):
    out = tmp_path / "run"
    script = Path(sys.executable).with_name("lightning-pipeline")
    result = subprocess.run(
        [
            str(script),
            "train",
            "--model",
            str(builder_export),
            "--data",
            str(corpus),
            "--out",
            str(out),
            "--max-steps",
            "4",
            "--seq-len",
            "16",
            "--batch-size",
            "4",
            "--limit-val-batches",
            "2",
            "--accelerator",
            "cpu",
            "--devices",
            "2",
            "--strategy",
            "ddp",
            "--no-progress-bar",
        ],
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "completed"
    assert record["metrics"]["world_size"] == 2
    assert record["metrics"]["global_step"] == 4
    # both ranks consumed their own batches: twice the tokens of one process
    assert record["metrics"]["train_tokens"] == 4 * 4 * 16 * 2
    assert (out / "final" / "model.safetensors").exists()
    # one token store, written once (by rank 0's prepare_data) and mapped by both ranks
    stores = sorted((out / "cache").glob("tokens-*"))
    assert len(stores) == 1, stores
    assert (stores[0] / "meta.json").is_file()
    assert not list((out / "cache").glob(".tokens-*"))  # no half-written store left behind
    assert result.stderr.count("Tokenized ") <= 1  # rank 1 never tokenizes
