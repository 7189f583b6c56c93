"""Every way to test, lint, build and run this monorepo.

`nox` with no arguments runs the default sessions: the README's test command and what CI runs.
Each session makes a fresh venv and installs torch through the root `constraints.txt`, so CI
gets the CPU wheel on local disk and never a multi-GB CUDA build.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nox
from packaging.requirements import Requirement

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
    return Requirement(requirement).name.lower().replace("_", "-")


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


# --------------------------------------------------------------------------------------------
# The matrix: combinations, dependency bounds, minimal installs, artifacts, docs, benchmarks.
# --------------------------------------------------------------------------------------------

COMBOS = {
    "adapter+tokenizer": ["model-adapter", "adaptive-tokenizer"],
    "adapter+export": ["model-adapter", "model-export"],
    "adapter+tokenizer+pipeline": ["model-adapter", "adaptive-tokenizer", "lightning-pipeline"],
    "all": PACKAGES,
}
COLAB_FREEZE = ROOT.parent / "shared" / "data" / "colab" / "pip-freeze.gpu.txt"
# Only the CPU wheel of this one torch lies on this machine; every other torch on PyPI is a
# multi-GB CUDA build, so the dependency-bound sessions keep it and say so.
CI_TORCH = "2.13.0"


def _import_name(package: str) -> str:
    return package.replace("-", "_")


@nox.session
@nox.parametrize("combo", [nox.param(name, id=name) for name in COMBOS])
def combos(session: nox.Session, combo: str) -> None:
    """The combinations users install, together in one venv: no conflict, every test still passes."""
    members = COMBOS[combo]
    _install_packages(session, *members)
    session.run("python", "-m", "pip", "check")
    for package in members:
        session.chdir(PACKAGES_DIR / package)
        session.run(
            "python", "-m", "pytest", "tests", "--import-mode=importlib", "-p", "no:cacheprovider",
            "-q", *session.posargs,
        )


def _declared_requirements(package: str) -> list[str]:
    return [
        r for r in _pyproject(package)["project"].get("dependencies", [])
        if _requirement_name(r) not in PACKAGES
    ]


def _bound_constraints(package: str, bound: str) -> tuple[list[str], list[str]]:
    """Constraint lines pinning `package`'s direct dependencies to a bound, and notes on what
    could not be pinned here (the google-cloud-python lowest-constraints trick)."""
    lines: list[str] = []
    notes: list[str] = []
    colab = {}
    if bound == "colab":
        if not COLAB_FREEZE.exists():
            return lines, [f"no Colab snapshot at {COLAB_FREEZE}"]
        for line in COLAB_FREEZE.read_text().splitlines():
            if "==" in line and not line.startswith("#"):
                name, version = line.split("==", 1)
                colab[name.strip().lower().replace("_", "-")] = version.split("+")[0].strip()
    for requirement in _declared_requirements(package):
        name = _requirement_name(requirement)
        if name == "torch":
            notes.append(
                f"torch: kept at {CI_TORCH} (the only CPU wheel here; torch {bound} bound is a "
                "CUDA-only multi-GB build on PyPI and is not installed on this machine)"
            )
            continue
        if bound == "lowest":
            match = re.search(r">=\s*([0-9][^,;\s]*)", requirement)
            if match:
                lines.append(f"{name}=={match.group(1)}")
            else:
                notes.append(f"{name}: no lower bound declared")
        elif bound == "colab":
            if name in colab:
                lines.append(f"{name}=={colab[name]}")
            else:
                notes.append(f"{name}: not preinstalled on Colab, resolved freely")
    return lines, notes


@nox.session
@nox.parametrize("bound", ["lowest", "colab", "highest"])
@nox.parametrize("package", [nox.param(name, id=name) for name in PACKAGES])
def deps(session: nox.Session, package: str, bound: str) -> None:
    """Each package against the oldest versions its pyproject admits, against Colab's preinstalled
    versions, and against the newest, so the declared ranges are true."""
    lines, notes = _bound_constraints(package, bound)
    for note in notes:
        session.log(f"NOTE {note}")
    pins = Path(session.create_tmp()) / f"constraints-{bound}.txt"
    pins.write_text("\n".join([f"torch=={CI_TORCH}", *lines]) + "\n")
    session.log("pinned: " + ", ".join(lines or ["nothing beyond torch"]))
    args = ["-c", str(pins)]
    if bound == "highest":
        args.append("--upgrade")
    wanted = [*_local_dependencies(package), package]
    session.install(*args, *TEST_TOOLS, *[str(PACKAGES_DIR / name) for name in wanted])
    session.run("python", "-m", "pip", "check")
    session.chdir(PACKAGES_DIR / package)
    session.run(
        "python", "-m", "pytest", "tests", "--import-mode=importlib", "-p", "no:cacheprovider",
        "-q", *session.posargs,
    )


_IMPORT_EVERY_MODULE = """
import importlib, pkgutil, sys
name = sys.argv[1]
package = importlib.import_module(name)
missing = [n for n in getattr(package, "__all__", []) if not hasattr(package, n)]
assert not missing, f"{name}.__all__ names missing attributes: {missing}"
count = 0
for info in pkgutil.walk_packages(package.__path__, name + "."):
    importlib.import_module(info.name)
    count += 1
print(f"{name}: imported {count} modules and {len(package.__all__)} public names")
"""


@nox.session
@nox.parametrize("package", [nox.param(name, id=name) for name in PACKAGES])
def minimal(session: nox.Session, package: str) -> None:
    """The package without extras imports every public module; optional features name their extra."""
    wanted = [*_local_dependencies(package), package]
    session.install("-c", str(CONSTRAINTS), *[str(PACKAGES_DIR / name) for name in wanted])
    session.run("python", "-c", _IMPORT_EVERY_MODULE, _import_name(package))
    check = PACKAGES_DIR / package / "tests" / "minimal_install_check.py"
    if check.exists():
        session.run("python", str(check))


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy over every package's public API with the one root configuration (`mypy.ini`)."""
    _install_packages(session, *PACKAGES, extras="")
    session.install("mypy>=1.10")
    session.run(
        "mypy", "--config-file", str(ROOT / "mypy.ini"),
        *[str(PACKAGES_DIR / p / "src" / _import_name(p)) for p in PACKAGES],
    )


@nox.session
@nox.parametrize("package", [nox.param(name, id=name) for name in PACKAGES])
def build(session: nox.Session, package: str) -> None:
    """Wheel and sdist, metadata check, then the built wheel installed alone in a clean venv."""
    session.install("build>=1.2", "twine>=5")
    dist = Path(session.create_tmp()) / "dist"
    session.run("python", "-m", "build", "--outdir", str(dist), str(PACKAGES_DIR / package))
    session.run("twine", "check", "--strict", *[str(f) for f in dist.iterdir()])
    wheel = next(dist.glob("*.whl"))
    names = subprocess.run(
        [sys.executable, "-m", "zipfile", "-l", str(wheel)], capture_output=True, text=True, check=True
    ).stdout
    if f"{_import_name(package)}/py.typed" not in names:
        session.error(f"{wheel.name} does not ship py.typed")
    clean = Path(session.create_tmp()) / "clean-venv"
    session.run(sys.executable, "-m", "venv", "--clear", str(clean), external=True)
    py = str(clean / "bin" / "python")
    siblings = [str(PACKAGES_DIR / name) for name in _local_dependencies(package)]
    session.run(py, "-m", "pip", "install", "-q", "-c", str(CONSTRAINTS), *siblings, str(wheel), external=True)
    session.run(py, "-c", _IMPORT_EVERY_MODULE, _import_name(package), external=True)


def _python_blocks(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.S)


@nox.session
def docs(session: nox.Session) -> None:
    """Every ```python block of every README runs, in a venv holding all four packages."""
    _install_packages(session, *PACKAGES, extras="")
    readmes = [ROOT / "README.md", *sorted(PACKAGES_DIR.glob("*/README.md"))]
    workdir = Path(session.create_tmp())
    for readme in readmes:
        for index, block in enumerate(_python_blocks(readme.read_text())):
            script = workdir / f"{readme.parent.name}_{index}.py"
            script.write_text(block)
            session.log(f"{readme.relative_to(ROOT)} block {index}")
            session.chdir(workdir)
            session.run("python", str(script))


@nox.session
def bench(session: nox.Session) -> None:
    """Every benchmark script, each printing its ratios against its baseline measured in the same run."""
    _install_packages(session, *PACKAGES, extras="")
    scripts = sorted(PACKAGES_DIR.glob("*/benchmarks/*.py"))
    if not scripts:
        session.skip("no benchmark scripts")
    for script in scripts:
        session.log(f"== {script.relative_to(ROOT)}")
        session.run("python", str(script), *session.posargs)


@nox.session(venv_backend="none")
def release_check(session: nox.Session) -> None:
    """Fails when a package's source changed since its last release tag (`<dist>-v<version>`)
    without a version bump and changelog entry, or when a sibling's range excludes a version."""
    problems: list[str] = []
    versions = {p: _pyproject(p)["project"]["version"] for p in PACKAGES}
    for package, version in versions.items():
        changelog = (PACKAGES_DIR / package / "CHANGELOG.md").read_text()
        if not re.search(rf"^## \[?{re.escape(version)}\]?", changelog, flags=re.M):
            problems.append(f"{package}: CHANGELOG.md has no '## {version}' section for the pyproject version")
        tags = subprocess.run(
            ["git", "tag", "--list", f"{package}-v*", "--sort=-v:refname"],
            cwd=ROOT, capture_output=True, text=True, check=False,
        ).stdout.split()
        if not tags:
            session.log(f"{package} {version}: never tagged; first release")
            continue
        last = tags[0]
        changed = subprocess.run(
            ["git", "diff", "--name-only", last, "--", f"packages/{package}/src"],
            cwd=ROOT, capture_output=True, text=True, check=False,
        ).stdout.split()
        if changed and last == f"{package}-v{version}":
            problems.append(
                f"{package}: src changed since {last} ({len(changed)} files) but the version is still "
                f"{version}; bump it in pyproject.toml and move the Unreleased entries under it"
            )
        else:
            session.log(f"{package} {version}: last tag {last}, {len(changed)} src files changed")
    for package in PACKAGES:
        for requirement in _pyproject(package)["project"].get("dependencies", []):
            dep = _requirement_name(requirement)
            if dep in versions and not Requirement(requirement).specifier.contains(versions[dep]):
                problems.append(f"{package}: requirement '{requirement}' excludes {dep} {versions[dep]}")
    for problem in problems:
        session.log(f"PROBLEM {problem}")
    if problems:
        session.error(f"{len(problems)} release problem(s)")
