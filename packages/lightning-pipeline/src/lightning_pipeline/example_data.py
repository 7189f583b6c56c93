"""The built-in example dataset: Shakespeare shipped in the package, or Python's own docstrings.

The primary example is `data/shakespeare.txt.gz` inside this package: the tiny-shakespeare
corpus (about 1.1 MB of public-domain plays, 0.43 MB compressed), one row per paragraph (a
speech: the speaker's name, then its lines), newlines kept, so a model trained on it learns
line breaks and where a speech ends. When that file is missing (a trimmed install), the
fallback is made from the docstrings of a fixed list of pure-Python standard-library modules, read
with `ast` from their source files (nothing is imported or executed), so it needs no network,
no download and no file of ours. The same Python version always gives the same rows; other
versions differ slightly (their docstrings changed), which is fine for a smoke-test corpus.
About 0.5 MB of text, one docstring per row.
"""

from __future__ import annotations

import ast
import functools
import gzip
import importlib.util
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import datasets

logger = logging.getLogger(__name__)

EXAMPLE_SOURCE_NAME = "example"
SHAKESPEARE_PATH = Path(__file__).resolve().parent / "data" / "shakespeare.txt.gz"

# Pure-Python modules present (as .py source) on every CPython 3.10-3.13. Order is part of the
# dataset's identity: append, never reorder.
_MODULES = (
    "argparse", "ast", "asyncio.events", "asyncio.tasks", "base64", "bisect", "calendar",
    "collections", "configparser", "contextlib", "copy", "csv", "dataclasses", "decimal",
    "difflib", "email.message", "enum", "fractions", "ftplib", "functools", "gettext", "glob",
    "gzip", "heapq", "hmac", "html.parser", "http.client", "http.cookiejar", "imaplib", "inspect",
    "ipaddress", "json.decoder", "locale", "logging", "logging.handlers", "mailbox", "numbers",
    "operator", "optparse", "pathlib", "pdb", "pickle", "pkgutil", "platform", "plistlib",
    "poplib", "pprint", "pydoc", "queue", "random", "shlex", "shutil", "smtplib", "socket",
    "socketserver", "statistics", "string", "subprocess", "tarfile", "tempfile", "textwrap",
    "threading", "timeit", "tokenize", "traceback", "turtle", "typing", "unittest.case",
    "unittest.mock", "urllib.parse", "urllib.request", "uuid", "warnings", "weakref", "zipfile",
)  # fmt: skip

_MIN_CHARS = 40  # one-word docstrings ("Return self.") teach nothing


def _module_docstrings(module: str) -> list[str]:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    origin = getattr(spec, "origin", None)
    if not origin or not origin.endswith(".py"):
        logger.debug("example data: no Python source for %s, skipped", module)
        return []
    with open(origin, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), filename=origin)
    texts = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=True)
            if doc and len(doc) >= _MIN_CHARS:
                texts.append(doc)
    return texts


@functools.lru_cache(maxsize=1)
def shakespeare_texts() -> tuple[str, ...]:
    """The shipped Shakespeare, one paragraph (blank-line separated) per row, inner newlines kept.

    Empty when the file is not installed.
    """
    if not SHAKESPEARE_PATH.is_file():
        return ()
    with gzip.open(SHAKESPEARE_PATH, "rt", encoding="utf-8") as handle:
        text = handle.read()
    return tuple(p.strip("\n") for p in re.split(r"\n\s*\n", text) if p.strip())


@functools.lru_cache(maxsize=1)
def docstring_texts() -> tuple[str, ...]:
    """The fallback example: docstrings of a fixed list of standard-library modules."""
    texts: list[str] = []
    for module in _MODULES:
        texts.extend(_module_docstrings(module))
    return tuple(texts)


def example_texts() -> tuple[str, ...]:
    """The rows of the example dataset: Shakespeare's paragraphs, or docstrings without the file."""
    texts = shakespeare_texts()
    if texts:
        return texts
    logger.info(
        "example data: %s is not installed; using standard-library docstrings",
        SHAKESPEARE_PATH.name,
    )
    return docstring_texts()


def example_dataset() -> datasets.Dataset:
    """The example dataset as a `datasets.Dataset` with one column, "text"."""
    import datasets

    return datasets.Dataset.from_dict({"text": list(example_texts())})
