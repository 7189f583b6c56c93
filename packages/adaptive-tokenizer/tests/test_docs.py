"""The README's example and the docstring examples run as written."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest

import adaptive_tokenizer
from adaptive_tokenizer import adaptive, bpe, character, validator

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_examples_run(tmp_path, monkeypatch):
    code = "\n".join(re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S))
    monkeypatch.chdir(tmp_path)

    exec(compile(code, str(README), "exec"), {"__name__": "readme"})

    assert (tmp_path / "my-tokenizer" / "tokenizer.json").is_file()
    assert any((tmp_path / "tokenizer-cache").glob("bpe-*"))


@pytest.mark.parametrize("module", [adaptive, bpe, character, validator], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module, extraglobs={"adaptive_tokenizer": adaptive_tokenizer})

    assert result.attempted > 0
    assert result.failed == 0
