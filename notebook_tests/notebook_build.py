"""Build `template.ipynb` from its reviewable source `notebook/template.py` (jupytext percent format).

    python notebook_tests/notebook_build.py --write   # sync the pins, regenerate template.ipynb
    python notebook_tests/notebook_build.py --check   # fail when anything below drifted

The output is deterministic (fixed cell ids, no outputs, sorted JSON keys), so the check is a
plain text comparison. The install cell's requirement lines must equal `requirements-colab.txt`,
whose four stack lines pin each package `==` its pyproject version. After a version bump,
`--write` is the one step: it sets those four pins from the pyproject files, copies the
requirement lines into the install cell of `notebook/template.py` and rebuilds the notebook.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from colab_resolution import stack_pin_problems, stack_versions, sync_stack_pins

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "notebook" / "template.py"
NOTEBOOK = ROOT / "template.ipynb"
REQUIREMENTS = ROOT / "requirements-colab.txt"

COLAB_METADATA = {
    "accelerator": "GPU",
    "colab": {"provenance": [], "gpuType": "T4", "toc_visible": True},
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}


def build(source_text: str) -> str:
    """The notebook JSON text for the percent-format source."""
    import jupytext
    import nbformat

    notebook = jupytext.reads(source_text, fmt="py:percent")
    # The source's file-level lint directive (cells import where they are used) is not a cell.
    notebook.cells = [cell for cell in notebook.cells if not cell.source.startswith("# ruff: noqa")]
    notebook.metadata = nbformat.from_dict(COLAB_METADATA)
    for index, cell in enumerate(notebook.cells):
        cell.id = f"cell-{index:02d}"
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            title = re.match(r"# @title (\d+)\.", cell.source)
            if (
                title
            ):  # Colab shows the form title; the number keeps the cell easy to name in guides
                cell.metadata["cellView"] = "form"
    nbformat.validate(notebook)
    return json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def requirement_lines(text: str) -> list[str]:
    """Requirement lines of a requirements file (comments and blank lines dropped)."""
    return [
        line.split(" #")[0].strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def embedded_requirements(source_text: str) -> list[str]:
    """The REQUIREMENTS block of the install cell."""
    match = re.search(r'^REQUIREMENTS = """\n(.*?)"""', source_text, flags=re.S | re.M)
    if not match:
        raise ValueError(f'{SOURCE.name} has no REQUIREMENTS = """...""" block in its install cell')
    return requirement_lines(match.group(1))


def with_requirements(source_text: str, requirements_text: str) -> str:
    """`source_text` with the install cell's REQUIREMENTS block set to the requirement lines of `requirements_text`."""
    embedded_requirements(source_text)  # a clear error when the block is missing
    block = "\n".join(requirement_lines(requirements_text))
    return re.sub(
        r'^(REQUIREMENTS = """\n)(.*?)(""")',
        lambda m: f"{m.group(1)}{block}\n{m.group(3)}",
        source_text,
        count=1,
        flags=re.S | re.M,
    )


def problems(
    source_text: str,
    notebook_text: str | None,
    requirements_text: str,
    versions: dict[str, str] | None = None,
) -> list[str]:
    found = stack_pin_problems(
        requirements_text, stack_versions(ROOT) if versions is None else versions
    )
    if embedded_requirements(source_text) != requirement_lines(requirements_text):
        found.append(
            "the install cell's REQUIREMENTS differ from requirements-colab.txt; copy the requirement "
            "lines of requirements-colab.txt into notebook/template.py"
        )
    if notebook_text is None:
        found.append(
            "template.ipynb is missing; run `nox -s notebook -- --write` (or notebook_build.py --write)"
        )
    elif notebook_text != build(source_text):
        found.append(
            "template.ipynb differs from notebook/template.py; edit the .py and run "
            "`python notebook_tests/notebook_build.py --write`"
        )
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument(
        "--write",
        action="store_true",
        help="set the stack pins from pyproject, copy them into the install cell, regenerate template.ipynb",
    )
    group.add_argument("--check", action="store_true", help="fail when template.ipynb is stale")
    args = parser.parse_args(argv)
    source_text = SOURCE.read_text(encoding="utf-8")
    if args.write:
        requirements_text = sync_stack_pins(
            REQUIREMENTS.read_text(encoding="utf-8"), stack_versions(ROOT)
        )
        source_text = with_requirements(source_text, requirements_text)
        for path, text in (
            (REQUIREMENTS, requirements_text),
            (SOURCE, source_text),
            (NOTEBOOK, build(source_text)),
        ):
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
                print(f"wrote {path.relative_to(ROOT)}")
    notebook_text = NOTEBOOK.read_text(encoding="utf-8") if NOTEBOOK.exists() else None
    found = problems(source_text, notebook_text, REQUIREMENTS.read_text(encoding="utf-8"))
    for problem in found:
        print(f"FAIL: {problem}", file=sys.stderr)
    if not found:
        print(
            "template.ipynb matches notebook/template.py; its install cell matches requirements-colab.txt"
        )
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
