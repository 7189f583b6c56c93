"""template.ipynb executed headless (nbclient) on CPU, top to bottom, as "Run all" does on Colab.

Run by `nox -s notebook`, in a venv holding the four packages and the exact pins of
requirements-colab.txt (so the install cell finds everything installed and changes nothing).
Tiny settings are injected after the cell tagged `parameters` (papermill's convention); the
`google.colab` stand-in in `colab_shim/` is put on the kernel's PYTHONPATH only. Any cell error
fails the test, with the cell's traceback.
"""

from __future__ import annotations

import json
import os
import time
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
NOTEBOOK = HERE.parent / "template.ipynb"
SHIM = HERE / "colab_shim"
ARTIFACTS = HERE / "artifacts"
CELL_TIMEOUT_S = 1200


def with_parameters(notebook: nbformat.NotebookNode, **values: object) -> nbformat.NotebookNode:
    """A copy of `notebook` with a cell assigning `values` right after the `parameters` cell."""
    notebook = nbformat.from_dict(json.loads(json.dumps(notebook)))
    index = next(
        i for i, cell in enumerate(notebook.cells) if "parameters" in cell.metadata.get("tags", [])
    )
    source = "\n".join(f"{name} = {value!r}" for name, value in values.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    cell.id = "injected-parameters"
    notebook.cells.insert(index + 1, cell)
    return notebook


def run(notebook: nbformat.NotebookNode, workdir: Path) -> nbformat.NotebookNode:
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(workdir)}},
    )
    client.execute()
    return notebook


def outputs_text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        parts.append(output.get("data", {}).get("text/plain", ""))
    return "".join(parts)


@pytest.fixture
def colab_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """The kernel's environment: the google.colab stand-in, one upload (a tiny export), no network."""
    from model_adapter.testing import write_builder_export

    uploads = tmp_path / "uploads"
    write_builder_export(
        uploads / "1", vocab_size=300, d_model=32, n_heads=2, n_blocks=1, max_seq_len=32
    )
    paths = {
        "uploads": uploads,
        "downloads": tmp_path / "downloads",
        "drive": tmp_path / "drive",
        "local": tmp_path / "content",
    }
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(SHIM), os.environ.get("PYTHONPATH")]))
    )
    monkeypatch.setenv("FAKE_COLAB_UPLOADS", str(uploads))
    monkeypatch.setenv("FAKE_COLAB_DOWNLOADS", str(paths["downloads"]))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    return paths


def test_run_all_trains_samples_exports_and_downloads(
    colab_env: dict[str, Path], tmp_path: Path
) -> None:
    tiny = dict(
        RUN_NAME="ci",
        MODEL_SOURCE="upload",
        DATA_SOURCE="example",
        TOKENIZER="auto",
        PRESET="quick-check",
        MAX_STEPS=12,
        SEQ_LEN=32,
        BATCH_SIZE=4,
        SAMPLE_TOKENS=12,
        SAMPLE_PROMPT="The",
        USE_DRIVE=True,
        DRIVE_MOUNTPOINT=str(colab_env["drive"]),
        LOCAL_ROOT=str(colab_env["local"]),
        EXPORT_FORMATS="onnx",
        QUANTIZE="int8",
    )
    started = time.monotonic()
    executed = run(with_parameters(nbformat.read(NOTEBOOK, as_version=4), **tiny), tmp_path)
    print(f"notebook run time: {time.monotonic() - started:.0f} s")
    ARTIFACTS.mkdir(exist_ok=True)
    nbformat.write(executed, ARTIFACTS / "template.executed.ipynb")  # for reading the outputs
    text = {cell.id: outputs_text(cell) for cell in executed.cells if cell.cell_type == "code"}

    work = colab_env["drive"] / "MyDrive" / "transformer-builder" / "ci"
    run_json = json.loads((work / "run" / "run.json").read_text())
    assert run_json["status"] == "completed"
    assert run_json["config"]["max_steps"] == 12 and run_json["config"]["seq_len"] == 32
    assert (work / "run" / "curves.png").is_file() and (
        work / "run" / "final" / "model.safetensors"
    ).is_file()
    assert (
        work / "inputs" / "model" / "model.py"
    ).is_file()  # the upload went through files.upload
    assert "Everything is installed already." in text["cell-01"]
    assert "Starting a new run" in "".join(text.values())
    archive = colab_env["downloads"] / "bundle.zip"
    with zipfile.ZipFile(archive) as bundle:
        names = bundle.namelist()
    assert any(name.endswith(".onnx") for name in names), names


def test_run_all_again_resumes_from_the_drive_run_folder(
    colab_env: dict[str, Path], tmp_path: Path
) -> None:
    """A second "Run all" with a longer run resumes from the checkpoints the first left on Drive."""
    tiny = dict(
        RUN_NAME="resume",
        MODEL_SOURCE="upload",
        DATA_SOURCE="example",
        PRESET="quick-check",
        MAX_STEPS=10,
        SEQ_LEN=32,
        BATCH_SIZE=2,
        SAMPLE_TOKENS=5,
        USE_DRIVE=True,
        DRIVE_MOUNTPOINT=str(colab_env["drive"]),
        LOCAL_ROOT=str(colab_env["local"]),
        EXPORT_FORMATS="onnx",
        QUANTIZE="",
    )
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    # Stop after training: cells up to and including "7. Train".
    train_index = next(
        i for i, c in enumerate(notebook.cells) if c.source.startswith("# @title 7.")
    )
    notebook.cells = notebook.cells[: train_index + 1]
    run(with_parameters(notebook, **tiny), tmp_path)
    second = run(with_parameters(notebook, **{**tiny, "MAX_STEPS": 20}), tmp_path)
    train_output = outputs_text(second.cells[-1])
    assert "Resuming from" in train_output, train_output[-2000:]
    run_json = json.loads(
        (
            colab_env["drive"] / "MyDrive" / "transformer-builder" / "resume" / "run" / "run.json"
        ).read_text()
    )
    assert run_json["status"] == "completed" and run_json["config"]["max_steps"] == 20
