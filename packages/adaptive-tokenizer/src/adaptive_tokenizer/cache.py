"""A folder of trained tokenizers keyed by a fingerprint of their data and settings.

Each entry is a `save_pretrained` folder, written to a temporary folder first and renamed into
place, so an interrupted run never leaves a half-written entry that a later run would trust.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

__all__ = ["TokenizerCache", "cache_key"]

logger = logging.getLogger(__name__)
_META = "adaptive_tokenizer.json"


def cache_key(kind: str, data_fingerprint: str, settings: dict[str, Any]) -> str:
    """Stable key of a trained tokenizer: what it is, what it was trained on, and how."""
    payload = json.dumps(
        {"kind": kind, "data": data_fingerprint, "settings": settings}, sort_keys=True
    )
    return f"{kind}-{hashlib.blake2b(payload.encode(), digest_size=16).hexdigest()}"


class TokenizerCache:
    """`cache_dir/<key>/` holds one saved tokenizer plus a small JSON of how it was made."""

    def __init__(self, cache_dir: str | os.PathLike[str]) -> None:
        self.root = Path(cache_dir)

    def path(self, key: str) -> Path:
        return self.root / key

    def load(self, key: str, vocab_size: int) -> PreTrainedTokenizerFast | None:
        """The cached tokenizer, or None when absent or unusable (then it is retrained)."""
        folder = self.path(key)
        if not (folder / _META).is_file():
            return None
        from transformers import PreTrainedTokenizerFast

        try:
            tokenizer = PreTrainedTokenizerFast.from_pretrained(str(folder))
        except Exception as error:  # the cache is only an optimisation
            # A damaged entry surfaces as whatever the parser raises (Rust's plain Exception;
            # transformers 4.x even turns it into an ImportError about protobuf): retrain.
            logger.warning(
                "ignoring unreadable cache entry %s (%s: %s); retraining",
                folder,
                type(error).__name__,
                error,
            )
            return None
        if len(tokenizer) != vocab_size:
            logger.warning(
                "ignoring cache entry %s with %d tokens (expected %d); retraining",
                folder,
                len(tokenizer),
                vocab_size,
            )
            return None
        return tokenizer

    def store(self, key: str, tokenizer: PreTrainedTokenizerFast, meta: dict[str, Any]) -> Path:
        """Save atomically; when another process stored the same key first, keep theirs."""
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=self.root))
        try:
            tokenizer.save_pretrained(str(staging))
            (staging / _META).write_text(json.dumps(meta, indent=2, sort_keys=True))
            try:
                staging.rename(self.path(key))
            except OSError:
                logger.debug("cache entry %s appeared meanwhile; keeping the existing one", key)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return self.path(key)
