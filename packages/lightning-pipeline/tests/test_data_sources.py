"""load_text_dataset: every kind of source, real files and the real `datasets` code paths."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest

from lightning_pipeline import colab
from lightning_pipeline.data_sources import load_text_dataset
from lightning_pipeline.errors import (
    ColabUnavailableError,
    DataSourceError,
    EmptyDatasetError,
    TextColumnError,
)
from lightning_pipeline.example_data import example_dataset, example_texts


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_txt_file_gives_one_row_per_nonblank_line_when_split_by_line(tmp_path: Path) -> None:
    path = tmp_path / "poem.txt"
    path.write_text("first line\n\n   \nsecond line\nthird\n", encoding="utf-8")

    dataset = load_text_dataset(path, document_split="line")

    assert dataset.column_names == ["text"]
    assert dataset["text"] == ["first line", "second line", "third"]


def test_txt_file_is_split_into_paragraphs_that_keep_their_newlines_by_default(
    tmp_path: Path,
) -> None:
    path = tmp_path / "play.txt"
    path.write_text(
        "ROMEO:\nBut soft!\n\n\nJULIET:\nAy me!\n  \n\nNURSE:\nAnon!\n", encoding="utf-8"
    )

    dataset = load_text_dataset(path)

    assert dataset["text"] == ["ROMEO:\nBut soft!", "JULIET:\nAy me!", "NURSE:\nAnon!"]


def test_txt_file_as_one_document_per_file(tmp_path: Path) -> None:
    folder = tmp_path / "books"
    folder.mkdir()
    (folder / "a.txt").write_text("one\n\ntwo\n", encoding="utf-8")
    (folder / "b.txt").write_text("three\n", encoding="utf-8")

    dataset = load_text_dataset(folder, document_split="file")

    assert dataset["text"] == ["one\n\ntwo\n", "three\n"]


def test_unknown_document_split_is_refused_with_the_choices(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("text\n", encoding="utf-8")

    with pytest.raises(DataSourceError, match="paragraph, file, line"):
        load_text_dataset(path, document_split="sentence")


def test_csv_single_string_column_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("id,body,score\n1,hello there,3\n2,more text,4\n", encoding="utf-8")

    dataset = load_text_dataset(str(path))

    assert dataset["text"] == ["hello there", "more text"]


def test_jsonl_prefers_content_over_other_string_columns(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "rows.jsonl",
        [{"title": "t1", "content": "body one"}, {"title": "t2", "content": "body two"}],
    )

    dataset = load_text_dataset(path)

    assert dataset["text"] == ["body one", "body two"]


def test_parquet_with_named_column(tmp_path: Path) -> None:
    path = tmp_path / "rows.parquet"
    datasets.Dataset.from_dict({"a": ["x y", "z"], "b": ["keep me", "and me"]}).to_parquet(
        str(path)
    )

    dataset = load_text_dataset(path, text_column="b")

    assert dataset["text"] == ["keep me", "and me"]


def test_folder_of_txt_files_reads_all_in_name_order(tmp_path: Path) -> None:
    folder = tmp_path / "books"
    folder.mkdir()
    (folder / "b.txt").write_text("from b\n", encoding="utf-8")
    (folder / "a.txt").write_text("from a\n", encoding="utf-8")

    dataset = load_text_dataset(folder)

    assert dataset["text"] == ["from a", "from b"]


def test_script_free_dataset_folder_uses_load_dataset_with_split(tmp_path: Path) -> None:
    # The layout of a Hub dataset repository without a loading script.
    folder = tmp_path / "hub_like"
    (folder / "data").mkdir(parents=True)
    write_jsonl(folder / "data" / "train.jsonl", [{"text": "train row"}])
    write_jsonl(
        folder / "data" / "validation.jsonl", [{"text": "val row one"}, {"text": "val row two"}]
    )

    train = load_text_dataset(folder)
    validation = load_text_dataset(folder, split="validation")

    assert train["text"] == ["train row"]
    assert validation["text"] == ["val row one", "val row two"]


def test_unknown_split_of_dataset_folder_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "hub_like"
    (folder / "data").mkdir(parents=True)
    write_jsonl(folder / "data" / "train.jsonl", [{"text": "row"}])

    with pytest.raises(DataSourceError, match="test"):
        load_text_dataset(folder, split="test")


def test_save_to_disk_folder_is_loaded(tmp_path: Path) -> None:
    datasets.Dataset.from_dict({"content": ["saved row"]}).save_to_disk(str(tmp_path / "saved"))

    dataset = load_text_dataset(tmp_path / "saved")

    assert dataset["text"] == ["saved row"]


def test_dataset_object_is_normalised() -> None:
    dataset = load_text_dataset(datasets.Dataset.from_dict({"story": ["once", ""], "n": [1, 2]}))

    assert dataset.column_names == ["text"]
    assert dataset["text"] == ["once"]


def test_missing_file_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(DataSourceError, match="not found") as caught:
        load_text_dataset(tmp_path / "nope.txt")
    assert "\n" not in str(caught.value)


def test_unknown_column_lists_the_available_ones(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "rows.jsonl", [{"title": "t", "body": "b", "n": 1}])

    with pytest.raises(TextColumnError, match="available columns: title, body, n"):
        load_text_dataset(path, text_column="text")


def test_non_string_column_is_refused(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "rows.jsonl", [{"body": "b", "n": 1}])

    with pytest.raises(TextColumnError, match="string columns: body"):
        load_text_dataset(path, text_column="n")


def test_several_string_columns_ask_for_text_column(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "rows.jsonl", [{"title": "t", "body": "b"}])

    with pytest.raises(TextColumnError, match="text_column"):
        load_text_dataset(path)


def test_empty_file_is_an_empty_dataset_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.txt"
    path.write_text("", encoding="utf-8")

    with pytest.raises(EmptyDatasetError):
        load_text_dataset(path)


def test_blank_only_text_is_an_empty_dataset_error(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "rows.jsonl", [{"text": "  "}, {"text": ""}])

    with pytest.raises(EmptyDatasetError, match="only empty text"):
        load_text_dataset(path)


def test_unreachable_hub_dataset_is_a_data_source_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)

    with pytest.raises(DataSourceError, match="someone/some-corpus"):
        load_text_dataset("someone/some-corpus")


def test_example_dataset_is_offline_deterministic_and_sizeable() -> None:
    texts = example_texts()

    dataset = load_text_dataset("example")

    assert dataset["text"] == list(texts)
    assert example_dataset()["text"] == dataset["text"]
    assert 200_000 < sum(map(len, texts)) < 2_000_000
    assert len(set(texts)) > 1000


def test_example_data_is_shakespeare_by_paragraph_with_line_breaks_and_docstrings_as_fallback(
    monkeypatch, tmp_path
):
    from lightning_pipeline import example_data

    texts = example_data.shakespeare_texts()
    assert texts[0].startswith("First Citizen:\nBefore we proceed any further")
    assert all("\n\n" not in t for t in texts) and sum("\n" in t for t in texts) > len(texts) // 2
    assert example_texts() == texts

    monkeypatch.setattr(example_data, "SHAKESPEARE_PATH", tmp_path / "missing.txt.gz")
    example_data.shakespeare_texts.cache_clear()
    try:
        assert example_texts() == example_data.docstring_texts()
    finally:
        example_data.shakespeare_texts.cache_clear()


class FakeColab:
    """Stands in for google.colab (which cannot exist here), passed as the explicit `backend=`."""

    def __init__(self, uploads: dict[str, bytes]) -> None:
        self.uploads = uploads
        self.mounted: list[str] = []

    def mount(self, mountpoint: str) -> None:
        self.mounted.append(mountpoint)

    def upload(self) -> dict[str, bytes]:
        return self.uploads


def test_upload_source_reads_the_uploaded_files(tmp_path: Path) -> None:
    fake = FakeColab({"notes.txt": b"uploaded line one\nuploaded line two\n"})

    dataset = load_text_dataset("upload", cache_dir=tmp_path / "cache", colab_backend=fake)

    assert dataset["text"] == ["uploaded line one\nuploaded line two"]  # one paragraph
    assert (tmp_path / "cache" / "uploads" / "notes.txt").is_file()


def test_upload_never_writes_outside_the_destination(tmp_path: Path) -> None:
    paths = colab.upload_files(tmp_path / "in", backend=FakeColab({"../../evil.txt": b"x"}))

    assert paths == [tmp_path / "in" / "evil.txt"]
    assert not (tmp_path / "evil.txt").exists()


def test_mount_drive_uses_the_backend_and_returns_mydrive(tmp_path: Path) -> None:
    fake = FakeColab({})

    assert colab.colab_available(fake)
    drive = colab.mount_drive(tmp_path / "drive", backend=fake)

    assert fake.mounted == [str(tmp_path / "drive")]
    assert drive == tmp_path / "drive" / "MyDrive"


def test_without_colab_upload_and_drive_say_what_to_do_instead() -> None:
    assert colab.get_backend() is None  # google.colab is not installed here
    assert not colab.colab_available()
    with pytest.raises(ColabUnavailableError, match="local"):
        colab.mount_drive()
    with pytest.raises(ColabUnavailableError, match="local file"):
        load_text_dataset("upload")
