"""Text sources: lists, generators, `datasets.Dataset`s and text files, streamed in batches.

Training never copies the corpus into memory: every source is read as batches of strings.
Each source can also give a *fingerprint* (a content hash) for the tokenizer cache, computed as
cheaply as the source allows:

- `TextFiles` and re-iterable collections (lists, tuples, ...) are hashed in a first pass.
  Hashing runs at ~1 GB/s, two orders of magnitude faster than BPE training, so a cache miss
  costs a few percent more and a cache hit costs only the hash.
- a `datasets.Dataset` carries its own fingerprint: no pass at all.
- a one-shot iterator (generator) can be read only once. When a cache is wanted it is spooled to a
  temporary file while being hashed (disk, not memory), so a cache hit needs no training and a
  miss trains from the spool. Without a cache it is streamed straight into the trainer.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import logging
import os
import tempfile
from array import array
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice, repeat
from pathlib import Path
from typing import Any

from .errors import DatasetError

__all__ = ["DEFAULT_BATCH_SIZE", "TextFiles", "TextSource"]

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 1000
_SNIFF_BYTES = 8192
_READ_CHUNK = 1 << 20


def _hash_batch(digest: Any, batch: list[str]) -> None:
    # The count and lengths make the hash unambiguous (["ab", "c"] differs from ["a", "bc"]).
    digest.update(len(batch).to_bytes(8, "little"))
    digest.update(array("q", map(len, batch)).tobytes())
    digest.update("".join(batch).encode("utf-8", "surrogatepass"))


class TextFiles:
    """UTF-8 text files read line by line (newlines kept), checked before any training starts.

    `TextFiles(paths)` raises `DatasetError` for a missing, empty, binary (NUL bytes) or
    non-UTF-8 file. The check and the content hash are one pass over the bytes.
    """

    def __init__(self, paths: Iterable[str | os.PathLike[str]]) -> None:
        self.paths = [Path(p) for p in paths]
        if not self.paths:
            raise DatasetError("no data files given: pass at least one UTF-8 text file")
        self.num_lines = 0
        self._fingerprint = self._check_and_hash()

    def _check_and_hash(self) -> str:
        digest = hashlib.blake2b(digest_size=16)
        for path in self.paths:
            if not path.is_file():
                raise DatasetError(
                    f"data file {str(path)!r} does not exist or is not a file: check the path"
                )
            if path.stat().st_size == 0:
                raise DatasetError(f"data file {str(path)!r} is empty: pass a file with text in it")
            decoder = codecs.getincrementaldecoder("utf-8")("strict")
            offset = 0
            digest.update(str(path.stat().st_size).encode())
            with path.open("rb") as handle:
                while chunk := handle.read(_READ_CHUNK):
                    if offset < _SNIFF_BYTES and b"\x00" in chunk[: _SNIFF_BYTES - offset]:
                        raise DatasetError(
                            f"data file {str(path)!r} looks binary (it contains NUL bytes): "
                            "pass a plain UTF-8 text file"
                        )
                    try:
                        decoder.decode(chunk)
                    except UnicodeDecodeError as error:
                        raise DatasetError(
                            f"data file {str(path)!r} is not UTF-8 text (byte {offset + error.start}): "
                            "convert it, e.g. `iconv -f latin1 -t utf-8`"
                        ) from None
                    digest.update(chunk)
                    self.num_lines += chunk.count(b"\n")
                    offset += len(chunk)
                try:
                    decoder.decode(b"", final=True)
                except UnicodeDecodeError:
                    raise DatasetError(
                        f"data file {str(path)!r} ends inside a UTF-8 character: the file is truncated "
                        "or not UTF-8"
                    ) from None
            if not _ends_with_newline(path):
                self.num_lines += 1
        return digest.hexdigest()

    def fingerprint(self) -> str:
        """Hash of the files' bytes, computed while they were checked."""
        return self._fingerprint

    def __iter__(self) -> Iterator[str]:
        for path in self.paths:
            with path.open(encoding="utf-8", newline="") as handle:
                yield from handle


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


def _is_hf_dataset(obj: Any) -> bool:
    return hasattr(obj, "column_names") and hasattr(obj, "_fingerprint") and hasattr(obj, "iter")


def _is_hf_iterable_dataset(obj: Any) -> bool:
    """A streaming `datasets.IterableDataset`: rows are dicts, no fingerprint, no length."""
    return (
        hasattr(obj, "column_names") and hasattr(obj, "iter") and not hasattr(obj, "_fingerprint")
    )


def _dataset_text_column(dataset: Any, text_column: str | None) -> str:
    columns = list(dataset.column_names)
    if text_column is not None:
        if text_column not in columns:
            raise DatasetError(
                f"dataset has no column {text_column!r} (columns: {columns}): pass one of them"
            )
        return text_column
    if "text" in columns:
        return "text"
    string_columns = [
        name
        for name in columns
        if getattr(dataset.features.get(name), "dtype", None) in ("string", "large_string")
    ]
    if len(string_columns) == 1:
        return string_columns[0]
    raise DatasetError(
        f"cannot tell which dataset column holds the text (columns: {columns}): pass text_column=..."
    )


class TextSource:
    """One interface over every accepted kind of text data.

    `batches()` yields lists of strings (at most `batch_size` each), `num_batches` is the count
    when it is known (for the progress bar), `fingerprint()` the content hash (see module doc).
    """

    def __init__(
        self, data: Any, *, batch_size: int = DEFAULT_BATCH_SIZE, text_column: str | None = None
    ) -> None:
        if data is None:
            raise DatasetError(
                "no training data: pass an iterable of strings, a datasets.Dataset or text files"
            )
        if isinstance(data, (str, bytes)):
            raise DatasetError(
                "data is a single string: pass a list of texts (e.g. [text] or text.splitlines(True))"
            )
        self.batch_size = batch_size
        self._spool: Path | None = None
        self._column: str | None = None
        self._data = data
        if _is_hf_dataset(data):
            self._kind = "dataset"
            self._column = _dataset_text_column(data, text_column)
            self.num_samples: int | None = len(data)
        elif _is_hf_iterable_dataset(data):
            # Re-iterating a stream downloads it again: for the cache it is spooled like a generator.
            self._kind = "stream"
            columns = list(data.column_names or [])
            self._column = text_column or "text"
            if columns and self._column not in columns:
                self._column = _dataset_text_column(data, text_column)
            self.num_samples = None
        elif isinstance(data, TextFiles):
            self._kind = "files"
            self.num_samples = data.num_lines
        elif isinstance(data, Iterable):
            # A re-iterable collection returns a fresh iterator each time; a one-shot one returns itself.
            self._kind = "one-shot" if iter(data) is data else "collection"
            self.num_samples = len(data) if isinstance(data, Sequence) else None
        else:
            raise DatasetError(
                f"unsupported data of type {type(data).__name__}: pass an iterable of strings, "
                "a datasets.Dataset or TextFiles([...])"
            )
        self.chars_seen = 0

    @property
    def num_batches(self) -> int | None:
        if self.num_samples is None:
            return None
        return -(-self.num_samples // self.batch_size)

    def _samples(self) -> Iterator[str]:
        if self._spool is not None:
            with self._spool.open(encoding="utf-8", newline="") as handle:
                for line in handle:
                    yield json.loads(line)
            return
        if self._kind == "dataset":
            for batch in self._data.iter(batch_size=self.batch_size):
                yield from batch[self._column]
            return
        if self._kind == "stream":
            for row in self._data:
                if self._column not in row:
                    raise DatasetError(
                        f"dataset rows have no {self._column!r} column (columns: {sorted(row)}): "
                        "pass text_column=..."
                    )
                yield row[self._column]
            return
        yield from self._data

    def _raw_batches(self) -> Iterator[list[str]]:
        if self._kind == "collection" and isinstance(self._data, (list, tuple)):
            size = self.batch_size  # slicing: no per-sample Python work
            for start in range(0, len(self._data), size):
                yield list(self._data[start : start + size])
            return
        samples = self._samples()
        while batch := list(islice(samples, self.batch_size)):
            yield batch

    def batches(self) -> Iterator[list[str]]:
        """Lists of at most `batch_size` strings; raises `DatasetError` on a sample that is not one."""
        if self._kind == "one-shot" and self._spool is None and getattr(self, "_consumed", False):
            raise DatasetError(
                "the data iterator was already consumed: pass a list or a fresh generator"
            )
        self._consumed = True
        chars = 0
        for batch in self._raw_batches():
            if not all(map(isinstance, batch, repeat(str))):
                bad = next(s for s in batch if not isinstance(s, str))
                raise DatasetError(
                    f"data must yield strings, got {type(bad).__name__}: convert samples with str() "
                    "or pick the text column"
                )
            chars += sum(map(len, batch))
            yield batch
        self.chars_seen = chars

    def fingerprint(self) -> str:
        """Content hash of the data (see the module docstring for what each kind costs)."""
        if self._kind == "files":
            return "files:" + self._data.fingerprint()
        if self._kind == "dataset":
            return f"dataset:{self._data._fingerprint}:{self._column}"
        digest = hashlib.blake2b(digest_size=16)
        if self._kind == "collection":
            for batch in self.batches():
                _hash_batch(digest, batch)
            return "texts:" + digest.hexdigest()
        return "texts:" + self._spool_and_hash(digest)

    def _spool_and_hash(self, digest: Any) -> str:
        """Copy a one-shot iterator to a temporary file (one JSON string per line) while hashing it."""
        fd, name = tempfile.mkstemp(suffix=".jsonl", prefix="adaptive-tokenizer-spool-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                for batch in self.batches():
                    _hash_batch(digest, batch)
                    handle.writelines(json.dumps(text, ensure_ascii=False) + "\n" for text in batch)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        self._spool = Path(name)
        return digest.hexdigest()

    def close(self) -> None:
        """Delete the spool file, if one was written."""
        if self._spool is not None:
            self._spool.unlink(missing_ok=True)
            self._spool = None

    def __enter__(self) -> TextSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
