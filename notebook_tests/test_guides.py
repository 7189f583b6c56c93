"""The guides stay complete: every error type of the four packages is in TROUBLESHOOTING.md, and
every guide has runnable blocks (run by `nox -s guides`)."""

from __future__ import annotations

import re
from pathlib import Path

from run_guides import DOCS, ORDER, blocks

PACKAGES = Path(__file__).resolve().parent.parent / "packages"


def error_types() -> set[str]:
    names = set()
    for errors in PACKAGES.glob("*/src/*/errors.py"):
        names |= set(re.findall(r"^class (\w+)\(", errors.read_text(encoding="utf-8"), flags=re.M))
    return names


def test_troubleshooting_lists_every_error_type() -> None:
    text = (DOCS / "TROUBLESHOOTING.md").read_text(encoding="utf-8")
    found = error_types()
    assert len(found) > 20
    assert sorted(name for name in found if f"`{name}`" not in text) == []


def test_every_guide_has_blocks_to_run() -> None:
    for name in ORDER:
        assert blocks((DOCS / name).read_text(encoding="utf-8")), f"{name} has no bash/python block"


def test_block_extraction_keeps_order_and_language() -> None:
    markdown = "text\n```bash\necho one\n```\n```text\nskipped\n```\n```python\nprint(2)\n```\n"
    assert blocks(markdown) == [("bash", "echo one\n"), ("python", "print(2)\n")]
