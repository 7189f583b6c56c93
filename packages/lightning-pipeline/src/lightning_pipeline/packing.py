"""How the token stream is arranged into fixed-length rows: packed blocks or padded documents.

Packing concatenates every document (each followed by the end-of-sequence id) into one stream
and cuts it into blocks of `seq_len`: nearly every position is a real token. The token store
already holds that stream, so packed row r is simply tokens[r*seq_len : (r+1)*seq_len] (the
last one padded) and needs no table at all.

Padding gives each document its own rows (documents longer than `seq_len` are split, never
truncated) and fills the rest with the pad id: on short lines most positions are padding, which
the loss ignores but the model still computes. `document_pieces` computes where each such row
starts in the stream and how many real tokens it holds.
"""

from __future__ import annotations

import numpy as np

# The label of a position the loss skips (padding): PyTorch's cross_entropy default.
IGNORE_INDEX = -100


def document_pieces(lengths: np.ndarray, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    """(starts, lengths) of the padded rows: one or more rows per document of `lengths`.

    A document of n tokens takes ceil(n / seq_len) rows, each starting a new piece; empty
    documents take none. Starts are offsets into the concatenated stream (int64), lengths are
    the real tokens of each row (int32, 1..seq_len).
    """
    if seq_len < 1:
        raise ValueError("seq_len must be at least 1")
    lengths = np.asarray(lengths, dtype=np.int64).reshape(-1)
    doc_starts = np.cumsum(lengths) - lengths
    keep = lengths > 0
    lengths, doc_starts = lengths[keep], doc_starts[keep]
    rows_per_doc = -(-lengths // seq_len)
    rows = int(rows_per_doc.sum())
    first_row = np.cumsum(rows_per_doc) - rows_per_doc
    # the row's index inside its own document: 0, 1, ... per document
    within = np.arange(rows, dtype=np.int64) - np.repeat(first_row, rows_per_doc)
    starts = np.repeat(doc_starts, rows_per_doc) + within * seq_len
    piece_lengths = np.minimum(seq_len, np.repeat(lengths, rows_per_doc) - within * seq_len)
    return starts, piece_lengths.astype(np.int32)
