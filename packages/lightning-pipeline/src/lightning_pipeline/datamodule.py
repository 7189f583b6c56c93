"""`AdaptiveTokenizerDataModule`: text dataset + tokenizer -> batches for causal-LM training.

Steps (all in `setup`, idempotent):

1. tokenize with `Dataset.map(batched=True)`; the result is cached on disk (in `cache_dir`, or
   next to the dataset's own Arrow files), so a second run does not tokenize again;
2. arrange the tokens into rows of `seq_len`: packed blocks (default; each document ends with
   the eos id) or one padded row per document piece (`packing=False`);
3. split the rows into train / validation with a permutation seeded by `seed`;
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
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from lightning_pipeline.errors import DataModuleError, EmptyDatasetError, VocabSizeMismatchError
from lightning_pipeline.packing import IGNORE_INDEX, pack_blocks, pad_documents
from lightning_pipeline.resumable_loader import ResumableDataLoader

if TYPE_CHECKING:
    import datasets

logger = logging.getLogger(__name__)

_CACHE_FORMAT = "v1"


class TokenBlockDataset(Dataset[dict[str, torch.Tensor]]):
    """Rows of token ids and their attention mask; `labels` are derived per item.

    The rows may be stored in a compact dtype (int32 ids, int8 mask): items are int64.
    """

    def __init__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> None:
        if input_ids.shape != attention_mask.shape or input_ids.dim() != 2:
            raise ValueError("input_ids and attention_mask must be 2-D tensors of the same shape")
        self.input_ids = input_ids
        self.attention_mask = attention_mask

    def __len__(self) -> int:
        return self.input_ids.shape[0]

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        input_ids = self.input_ids[index].long()  # stored compactly, served as int64
        attention_mask = self.attention_mask[index].long()
        labels = input_ids.masked_fill(attention_mask == 0, IGNORE_INDEX)
        return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}

    def real_tokens(self) -> int:
        return int(self.attention_mask.sum(dtype=torch.int64))

    def positions(self) -> int:
        return int(self.attention_mask.numel())


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
        dataset: datasets.Dataset,
        *,
        seq_len: int,
        batch_size: int,
        val_fraction: float = 0.1,
        seed: int = 0,
        packing: bool = True,
        num_workers: int = 0,
        cache_dir: str | os.PathLike[str] | None = None,
        model_vocab_size: int | None = None,
    ) -> None:
        super().__init__()
        if seq_len < 2:
            raise DataModuleError(f"seq_len must be at least 2 (got {seq_len}): a causal LM needs a next token")
        if batch_size < 1:
            raise DataModuleError(f"batch_size must be at least 1 (got {batch_size})")
        if not 0.0 <= val_fraction < 1.0:
            raise DataModuleError(f"val_fraction must be in [0, 1) (got {val_fraction}): e.g. 0.1")
        if "text" not in dataset.column_names:
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
        self.train_data: TokenBlockDataset | None = None
        self.val_data: TokenBlockDataset | None = None
        self._num_documents = 0

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

    def _tokenize(self) -> datasets.Dataset:
        tokenizer = self.tokenizer
        eos = self.eos_token_id
        if eos is None:
            logger.warning("The tokenizer has no eos token: documents are joined without a separator")

        def encode(batch: dict[str, list[str]]) -> dict[str, list[list[int]]]:
            ids = tokenizer(batch["text"], add_special_tokens=False)["input_ids"]
            if eos is not None:
                ids = [[*row, eos] for row in ids]
            return {"input_ids": ids}

        kwargs: dict[str, Any] = {}
        if self.cache_dir is not None:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            key = f"{self.dataset._fingerprint}-{self._tokenizer_fingerprint()}"
            kwargs["cache_file_name"] = str(self.cache_dir / f"tokenized-{key}.arrow")
        return self.dataset.map(
            encode,
            batched=True,
            remove_columns=self.dataset.column_names,
            load_from_cache_file=True,
            desc="Tokenizing",
            **kwargs,
        )

    # ------------------------------------------------------------------ Lightning hooks
    def prepare_data(self) -> None:
        """Tokenize once into the on-disk cache (Lightning runs this on one process only, so
        several DDP ranks never write the same cache file); `setup` then reads the cache."""
        if self.cache_dir is not None:
            self._tokenize()

    def setup(self, stage: str | None = None) -> None:
        if self.train_data is not None:
            return
        import pyarrow.compute as pc

        tokenized = self._tokenize()
        column = tokenized.data.column("input_ids")
        lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False).astype(np.int64)
        tokens = pc.list_flatten(column).to_numpy(zero_copy_only=False).astype(np.int64)
        self._num_documents = int((lengths > 0).sum())
        if tokens.size == 0:
            raise EmptyDatasetError("the tokenizer produced no tokens from this data: check the text column")
        self._check_vocab(tokens)
        if self.packing:
            input_ids, attention_mask = pack_blocks(tokens, self.seq_len, self.pad_token_id)
        else:
            input_ids, attention_mask = pad_documents(tokens, lengths, self.seq_len, self.pad_token_id)

        rows = input_ids.shape[0]
        num_val = math.ceil(rows * self.val_fraction) if self.val_fraction > 0 else 0
        if num_val and rows - num_val < 1:
            raise DataModuleError(
                f"only {rows} row(s) of {self.seq_len} tokens: too little data for a validation split; "
                "use more text, a smaller seq_len, or val_fraction=0"
            )
        order = np.random.default_rng(self.seed).permutation(rows)
        val_rows, train_rows = np.sort(order[:num_val]), np.sort(order[num_val:])
        compact = np.int32 if max(int(tokens.max()), self.pad_token_id) < 2**31 else np.int64
        ids = torch.from_numpy(input_ids.astype(compact))
        mask = torch.from_numpy(attention_mask.astype(np.int8))
        self.train_data = TokenBlockDataset(ids[train_rows], mask[train_rows])
        self.val_data = TokenBlockDataset(ids[val_rows], mask[val_rows]) if num_val else None
        logger.info(
            "Data: %d documents, %d tokens -> %d train / %d val rows of %d (%s, %.1f%% real tokens)",
            self._num_documents, tokens.size, len(self.train_data), num_val, self.seq_len,
            "packed" if self.packing else "padded", 100 * self.real_token_fraction(),
        )

    def _check_vocab(self, tokens: np.ndarray) -> None:
        if self.model_vocab_size is None:
            return
        vocab = int(self.model_vocab_size)
        largest = int(tokens.max())
        fix = (
            f"build the tokenizer for the model's vocabulary "
            f"(AdaptiveTokenizer.load_or_create({vocab}, ...)) or load a model with a larger vocab_size"
        )
        if largest >= vocab or int(tokens.min()) < 0:
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
                size, vocab,
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

    def _require(self, data: TokenBlockDataset | None, name: str) -> TokenBlockDataset:
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
        }
