"""Arrange tokenized documents into fixed-length rows: packed blocks or padded rows.

Packing concatenates every document (each followed by the end-of-sequence id) into one stream
and cuts it into blocks of `seq_len`: nearly every position is a real token. Padding gives each
document its own rows (documents longer than `seq_len` are split, never truncated) and fills
the rest with the pad id: on short lines most positions are padding, which the loss ignores but
the model still computes. Both return `(input_ids, attention_mask)` as int64 arrays of shape
`(rows, seq_len)`; attention_mask is 1 on real tokens.
"""

from __future__ import annotations

import numpy as np

# The label of a position the loss skips (padding): PyTorch's cross_entropy default.
IGNORE_INDEX = -100


def pack_blocks(tokens: np.ndarray, seq_len: int, pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut the token stream `tokens` (1-D) into blocks of `seq_len`.

    The last, partial block is kept and padded so that no token is lost (a tiny corpus still
    gives one block); it is the only block with padding.
    """
    if seq_len < 1:
        raise ValueError("seq_len must be at least 1")
    tokens = np.asarray(tokens, dtype=np.int64).reshape(-1)
    rows = -(-tokens.size // seq_len)  # ceil
    input_ids = np.full(rows * seq_len, pad_id, dtype=np.int64)
    attention_mask = np.zeros(rows * seq_len, dtype=np.int64)
    input_ids[: tokens.size] = tokens
    attention_mask[: tokens.size] = 1
    return input_ids.reshape(rows, seq_len), attention_mask.reshape(rows, seq_len)


def pad_documents(
    tokens: np.ndarray, lengths: np.ndarray, seq_len: int, pad_id: int
) -> tuple[np.ndarray, np.ndarray]:
    """One or more rows per document: `tokens` is the concatenation, `lengths` each one's size.

    A document of n tokens takes ceil(n / seq_len) rows; each row starts a new document piece.
    """
    if seq_len < 1:
        raise ValueError("seq_len must be at least 1")
    tokens = np.asarray(tokens, dtype=np.int64).reshape(-1)
    lengths = np.asarray(lengths, dtype=np.int64).reshape(-1)
    lengths = lengths[lengths > 0]
    rows_per_doc = -(-lengths // seq_len)
    rows = int(rows_per_doc.sum())
    # piece lengths: full rows of seq_len, then the remainder of each document
    piece_lengths = np.full(rows, seq_len, dtype=np.int64)
    last_piece = np.cumsum(rows_per_doc) - 1
    piece_lengths[last_piece] = lengths - (rows_per_doc - 1) * seq_len
    positions = np.arange(seq_len)
    attention_mask = (positions[None, :] < piece_lengths[:, None]).astype(np.int64)
    input_ids = np.full((rows, seq_len), pad_id, dtype=np.int64)
    input_ids[attention_mask.astype(bool)] = tokens  # row-major order matches the stream
    return input_ids, attention_mask
