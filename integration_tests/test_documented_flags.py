"""Every `--flag` that a guide, a README or a library message names is a flag that exists.

The flags come from the four CLIs' real argparse parsers (walked, sub-commands included); scripts
that are not a package CLI (the bundle's inference.py, benchmarks, the notebook build) declare
theirs with `add_argument("--name", ...)`, read from their source. A message telling the user to
"pass --overwrite" when no parser knows `--overwrite` fails here.
"""

from __future__ import annotations

import argparse
import io
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
DECLARED = re.compile(r"""add_argument\(\s*(?:"-\w",\s*)?["'](--[a-z][a-z0-9-]*)["']""")
# Scripts with their own flags: the exported bundle's inference.py, benchmarks, the notebook build, tools.
SCRIPTS = [
    ROOT / "packages/model-export/src/model_export/bundle_inference.py",
    *ROOT.glob("packages/*/benchmarks/*.py"),
    ROOT / "notebook_tests/notebook_build.py",
    *ROOT.glob("tools/*.py"),
]
# Flags of other people's tools that our docs quote, each with the tool that owns it.
FOREIGN = {
    "--strict": "twine check --strict (also model-adapter validate --strict)",
    "--dry-run": "pip install --dry-run",
    "--report": "pip install --report",
    "--index-url": "pip install --index-url (the CPU torch wheels)",
    "--extra-index-url": "pip install --extra-index-url (the local package index)",
    "--builtin-schema": "check-jsonschema --builtin-schema",
    "--nnodes": "torchrun --nnodes (the multi-node command in lightning-pipeline's README)",
    "--nproc-per-node": "torchrun --nproc-per-node",
    "--node-rank": "torchrun --node-rank",
    "--master-addr": "torchrun --master-addr",
    "--master-port": "torchrun --master-port",
}


def _parser_flags(parser: argparse.ArgumentParser) -> set[str]:
    flags: set[str] = set()
    for action in parser._actions:
        flags.update(option for option in action.option_strings if option.startswith("--"))
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                flags |= _parser_flags(sub)
    return flags


def known_flags() -> set[str]:
    from adaptive_tokenizer.cli import _build_parser as tokenizer_parser
    from lightning_pipeline.cli import build_parser as pipeline_parser
    from model_adapter.cli import build_parser as adapter_parser
    from model_export.cli import build_parser as export_parser

    flags: set[str] = set(FOREIGN)
    for build in (pipeline_parser, adapter_parser, export_parser, tokenizer_parser):
        flags |= _parser_flags(build())
    for script in SCRIPTS:
        if script.is_file():
            flags.update(DECLARED.findall(script.read_text(encoding="utf-8")))
    return flags


def _documents() -> list[Path]:
    return sorted([*ROOT.glob("docs/*.md"), ROOT / "README.md", *ROOT.glob("packages/*/README.md")])


def _library_strings(path: Path) -> str:
    """The string literals of a module (messages, docstrings), where a user-facing flag would be named."""
    source = path.read_text(encoding="utf-8")
    kinds = {
        tokenize.STRING,
        *(getattr(tokenize, n) for n in ("FSTRING_MIDDLE",) if hasattr(tokenize, n)),
    }
    return "\n".join(
        tok.string
        for tok in tokenize.generate_tokens(io.StringIO(source).readline)
        if tok.type in kinds
    )


def _library_modules() -> list[Path]:
    return sorted(p for p in ROOT.glob("packages/*/src/**/*.py") if p not in SCRIPTS)


def test_the_parsers_know_the_new_training_flags():
    flags = known_flags()
    for flag in (
        "--config",
        "--overwrite",
        "--tokenizer",
        "--logger",
        "--max-steps",
        "--no-causal-repair",
    ):
        assert flag in flags


@pytest.mark.parametrize("path", _documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_flag_a_document_names_exists(path: Path):
    unknown = sorted(set(FLAG.findall(path.read_text(encoding="utf-8"))) - known_flags())
    assert not unknown, f"{path.relative_to(ROOT)} names flags no parser has: {unknown}"


def test_every_flag_a_library_message_names_exists():
    flags = known_flags()
    unknown = {}
    for module in _library_modules():
        missing = sorted(set(FLAG.findall(_library_strings(module))) - flags)
        if missing:
            unknown[str(module.relative_to(ROOT))] = missing
    assert not unknown, f"library strings name flags no parser has: {unknown}"
