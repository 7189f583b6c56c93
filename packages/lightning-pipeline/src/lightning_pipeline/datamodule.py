"""`AdaptiveTokenizerDataModule`: text dataset + tokenizer -> batches for causal-LM training.

Steps (all in `prepare_data` / `setup`, idempotent):

1. tokenize once into a token store (`token_store`): flat uint16/uint32 id files on disk, written
   batch by batch by the tokenizers backend on all cores, in `cache_dir` (the run folder's
   cache) keyed by the text's and the tokenizer's fingerprints, so a second run (or a resume,
   or another DDP rank) maps the same files instead of tokenizing again; a streamed
   (`IterableDataset`) source is written the same way;
2. arrange the tokens into rows of `seq_len`, sliced out of the memory map on the fly: packed
   blocks (default; each document ends with the eos id) or one padded row per document piece
   (`packing=False`); memory holds the row numbers only, never the tokens;
3. split the rows into train / validation with a permutation seeded by `seed` (no second pass);
4. check the vocabulary contract: every id (pad included) is below `model_vocab_size`, so a
   mismatch is a one-line `VocabSizeMismatchError` here, not a CUDA device-side assert later.

Batches are dicts of int64 tensors `input_ids`, `attention_mask` and `labels` of shape
`(batch, seq_len)`. `labels` is an *unshifted* copy of `input_ids` with -100 wherever
`attention_mask` is 0: the LightningModule shifts (predicts `labels[:, 1:]` from
`logits[:, :-1]`). Padding is marked by -100, not by the pad id, because pad often equals eos
and ignoring the pad id would silently drop every real eos target.

The training loader is a `ResumableDataLoader`: Lightning stores its position in each
checkpoint and a resumed run continues mid-epoch with the same order.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import shutil
import tempfile
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from lightning_pipeline.bits_per_byte import target_utf8_bytes
from lightning_pipeline.errors import DataModuleError, EmptyDatasetError, VocabSizeMismatchError
from lightning_pipeline.packing import IGNORE_INDEX, document_pieces
from lightning_pipeline.resumable_loader import ResumableDataLoader
from lightning_pipeline.token_store import (
    TokenStore,
    dataset_text_bytes,
    text_batches,
    write_token_store,
)

if TYPE_CHECKING:
    import datasets

    from lightning_pipeline.text_documents import TextDocuments

logger = logging.getLogger(__name__)

_CACHE_FORMAT = "v2"  # v2: token store files (v1 was an Arrow cache)


class TokenWindowDataset(Dataset[dict[str, torch.Tensor]]):
    """Rows of `seq_len` token ids sliced on the fly out of a memory-mapped `TokenStore`.

    `rows` are the row numbers this dataset serves (its share of the train/validation split).
    Packed layout (`pieces=None`): row r is tokens[r*seq_len : (r+1)*seq_len], the last one
    padded. Padded layout: `pieces = (starts, lengths)` gives each row's document piece. Items
    are int64 tensors; memory is the row index only (8 bytes per row), never the tokens.
    """

    def __init__(
        self,
        store: TokenStore,
        rows: np.ndarray,
        *,
        seq_len: int,
        pad_id: int,
        pieces: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        self.store = store
        self.rows = np.asarray(rows, dtype=np.int64)
        self.seq_len = int(seq_len)
        self.pad_id = int(pad_id)
        self.pieces = pieces

    def __len__(self) -> int:
        return int(self.rows.size)

    def _span(self, row: int) -> tuple[int, int]:
        if self.pieces is None:
            start = row * self.seq_len
            return start, min(self.seq_len, len(self.store) - start)
        return int(self.pieces[0][row]), int(self.pieces[1][row])

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        start, length = self._span(int(self.rows[index]))
        input_ids = torch.full((self.seq_len,), self.pad_id, dtype=torch.int64)
        input_ids[:length] = torch.from_numpy(
            self.store.tokens[start : start + length].astype(np.int64)
        )
        attention_mask = torch.zeros(self.seq_len, dtype=torch.int64)
        attention_mask[:length] = 1
        labels = input_ids.masked_fill(attention_mask == 0, IGNORE_INDEX)
        return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}

    def real_tokens(self) -> int:
        if self.pieces is not None:
            return int(self.pieces[1][self.rows].sum(dtype=np.int64))
        total = len(self) * self.seq_len
        last = -(-len(self.store) // self.seq_len) - 1
        if (
            self.rows.size and int(self.rows[-1]) == last
        ):  # rows are sorted: the partial row is last
            total -= self.seq_len - (len(self.store) - last * self.seq_len)
        return total

    def positions(self) -> int:
        return len(self) * self.seq_len

    # Whole-dataset views, for inspection and tests on small data (they load every row).
    @property
    def input_ids(self) -> torch.Tensor:
        return self._stack("input_ids")

    @property
    def attention_mask(self) -> torch.Tensor:
        return self._stack("attention_mask")

    def _stack(self, key: str) -> torch.Tensor:
        if not len(self):
            return torch.zeros((0, self.seq_len), dtype=torch.int64)
        return torch.stack([self[i][key] for i in range(len(self))])


class AdaptiveTokenizerDataModule(pl.LightningDataModule):
    """Tokenize, pack (or pad), split and serve a text dataset for causal-LM training.

    Example::

        dm = AdaptiveTokenizerDataModule(tokenizer, load_text_dataset("example"),
                                         seq_len=128, batch_size=16, model_vocab_size=3001)
        dm.setup()
        batch = next(iter(dm.train_dataloader()))  # input_ids / attention_mask / labels
        dm.real_token_fraction()                    # > 0.999 when packed
    """

    def __init__(
        self,
        tokenizer: Any,
        dataset: datasets.Dataset | datasets.IterableDataset | TextDocuments,
        *,
        seq_len: int,
        batch_size: int,
        val_fraction: float = 0.1,
        seed: int = 0,
        packing: bool = True,
        num_workers: int = 0,
        cache_dir: str | os.PathLike[str] | None = None,
        model_vocab_size: int | None = None,
        source_fingerprint: str | None = None,
        progress: bool = True,
    ) -> None:
        super().__init__()
        if seq_len < 2:
            raise DataModuleError(
                f"seq_len must be at least 2 (got {seq_len}): a causal LM needs a next token"
            )
        if batch_size < 1:
            raise DataModuleError(f"batch_size must be at least 1 (got {batch_size})")
        if not 0.0 <= val_fraction < 1.0:
            raise DataModuleError(f"val_fraction must be in [0, 1) (got {val_fraction}): e.g. 0.1")
        columns = getattr(
            dataset, "column_names", None
        )  # None for a streamed dataset of unknown shape
        if columns is not None and "text" not in columns:
            raise DataModuleError(
                "the dataset has no 'text' column: load it with load_text_dataset(...) first"
            )
        self.tokenizer = tokenizer
        self.dataset = dataset
        self.seq_len = int(seq_len)
        self.batch_size = int(batch_size)
        self.val_fraction = float(val_fraction)
        self.seed = int(seed)
        self.packing = bool(packing)
        self.num_workers = int(num_workers)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.model_vocab_size = model_vocab_size
        self.source_fingerprint = source_fingerprint
        self.progress = bool(progress)
        self.store: TokenStore | None = None
        self._scratch: Path | None = None
        self.train_data: TokenWindowDataset | None = None
        self.val_data: TokenWindowDataset | None = None
        self._num_documents = 0
        self.val_bytes_per_token: float | None = None

    # ------------------------------------------------------------------ token ids
    @property
    def pad_token_id(self) -> int:
        for name in ("pad_token_id", "eos_token_id"):
            value = getattr(self.tokenizer, name, None)
            if value is not None:
                return int(value)
        return 0

    @property
    def eos_token_id(self) -> int | None:
        value = getattr(self.tokenizer, "eos_token_id", None)
        return int(value) if value is not None else None

    def _tokenizer_fingerprint(self) -> str:
        backend = getattr(self.tokenizer, "backend_tokenizer", None)
        description = backend.to_str() if backend is not None else repr(self.tokenizer)
        extra = f"{self.eos_token_id}|{_CACHE_FORMAT}"
        return hashlib.sha256((description + extra).encode()).hexdigest()[:16]

    def _source_fingerprint(self) -> str:
        """What identifies the text: the Arrow dataset's fingerprint, text files' content hash
        (`TextDocuments`), or (streamed) its origin."""
        if self.source_fingerprint is not None:
            return self.source_fingerprint
        own = getattr(self.dataset, "fingerprint", None)
        fingerprint = own() if callable(own) else getattr(self.dataset, "_fingerprint", None)
        if fingerprint is None:  # an IterableDataset: its builder, config and split name it
            info = getattr(self.dataset, "info", None)
            fingerprint = repr(
                (
                    getattr(info, "builder_name", None),
                    getattr(info, "config_name", None),
                    getattr(info, "version", None),
                    str(getattr(self.dataset, "split", None)),
                )
            )
        return hashlib.sha256(str(fingerprint).encode()).hexdigest()[:16]

    def _vocab_bound(self) -> int:
        """The largest id + 1 the token file must hold (decides uint16 or uint32)."""
        size = len(self.tokenizer) if hasattr(self.tokenizer, "__len__") else 2**32
        return max(int(size), self.pad_token_id + 1, int(self.model_vocab_size or 0))

    def store_path(self) -> Path:
        """The token store's folder: one per (text, tokenizer), inside `cache_dir`."""
        if self.cache_dir is None:
            if (
                self._scratch is None
            ):  # no cache folder named: a private one, removed with the module
                self._scratch = Path(tempfile.mkdtemp(prefix="lp-tokens-"))
                weakref.finalize(self, shutil.rmtree, self._scratch, True)
            root = self._scratch
        else:
            root = self.cache_dir
        return root / f"tokens-{self._source_fingerprint()}-{self._tokenizer_fingerprint()}"

    def _build_store(self) -> TokenStore:
        path = self.store_path()
        if TokenStore.exists(path):
            return TokenStore.open(path)
        if self.eos_token_id is None:
            logger.warning(
                "The tokenizer has no eos token: documents are joined without a separator"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_token_store(
            path,
            text_batches(self.dataset),
            self.tokenizer,
            vocab_size=self._vocab_bound(),
            eos_token_id=self.eos_token_id,
            tokenizer_fingerprint=self._tokenizer_fingerprint(),
            source_fingerprint=self._source_fingerprint(),
            total_bytes=dataset_text_bytes(self.dataset),
            progress=self.progress,
        )

    # ------------------------------------------------------------------ Lightning hooks
    def prepare_data(self) -> None:
        """Tokenize once into the token store (Lightning runs this on one process per node, so
        DDP ranks never write the same files; the others wait at Lightning's barrier and
        `setup` then maps the finished store)."""
        self._build_store()

    def setup(self, stage: str | None = None) -> None:
        if self.train_data is not None:
            return
        store = self._build_store()  # opens the store prepare_data wrote; builds it if none did
        self.store = store
        self._num_documents = store.info.num_documents
        if store.info.num_tokens == 0:
            raise EmptyDatasetError(
                "the tokenizer produced no tokens from this data: check the text column"
            )
        self._check_vocab(store.info.min_id, store.info.max_id)
        pieces = None
        if self.packing:
            rows = -(-store.info.num_tokens // self.seq_len)
        else:
            pieces = document_pieces(store.document_lengths(), self.seq_len)
            rows = int(pieces[0].size)

        num_val = math.ceil(rows * self.val_fraction) if self.val_fraction > 0 else 0
        if num_val and rows - num_val < 1:
            raise DataModuleError(
                f"only {rows} row(s) of {self.seq_len} tokens: too little data for a validation split; "
                "use more text, a smaller seq_len, or val_fraction=0"
            )
        # Rows, not documents, are split: a permutation of the row numbers seeded by `seed`
        # (no second pass over the text, and the same split as long as seed and data are the same).
        order = np.random.default_rng(self.seed).permutation(rows)
        val_rows, train_rows = np.sort(order[:num_val]), np.sort(order[num_val:])
        del order

        def rows_of(numbers: np.ndarray) -> TokenWindowDataset:
            return TokenWindowDataset(
                store, numbers, seq_len=self.seq_len, pad_id=self.pad_token_id, pieces=pieces
            )

        self.train_data = rows_of(train_rows)
        self.val_data = rows_of(val_rows) if num_val else None
        if num_val and hasattr(self.tokenizer, "batch_decode"):
            self.val_bytes_per_token = self._val_bytes_per_token()
        logger.info(
            "Data: %d documents, %d tokens -> %d train / %d val rows of %d (%s, %.1f%% real tokens)",
            self._num_documents,
            store.info.num_tokens,
            len(self.train_data),
            num_val,
            self.seq_len,
            "packed" if self.packing else "padded",
            100 * self.real_token_fraction(),
        )

    def _val_bytes_per_token(self, max_rows: int = 2048) -> float | None:
        """UTF-8 bytes per validation target token, for bits per byte (module.py).

        Measured on the first `max_rows` validation rows: the ones a limited validation
        (`limit_val_batches`) evaluates, at a bounded cost on a large corpus.
        """
        assert self.val_data is not None
        items = [self.val_data[i] for i in range(min(len(self.val_data), max_rows))]
        ids = np.stack([item["input_ids"].numpy() for item in items])
        mask = np.stack([item["attention_mask"].numpy() for item in items])
        val_bytes, val_tokens = target_utf8_bytes(self.tokenizer, ids, mask)
        return val_bytes / val_tokens if val_bytes and val_tokens else None

    def _check_vocab(self, smallest: int, largest: int) -> None:
        if self.model_vocab_size is None:
            return
        vocab = int(self.model_vocab_size)
        fix = (
            f"build the tokenizer for the model's vocabulary "
            f"(AdaptiveTokenizer.load_or_create({vocab}, ...)) or load a model with a larger vocab_size"
        )
        if largest >= vocab or smallest < 0:
            raise VocabSizeMismatchError(
                f"the tokenizer produced token id {largest} but the model's vocab_size is {vocab} "
                f"(ids must be 0..{vocab - 1}): {fix}"
            )
        if self.pad_token_id >= vocab:  # padded positions are still looked up in the embedding
            raise VocabSizeMismatchError(
                f"the pad token id {self.pad_token_id} is not below the model's vocab_size {vocab}: {fix}"
            )
        size = len(self.tokenizer) if hasattr(self.tokenizer, "__len__") else None
        if size is not None and size > vocab:
            logger.warning(
                "The tokenizer has %d tokens but the model only %d: this data fits, other text may not",
                size,
                vocab,
            )

    def train_dataloader(self) -> ResumableDataLoader:
        data = self._require(self.train_data, "train")
        return ResumableDataLoader(
            data,
            batch_size=self.batch_size,
            seed=self.seed,
            shuffle=True,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def val_dataloader(self) -> DataLoader | list[DataLoader]:
        if self.val_data is None:
            self._require(self.train_data, "validation")
            return []
        return DataLoader(
            self.val_data, batch_size=self.batch_size, shuffle=False, num_workers=self.num_workers
        )

    def _require(self, data: TokenWindowDataset | None, name: str) -> TokenWindowDataset:
        if data is None:
            raise DataModuleError(f"call setup() before asking for the {name} dataloader")
        return data

    # ------------------------------------------------------------------ statistics
    def real_token_fraction(self) -> float:
        """Share of positions in the training rows that hold a real token (not padding)."""
        data = self._require(self.train_data, "train")
        return data.real_tokens() / data.positions()

    @property
    def num_train_tokens(self) -> int:
        """Real (non-padding) tokens in one epoch of the training rows."""
        return self._require(self.train_data, "train").real_tokens()

    def stats(self) -> dict[str, Any]:
        """Sizes for logs, run.json and the benchmark (all plain JSON values)."""
        train = self._require(self.train_data, "train")
        return {
            "num_documents": self._num_documents,
            "seq_len": self.seq_len,
            "packing": self.packing,
            "num_train_rows": len(train),
            "num_val_rows": len(self.val_data) if self.val_data is not None else 0,
            "num_train_tokens": train.real_tokens(),
            "num_val_tokens": self.val_data.real_tokens() if self.val_data is not None else 0,
            "real_token_fraction": self.real_token_fraction(),
            "val_bytes_per_token": self.val_bytes_per_token,
        }
