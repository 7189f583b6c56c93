"""Bits per byte: a validation metric that compares across tokenizers.

Loss per token depends on how much text a token holds: a character-level model and a 32K BPE
model with the same loss are not equally good. Bits per byte divides the total information
(loss in nats times tokens, in bits) by the UTF-8 bytes of the text those tokens spell:

    bits_per_byte = loss_nats_per_token * tokens / utf8_bytes / ln(2)

Special tokens (end-of-text) count their loss but no bytes. The bytes are those of the
prediction targets: every real token of a row except its first (nothing predicts it).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["bits_per_byte", "target_utf8_bytes"]


def target_utf8_bytes(
    tokenizer: Any, input_ids: np.ndarray, attention_mask: np.ndarray
) -> tuple[int, int]:
    """`(utf8_bytes, target_tokens)` of the prediction targets in these rows.

    Each row's targets are decoded together (special tokens skipped), so multi-byte characters
    split across tokens count once.
    """
    rows = []
    tokens = 0
    for ids, mask in zip(np.asarray(input_ids), np.asarray(attention_mask)):
        real = ids[mask.astype(bool)][1:]
        tokens += int(real.size)
        rows.append([int(t) for t in real])
    texts = tokenizer.batch_decode(
        rows, skip_special_tokens=True, clean_up_tokenization_spaces=False
    )
    return sum(len(text.encode("utf-8")) for text in texts), tokens


def bits_per_byte(loss_nats_per_token: float, bytes_per_token: float) -> float:
    """Bits per UTF-8 byte from a mean loss in nats per token and the text's bytes per token."""
    return loss_nats_per_token / math.log(2) / bytes_per_token
