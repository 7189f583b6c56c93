"""Shared fixtures: tiny real models, builder-style exports, and a small corpus written per test."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import torch
from torch import nn

if TYPE_CHECKING:
    from lightning_pipeline import TrainingConfig

WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "a",
    "lazy",
    "dog",
    "while",
    "seven",
    "wizards",
    "quietly",
    "judge",
    "boxing",
    "matches",
    "and",
    "many",
    "small",
    "birds",
    "sing",
    "near",
    "the",
    "old",
    "river",
    "as",
    "the",
    "morning",
    "light",
    "falls",
    "on",
    "green",
    "hills",
]


class TinyLM(nn.Module):
    """Embedding -> LayerNorm -> dropout -> Linear: a real, if small, next-token model."""

    def __init__(self, vocab: int = 50, d_model: int = 16) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        self.norm = nn.LayerNorm(d_model)
        self.drop = nn.Dropout(0.1)
        self.head = nn.Linear(d_model, vocab)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self.head(self.drop(self.norm(self.embed(input_ids))))


@pytest.fixture(scope="session")
def words() -> list[str]:
    """The corpus vocabulary, for test files that make their own text from it."""
    return list(WORDS)


def write_corpus(path: Path, *, lines: int = 400, seed: int = 0) -> Path:
    """A .txt file of simple sentences: learnable (loss falls fast) and fully offline."""
    rng = random.Random(seed)
    sentences = []
    for _ in range(lines):
        start = rng.randrange(len(WORDS) - 8)
        sentences.append(" ".join(WORDS[start : start + rng.randint(5, 8)]) + ".")
    path.write_text("\n".join(sentences) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def tiny_lm() -> type[TinyLM]:
    """The TinyLM class (a fixture, because test files cannot import conftest by name)."""
    return TinyLM


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "corpus.txt")


@pytest.fixture
def builder_export(tmp_path: Path) -> Path:
    """A tiny fixed builder-style export (d_model 32, one block, vocab 300, max_seq_len 32)."""
    from model_adapter.testing import write_builder_export

    return write_builder_export(
        tmp_path / "export", vocab_size=300, d_model=32, n_heads=2, n_blocks=1, max_seq_len=32
    )


# The tiny CPU run the training tests make; a test file may change some values with a module-level
# RUN_SHAPE dict, and each call with keywords (see the tiny_config fixture).
TINY_RUN: dict[str, Any] = dict(
    max_steps=16,
    seq_len=16,
    batch_size=4,
    lr=3e-3,
    warmup_steps=3,
    checkpoint_every=4,
    eval_every=6,
    limit_val_batches=2,
    keep_last=2,
    log_every=1,
    progress_bar=False,
    dashboard=False,
    accelerator="cpu",
    devices=1,
)


def _tiny_config(export: Path, corpus: Path, out: Path, **values: Any) -> TrainingConfig:
    from lightning_pipeline import TrainingConfig

    return TrainingConfig(model=str(export), data=str(corpus), out=str(out), **values)


@pytest.fixture
def tiny_config(request: pytest.FixtureRequest) -> Callable[..., TrainingConfig]:
    """`tiny_config(export, corpus, out, **changes)`: a `TrainingConfig` of a tiny CPU run.

    The values are `TINY_RUN`, then the test module's `RUN_SHAPE` (its step counts, stated once
    per file), then `changes`.
    """
    shape = {**TINY_RUN, **getattr(request.module, "RUN_SHAPE", {})}

    def make(export: Path, corpus: Path, out: Path, **changes: Any) -> TrainingConfig:
        return _tiny_config(export, corpus, out, **{**shape, **changes})

    return make


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One finished tiny run folder shared by the generate and CLI tests (trained once per session)."""
    from lightning_pipeline import train
    from model_adapter.testing import write_builder_export

    root = tmp_path_factory.mktemp("trained")
    export = write_builder_export(
        root / "export", vocab_size=300, d_model=32, n_heads=2, n_blocks=1, max_seq_len=32
    )
    corpus = write_corpus(root / "corpus.txt")
    longer = dict(max_steps=40, batch_size=8, lr=5e-3, warmup_steps=4, eval_every=20)
    longer.update(checkpoint_every=20, keep_last=3, log_every=5)
    train(_tiny_config(export, corpus, root / "run", **{**TINY_RUN, **longer}))
    return root / "run"
