"""Local plain-text files cut into documents while they are read, chunk by chunk.

Why not `datasets.load_dataset("text")`: it copies every document into an Arrow cache first, and
the process's peak memory grew about 1.5 MB per MB of text on the way. `TextDocuments` reads the
bytes in fixed-size chunks, decodes and splits them on the fly and hands out lists of documents,
so the token store (`token_store.write_token_store`) is written in memory that does not grow
with the corpus, and the tokenizer trainer can iterate the same documents again.

The documents are exactly those of the `text` builder + `data_sources` trimming, whatever the
chunk size (``tests/test_text_documents.py`` checks this at tiny chunk sizes):

* newlines are read universally (``\\r\\n`` and ``\\r`` become ``\\n``), as text-mode `open` does;
* ``"line"``: each line without its newline;
* ``"paragraph"``: blocks between ``"\\n\\n"``, with blank lines at their edges removed;
* ``"file"``: the whole file (held whole: prefer paragraphs for huge files);
* blank documents (only whitespace) are dropped; each file starts a new document.

Construction makes one pass over the bytes (at disk speed, no splitting) to fail early with a
one-line error naming the file (empty, not UTF-8, only blank text) and to fingerprint the
content for the token store's cache key; `len()` (the number of documents, which the tokenizer's
strategy needs) costs one more splitting pass, done only when asked and then remembered.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from lightning_pipeline.errors import DataSourceError, EmptyDatasetError

__all__ = ["DOCUMENT_SPLITS", "TextDocuments", "check_document_split"]

DOCUMENT_SPLITS = ("paragraph", "file", "line")
CHUNK_BYTES = 1 << 20  # per read: the size of one tokenizer batch, a few MB of transient memory

# The `text` builder splits on "\n\n" exactly: a third newline, or a line of spaces next to the
# separator, would start or end a paragraph with blank lines that carry no text.
BLANK_EDGES = re.compile(r"\A(?:[ \t\r]*\n)+|(?:\n[ \t\r]*)+\Z")


def check_document_split(document_split: str) -> None:
    """Refuse an unknown `--document-split` value with the choices (one check for every reader)."""
    if document_split not in DOCUMENT_SPLITS:
        raise DataSourceError(
            f"document_split={document_split!r} is unknown: use one of {', '.join(DOCUMENT_SPLITS)}"
        )


class TextDocuments:
    """The documents of UTF-8 text files, re-iterable, never held whole (see the module doc).

    `text_batches()` yields ``(documents, bytes read)`` per chunk for the token store;
    iterating yields the documents one by one (for the tokenizer trainer).
    """

    def __init__(
        self,
        paths: Iterable[str | os.PathLike[str]],
        *,
        document_split: str = "paragraph",
        chunk_bytes: int = CHUNK_BYTES,
        origin: str | None = None,
    ) -> None:
        check_document_split(document_split)
        if chunk_bytes < 1:
            raise ValueError(f"chunk_bytes must be positive, got {chunk_bytes}")
        self.paths = [Path(p) for p in paths]
        self.document_split = document_split
        self.chunk_bytes = int(chunk_bytes)
        self.origin = origin or ", ".join(str(p) for p in self.paths)
        self._length: int | None = None
        self.total_bytes = 0
        self._fingerprint = self._check_and_hash()

    def _check_and_hash(self) -> str:
        """One pass over the bytes: every file decodes as UTF-8, some text is not blank; content hash."""
        digest = hashlib.sha256(f"text-documents|{self.document_split}".encode())
        has_text = False
        for path in self.paths:
            size = path.stat().st_size
            if size == 0:
                raise EmptyDatasetError(f"data file is empty: {path} (pick a file that holds text)")
            digest.update(f"|{size}|".encode())  # file edges are document edges
            for text, _size in self._decoded(path, digest):
                if not has_text and text and not text.isspace():
                    has_text = True
            self.total_bytes += size
        if not has_text:
            raise EmptyDatasetError(
                f"{self.origin} holds only empty text (blank lines): pick a file that holds text"
            )
        return digest.hexdigest()[:32]

    def fingerprint(self) -> str:
        """Hash of the files' bytes and the document split (the token store's cache key)."""
        return self._fingerprint

    def _decoded(self, path: Path, digest: Any = None) -> Iterator[tuple[str, int]]:
        """The file's text in chunks with their size in bytes, newlines translated as text-mode
        `open` does (a ``\r`` at a chunk's end waits for the next chunk, a character cut by the
        edge too)."""
        utf8 = codecs.getincrementaldecoder("utf-8")("strict")
        decoder = io.IncrementalNewlineDecoder(utf8, translate=True)
        position = start = 0  # start: the file offset of the bytes the decoder looks at
        try:
            with open(path, "rb") as handle:
                while chunk := handle.read(self.chunk_bytes):
                    if digest is not None:
                        digest.update(chunk)
                    start = position - len(utf8.getstate()[0])  # a cut character waits
                    position += len(chunk)
                    yield decoder.decode(chunk), len(chunk)
                start = position - len(utf8.getstate()[0])
                yield decoder.decode(b"", final=True), 0
        except UnicodeDecodeError as error:
            raise DataSourceError(
                f"could not read {path} as UTF-8 text (byte {start + error.start}: {error.reason}): "
                "convert it, e.g. `iconv -f latin1 -t utf-8`"
            ) from None
        except OSError as error:
            raise DataSourceError(
                f"could not read {path}: {error.strerror or error}: check the file"
            ) from None

    def _file_batches(self, path: Path) -> Iterator[tuple[list[str], int]]:
        """(documents, bytes) per chunk of one file; a document cut by a chunk edge waits for the rest."""
        if self.document_split == "file":
            text = "".join(text for text, _size in self._decoded(path))
            yield ([text] if text.strip() else []), path.stat().st_size
            return
        separator = "\n" if self.document_split == "line" else "\n\n"
        paragraphs = self.document_split == "paragraph"
        carry = ""
        for text, size in self._decoded(path):
            if not text and not size:
                continue
            pieces = (carry + text).split(separator)
            carry = pieces.pop()  # may continue in the next chunk
            if paragraphs:
                pieces = [BLANK_EDGES.sub("", piece) for piece in pieces if piece]
            yield [piece for piece in pieces if piece.strip()], size
        if carry.strip():
            yield ([BLANK_EDGES.sub("", carry)] if paragraphs else [carry]), 0

    def text_batches(self) -> Iterator[tuple[list[str], int]]:
        """Lists of documents with the UTF-8 size of the text they came from (for the progress bar)."""
        for path in self.paths:
            for documents, size in self._file_batches(path):
                if documents or size:
                    yield documents, size

    def __iter__(self) -> Iterator[str]:
        for documents, _size in self.text_batches():
            yield from documents

    def __len__(self) -> int:
        if self._length is None:
            self._length = sum(len(documents) for documents, _size in self.text_batches())
        return self._length

    def __repr__(self) -> str:
        return f"TextDocuments({self.origin!r}, document_split={self.document_split!r})"
