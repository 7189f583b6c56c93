"""Fixtures for the end-to-end tests: builder-style exports and a small learnable corpus, made per test."""

from __future__ import annotations

import random
import shutil
import sys
from pathlib import Path

import pytest

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


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """Sentences cut from one fixed word sequence: a tiny model learns them within a few dozen steps."""
    rng = random.Random(0)
    lines = []
    for _ in range(600):
        start = rng.randrange(len(WORDS) - 8)
        lines.append(" ".join(WORDS[start : start + rng.randint(5, 8)]) + ".")
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def console_script():
    """Path of an installed console script of the environment running the tests."""

    def find(name: str) -> str:
        script = Path(sys.executable).with_name(name)
        if script.exists():
            return str(script)
        found = shutil.which(name)
        if found is None:
            pytest.fail(f"console script {name} is not installed")
        return found

    return find
