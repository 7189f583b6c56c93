"""Token store: a corpus tokenized once into flat token-id files on disk, read through `np.memmap`.

nanoGPT's ``train.bin`` idea with a sidecar: a store is one folder ::

    tokens-<source>-<tokenizer>/
      tokens.bin      # every document's ids followed by the eos id, back to back (uint16 or uint32)
      documents.bin   # int64 end offset of each document in tokens.bin (document boundaries)
      meta.json       # format, dtype, vocab size, token/document counts, smallest/largest id,
                      # tokenizer and source fingerprints, eos id, text bytes

Writing streams: the text arrives in batches, each batch is encoded by the tokenizers backend's
`encode_batch` (Rust, on all cores), appended to the files and dropped, so neither the text nor
the ids are ever held whole and memory does not grow with the corpus. The folder is written
under a temporary name and renamed into place when complete, so a killed preparation leaves no
half store that a later run would trust; a store that already exists is reused as it is.

Reading maps the files (`TokenStore.open`): training slices windows out of the map on the fly,
so the process only touches the pages of the rows it serves. Under DDP all ranks open the same
files, which one process wrote (`AdaptiveTokenizerDataModule.prepare_data`).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

FORMAT = 1
TOKENS_FILE = "tokens.bin"
DOCUMENTS_FILE = "documents.bin"
META_FILE = "meta.json"


def token_dtype(vocab_size: int) -> np.dtype:
    """uint16 when every id fits (vocab <= 65,536: half the disk and page cache), else uint32."""
    return np.dtype(np.uint16) if vocab_size <= 2**16 else np.dtype(np.uint32)


@dataclass(frozen=True)
class TokenStoreInfo:
    """The sidecar `meta.json` of a token store."""

    format: int
    dtype: str
    vocab_size: int
    num_tokens: int
    num_documents: int
    min_id: int
    max_id: int
    eos_token_id: int | None
    tokenizer_fingerprint: str
    source_fingerprint: str
    text_bytes: int


class TokenStore:
    """A finished token store, memory-mapped read-only (`tokens`, `document_ends`).

    Picklable by path: a DataLoader worker that receives it maps the files again instead of
    copying them (pickling an `np.memmap` itself would copy the whole array).
    """

    def __init__(self, path: Path, info: TokenStoreInfo) -> None:
        self.path = Path(path)
        self.info = info
        self._tokens: np.ndarray | None = None
        self._document_ends: np.ndarray | None = None

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> TokenStore:
        path = Path(path)
        info = TokenStoreInfo(**json.loads((path / META_FILE).read_text(encoding="utf-8")))
        if info.format != FORMAT:
            raise ValueError(
                f"token store {path} has format {info.format}, expected {FORMAT}: delete it to rebuild"
            )
        return cls(path, info)

    @staticmethod
    def exists(path: str | os.PathLike[str]) -> bool:
        return (Path(path) / META_FILE).is_file()

    def _map(self, name: str, dtype: np.dtype | type, count: int) -> np.ndarray:
        if count == 0:  # np.memmap refuses empty files
            return np.zeros(0, dtype=dtype)
        return np.memmap(self.path / name, dtype=dtype, mode="r", shape=(count,))

    @property
    def tokens(self) -> np.ndarray:
        if self._tokens is None:
            self._tokens = self._map(TOKENS_FILE, np.dtype(self.info.dtype), self.info.num_tokens)
        return self._tokens

    @property
    def document_ends(self) -> np.ndarray:
        if self._document_ends is None:
            self._document_ends = self._map(DOCUMENTS_FILE, np.int64, self.info.num_documents)
        return self._document_ends

    def document_lengths(self) -> np.ndarray:
        ends = np.asarray(self.document_ends, dtype=np.int64)
        return np.diff(ends, prepend=0)

    def __len__(self) -> int:
        return self.info.num_tokens

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "info": self.info}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], state["info"])  # type: ignore[misc]


def _encoder(tokenizer: Any) -> Any:
    """The fastest batch encoder the tokenizer offers: the Rust backend's (parallel) batch call.

    `PreTrainedTokenizerFast.__call__` goes through the same backend but builds Python dicts and
    offsets on the way (measured 1.45-1.6x slower); a slow (pure Python) tokenizer is called as is.
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        fast = getattr(backend, "encode_batch_fast", None) or backend.encode_batch

        def encode(texts: list[str]) -> list[list[int]]:
            return [encoding.ids for encoding in fast(texts, add_special_tokens=False)]

        return encode

    def encode_slow(texts: list[str]) -> list[list[int]]:
        return list(tokenizer(texts, add_special_tokens=False)["input_ids"])

    return encode_slow


def _progress(total: int | None) -> Any:
    """A bytes/s bar with an ETA in terminals and notebooks; piped output gets the summary log line only."""
    import sys

    from tqdm.auto import tqdm

    shown = sys.stderr.isatty() or "ipykernel" in sys.modules
    return tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc="Tokenizing",
        smoothing=0.1,
        disable=not shown,
    )


def write_token_store(
    path: str | os.PathLike[str],
    batches: Iterable[tuple[list[str], int]],
    tokenizer: Any,
    *,
    vocab_size: int,
    eos_token_id: int | None,
    tokenizer_fingerprint: str,
    source_fingerprint: str,
    total_bytes: int | None = None,
    progress: bool = True,
) -> TokenStore:
    """Tokenize `batches` (lists of texts with their UTF-8 size) into a new store at `path`.

    Each document's ids are followed by `eos_token_id` (when there is one). Returns the opened
    store. When `path` already holds a complete store (another process finished first), that
    one is kept and returned.
    """
    path = Path(path)
    dtype = token_dtype(vocab_size)
    limit = np.iinfo(dtype).max
    encode = _encoder(tokenizer)
    tail = (eos_token_id,) if eos_token_id is not None else ()
    tmp = path.with_name(
        f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    )  # unique across nodes
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    num_tokens = num_documents = text_bytes = 0
    min_id, max_id = limit, 0
    bar = _progress(total_bytes) if progress else None
    started = time.perf_counter()
    try:
        with (
            open(tmp / TOKENS_FILE, "wb") as tokens_out,
            open(tmp / DOCUMENTS_FILE, "wb") as documents_out,
        ):
            for texts, size in batches:
                if not texts:
                    continue
                rows = encode(texts)
                lengths = np.fromiter(
                    (len(r) + len(tail) for r in rows), dtype=np.int64, count=len(rows)
                )
                flat = np.fromiter(
                    itertools.chain.from_iterable(itertools.chain(r, tail) for r in rows),
                    dtype=np.int64,
                    count=int(lengths.sum()),
                )
                if flat.size:
                    low, high = int(flat.min()), int(flat.max())
                    if low < 0 or high > limit:
                        raise ValueError(
                            f"the tokenizer produced id {high if high > limit else low}, outside {dtype} "
                            f"for vocab size {vocab_size}: the tokenizer is larger than it says"
                        )
                    min_id, max_id = min(min_id, low), max(max_id, high)
                flat.astype(dtype).tofile(tokens_out)
                (num_tokens + np.cumsum(lengths)).tofile(documents_out)
                num_tokens += int(flat.size)
                num_documents += len(rows)
                text_bytes += size
                if bar is not None:
                    bar.update(size)
            tokens_out.flush()
            os.fsync(tokens_out.fileno())
            documents_out.flush()
            os.fsync(documents_out.fileno())
        info = TokenStoreInfo(
            format=FORMAT,
            dtype=dtype.name,
            vocab_size=int(vocab_size),
            num_tokens=num_tokens,
            num_documents=num_documents,
            min_id=int(min_id if num_tokens else 0),
            max_id=int(max_id),
            eos_token_id=eos_token_id,
            tokenizer_fingerprint=tokenizer_fingerprint,
            source_fingerprint=source_fingerprint,
            text_bytes=text_bytes,
        )
        (tmp / META_FILE).write_text(json.dumps(asdict(info), indent=2), encoding="utf-8")
        if TokenStore.exists(path):  # another process (another node's rank 0) finished first
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            shutil.rmtree(path, ignore_errors=True)  # a folder without meta.json is not a store
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if bar is not None:
            bar.close()
    seconds = max(time.perf_counter() - started, 1e-9)
    logger.info(
        "Tokenized %.1f MB in %.1f s (%.1f MB/s): %d documents, %d tokens -> %s",
        text_bytes / 1e6,
        seconds,
        text_bytes / 1e6 / seconds,
        num_documents,
        num_tokens,
        path,
    )
    return TokenStore.open(path)


def text_batches(dataset: Any, *, batch_size: int = 2048) -> Iterator[tuple[list[str], int]]:
    """Batches of the dataset's "text" column with their UTF-8 size, read without holding the whole.

    A `datasets.Dataset` is read as Arrow slices of its memory-mapped table (sizes from the
    Arrow offsets, no re-encoding); an `IterableDataset` (``streaming=True``) batch by batch;
    local text files (`text_documents.TextDocuments`) chunk by chunk as they are read.
    """
    own_batches = getattr(dataset, "text_batches", None)
    if callable(own_batches):
        yield from own_batches()
        return
    import datasets

    if isinstance(dataset, datasets.Dataset):
        import pyarrow.compute as pc

        for table in dataset.with_format("arrow").iter(batch_size=batch_size):
            column = table.column("text")
            size = pc.sum(pc.binary_length(column)).as_py() or 0
            yield [t for t in column.to_pylist() if t], int(size)
        return
    batch: list[str] = []
    for row in dataset:
        text = row.get("text")
        if text:
            batch.append(text)
        if len(batch) >= batch_size:
            yield batch, sum(len(t.encode("utf-8")) for t in batch)
            batch = []
    if batch:
        yield batch, sum(len(t.encode("utf-8")) for t in batch)


def dataset_text_bytes(dataset: Any) -> int | None:
    """UTF-8 size of a `datasets.Dataset`'s text column or of text files (for the progress bar's
    ETA), else None."""
    total = getattr(dataset, "total_bytes", None)
    if isinstance(total, int):
        return total
    import datasets

    if not isinstance(dataset, datasets.Dataset):
        return None
    import pyarrow.compute as pc

    # The underlying table: a filtered view (blank rows dropped) is a little smaller, which only
    # makes the ETA a little pessimistic; counting the view exactly would cost a pass.
    return int(pc.sum(pc.binary_length(dataset.data.column("text"))).as_py() or 0)
