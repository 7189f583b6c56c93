"""TextDocuments: local text read in chunks gives exactly the documents of the `datasets` path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lightning_pipeline.data_sources import load_text_dataset, load_text_source
from lightning_pipeline.datamodule import AdaptiveTokenizerDataModule
from lightning_pipeline.errors import DataSourceError, EmptyDatasetError, TextColumnError
from lightning_pipeline.text_documents import TextDocuments

# Every edge a chunk can cut: CRLF and lone CR newlines, runs of 3+ newlines, lines of spaces
# next to a paragraph break, multi-byte characters, a file without a final newline.
TRICKY = (
    "ROMEO:\r\nBut soft! what light — through yonder window breaks?\r\n\r\n\r\n"
    "JULIET:\rAy me!\r\r  \n\n\n\nNURSE:\nAnon, anon! ¿Qué? 日本語 🙂\n \t\n\n"
    "   \n\nFIRST\n\n\nSECOND\n\n \n THIRD\t\n\nlast line without newline"
)


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "a.txt").write_bytes(TRICKY.encode("utf-8"))
    (folder / "b.txt").write_bytes(("\n\nsecond file\n\n" + TRICKY[::-1]).encode("utf-8"))
    return folder


@pytest.mark.parametrize("document_split", ["paragraph", "line", "file"])
def test_chunked_reader_yields_the_documents_of_the_datasets_path_at_any_chunk_size(
    corpus: Path, document_split: str
) -> None:
    expected = load_text_dataset(corpus, document_split=document_split)["text"]
    assert len(expected) >= 2

    for chunk_bytes in (1, 2, 3, 5, 7, 64, 1 << 20):
        documents = TextDocuments(
            sorted(corpus.glob("*.txt")), document_split=document_split, chunk_bytes=chunk_bytes
        )
        assert list(documents) == expected, chunk_bytes
        assert len(documents) == len(expected)
        # the progress bar's byte counts add up to the files' sizes
        assert sum(size for _docs, size in documents.text_batches()) == documents.total_bytes


def test_load_text_source_streams_local_text_and_keeps_other_sources_as_datasets(
    corpus: Path, tmp_path: Path
) -> None:
    source = load_text_source(corpus / "a.txt", document_split="line")
    assert isinstance(source, TextDocuments)
    assert list(source) == load_text_dataset(corpus / "a.txt", document_split="line")["text"]

    jsonl = tmp_path / "rows.jsonl"
    jsonl.write_text('{"text": "one"}\n{"text": "two"}\n', encoding="utf-8")
    assert load_text_source(jsonl)["text"] == ["one", "two"]

    with pytest.raises(TextColumnError, match="available columns: text"):
        load_text_source(corpus / "a.txt", text_column="body")


def test_the_fingerprint_follows_the_content_and_the_split(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("one\ntwo\n", encoding="utf-8")
    first = TextDocuments([path]).fingerprint()
    assert TextDocuments([path]).fingerprint() == first
    assert TextDocuments([path], document_split="line").fingerprint() != first
    path.write_text("one\ntwo!\n", encoding="utf-8")
    assert TextDocuments([path]).fingerprint() != first


def test_bad_files_are_one_line_errors_naming_the_file(tmp_path: Path) -> None:
    latin = tmp_path / "latin.txt"
    latin.write_bytes("caf\u00e9 ok\n".encode() * 3 + "na\u00efve\n".encode("latin-1"))
    for chunk_bytes in (1, 4, 29, 1 << 20):  # the byte is named wherever the chunks are cut
        with pytest.raises(DataSourceError, match=r"latin\.txt as UTF-8 text \(byte 29") as caught:
            TextDocuments([latin], chunk_bytes=chunk_bytes)
        assert "\n" not in str(caught.value)

    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(EmptyDatasetError, match=r"empty\.txt"):
        load_text_source(empty)

    blank = tmp_path / "blank.txt"
    blank.write_text("\n   \n\t\n\n", encoding="utf-8")
    with pytest.raises(EmptyDatasetError, match="only empty text"):
        load_text_source(blank, document_split="line")

    with pytest.raises(DataSourceError, match="paragraph, file, line"):
        TextDocuments([blank], document_split="sentence")


def test_token_store_from_chunked_text_holds_the_same_ids_as_from_the_dataset(
    corpus: Path, tmp_path: Path
) -> None:
    from adaptive_tokenizer import AdaptiveTokenizer

    lines = [f"line {i}: to be, or not to be, that is the question" for i in range(300)]
    tokenizer = AdaptiveTokenizer.load_or_create(vocab_size=300, dataset=lines, strategy="bpe")

    def store_of(dataset: object, cache: str) -> tuple[np.ndarray, np.ndarray]:
        module = AdaptiveTokenizerDataModule(
            tokenizer, dataset, seq_len=8, batch_size=2, cache_dir=tmp_path / cache, progress=False
        )
        module.prepare_data()
        module.setup("fit")
        assert module.store is not None
        return np.array(module.store.tokens), np.array(module.store.document_ends)

    chunked = store_of(TextDocuments(sorted(corpus.glob("*.txt")), chunk_bytes=3), "chunked")
    arrow = store_of(load_text_dataset(corpus), "arrow")
    assert chunked[0].size > 50
    np.testing.assert_array_equal(chunked[0], arrow[0])
    np.testing.assert_array_equal(chunked[1], arrow[1])
