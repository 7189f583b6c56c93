"""Every way to test, lint, build and run this monorepo.

`nox` with no arguments runs the default sessions: the README's test command and what CI runs.
Each session makes a fresh venv and installs torch through the root `constraints.txt`, so CI
gets the CPU wheel on local disk and never a multi-GB CUDA build.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nox

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - nox itself runs on 3.11 here
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent
PACKAGES_DIR = ROOT / "packages"
CONSTRAINTS = ROOT / "constraints.txt"
TEST_TOOLS = ["pytest>=8", "pytest-timeout>=2.2"]
# The import order matters: a package's siblings are installed before it.
PACKAGES = ["model-adapter", "adaptive-tokenizer", "model-export", "lightning-pipeline"]

nox.options.sessions = ["lint", "tests", "integration"]
nox.options.default_venv_backend = "venv"
nox.options.error_on_missing_interpreters = True


def _pyproject(package: str) -> dict:
    return tomllib.loads((PACKAGES_DIR / package / "pyproject.toml").read_text())


def _requirement_name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;(]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _local_dependencies(package: str) -> list[str]:
    """The sibling packages `package` declares, transitively, siblings first.

    The siblings are not on PyPI, so their local folders are handed to pip next to the package;
    pip then checks them against the declared ranges like any other requirement.
    """
    found: list[str] = []

    def visit(name: str) -> None:
        for requirement in _pyproject(name)["project"].get("dependencies", []):
            dep = _requirement_name(requirement)
            if dep in PACKAGES and dep not in found:
                visit(dep)
                found.append(dep)

    visit(package)
    return found


def _install_packages(session: nox.Session, *packages: str, extras: str = "test") -> None:
    """Install `packages` (non-editable: tests run against the installed artifact) and their siblings."""
    wanted: list[str] = []
    for package in packages:
        for dep in [*_local_dependencies(package), package]:
            if dep not in wanted:
                wanted.append(dep)
    targets = []
    for name in wanted:
        path = str(PACKAGES_DIR / name)
        declared = _pyproject(name)["project"].get("optional-dependencies", {})
        chosen = [extra for extra in extras.split(",") if extra and extra in declared]
        targets.append(f"{path}[{','.join(chosen)}]" if chosen and name in packages else path)
    session.install("-c", str(CONSTRAINTS), *TEST_TOOLS, *targets)


@nox.session
@nox.parametrize("package", [nox.param(name, id=name) for name in PACKAGES])
def tests(session: nox.Session, package: str) -> None:
    """One package alone, in a venv holding only it, its declared dependencies and test tools."""
    _install_packages(session, package)
    session.chdir(PACKAGES_DIR / package)
    session.run(
        "python", "-m", "pytest", "tests", "--import-mode=importlib", "-p", "no:cacheprovider",
        *session.posargs,
    )


@nox.session
def integration(session: nox.Session) -> None:
    """`integration_tests/`: end to end across every package (tiny sizes on CPU)."""
    tests_found = list((ROOT / "integration_tests").glob("test_*.py"))
    if not tests_found:
        session.skip("integration_tests/ holds no test files yet")
    _install_packages(session, *PACKAGES)
    session.run(
        "python", "-m", "pytest", "integration_tests", "--import-mode=importlib",
        "-p", "no:cacheprovider", *session.posargs,
    )


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the whole tree, with the one root configuration (`ruff.toml`)."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")


@nox.session
def demo(session: nox.Session) -> None:
    """The README's main job: check and train the bundled example export on the built-in data."""
    _install_packages(session, *PACKAGES, extras="")
    example = session.run(
        "python", "-c", "import model_adapter; print(model_adapter.example_export_path())",
        silent=True,
    ).strip()
    session.run("model-adapter", "validate", example)
    if (PACKAGES_DIR / "lightning-pipeline" / "src" / "lightning_pipeline" / "cli.py").exists():
        out = session.posargs[0] if session.posargs else str(ROOT / "runs" / "example")
        session.run(
            "lightning-pipeline", "train", "--model", example, "--data", "example",
            "--out", out, "--max-steps", "300",
        )
