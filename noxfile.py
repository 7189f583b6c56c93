"""Every way to test, lint, build, release and run this monorepo.

`nox` with no arguments runs `nox.options.sessions` below: the README's test command and exactly
what CI runs (`.ci/run`). `nox -t colab` runs the Colab front end's sessions alone; `nox -l` lists
every session, and the README's "Test sessions" table says what each checks, needs and costs.

Each session makes a fresh venv and installs torch through the root `constraints.txt`, so CI gets
the CPU wheel on local disk and never a multi-GB CUDA build. Test tooling comes from each
package's `[dependency-groups] test` (PEP 735); every pytest run reports its skips with reasons
(`-rs`). Sessions that install "as a user would" (`colab`, `notebook`, `minimal`, `build`,
`release`) install the four packages by name and version from a local PEP 503 index serving
wheels built from this checkout (`tools/local_index.py`). The release convention is written
down in `tools/release_check.py`; `release(<dist>)` runs the release workflow's steps but the
upload (`tools/release_build.py`, also called by `.github/workflows/release.yml`).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import os
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import nox
import nox.project
from packaging.requirements import Requirement

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - nox itself runs on 3.11 here
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent
PACKAGES_DIR = ROOT / "packages"
TOOLS = ROOT / "tools"
NOTEBOOK_TESTS = ROOT / "notebook_tests"
CONSTRAINTS = ROOT / "constraints.txt"
# The import order matters: a package's siblings are installed before it.
PACKAGES = ["model-adapter", "adaptive-tokenizer", "model-export", "lightning-pipeline"]
# Data that does not belong in the repository (Colab's pip freeze, the benchmark corpus): a
# folder beside the checkout by default, anywhere with TB_SHARED_DIR.
SHARED_DIR = Path(os.environ.get("TB_SHARED_DIR") or ROOT.parent / "shared")
COLAB_DIR = SHARED_DIR / "data" / "colab"
COLAB_FREEZE = COLAB_DIR / "pip-freeze.gpu.txt"
TINYSHAKESPEARE = SHARED_DIR / "data" / "tinyshakespeare.txt"
COLAB_REQUIREMENTS = ROOT / "requirements-colab.txt"
COLAB_CONSTRAINTS = ROOT / "colab-constraints.txt"
# Colab's own pip (from the snapshot): its resolver is the one that runs the notebook's install.
COLAB_PIP = "pip==24.1.2"
# Only the CPU wheel of this one torch lies on this machine; every other torch on PyPI is a
# multi-GB CUDA build, so the dependency-bound sessions keep it and say so.
CI_TORCH = "2.13.0"

nox.options.sessions = [
    "lint",
    "release_check",
    "workflows",
    "typecheck",
    "tests",
    "integration",
    "build",
    "analysis_browser",
    "colab",
    "notebook",
    "wizard_browser",
    "guides",
]
nox.options.default_venv_backend = "venv"
nox.options.error_on_missing_interpreters = True


def _discard_venv_after(func):
    """With NOX_DISCARD_VENVS=1 (as `.ci/run` sets), delete the session's venv when it ends.

    Every session installs torch and its own stack (0.9 to 1.9 GB each), so the default set would
    hold about 16 GB of venvs at its end; CI runs on a disk shared with other work, where that ran
    out once. Kept by default, so that `nox -r` can reuse venvs on a developer's machine.
    """

    @functools.wraps(func)
    def wrapper(session: nox.Session, *args, **kwargs):
        try:
            return func(session, *args, **kwargs)
        finally:
            location = getattr(session.virtualenv, "location", None)
            if (
                os.environ.get("NOX_DISCARD_VENVS") == "1"
                and location
                and (Path(location) / "pyvenv.cfg").is_file()
            ):
                shutil.rmtree(location, ignore_errors=True)
                session.log(f"discarded {location} (NOX_DISCARD_VENVS=1)")

    return wrapper


def _pytest(session: nox.Session, *args: str, import_mode: str = "importlib") -> None:
    """pytest with this repository's options (skips listed with their reasons), then `nox -- ARGS`.

    Package tests import the installed package (`importlib` mode: the checkout's folders stay off
    sys.path); notebook_tests/ import their helper modules from beside them (`prepend`).
    """
    session.run(
        "python",
        "-m",
        "pytest",
        f"--import-mode={import_mode}",
        "-p",
        "no:cacheprovider",
        "-rs",
        *args,
        *session.posargs,
    )


def _shared(session: nox.Session, path: Path) -> Path:
    """`path` under the shared data folder, or skip the session saying where it was looked for."""
    if not path.exists():
        session.skip(
            f"{path} is missing: set TB_SHARED_DIR to the folder holding data/ "
            f"(default: ../shared beside the checkout, {ROOT.parent / 'shared'})"
        )
    return path


def _load_tool(path: Path) -> ModuleType:
    """A helper module of tools/ or notebook_tests/, imported from its file (both are plain folders)."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pyproject(package: str) -> dict:
    return tomllib.loads((PACKAGES_DIR / package / "pyproject.toml").read_text())


def _version(package: str) -> str:
    return str(_pyproject(package)["project"]["version"])


def _import_name(package: str) -> str:
    return package.replace("-", "_")


def _requirement_name(requirement: str) -> str:
    return Requirement(requirement).name.lower().replace("_", "-")


def _test_group(package: str) -> list[str]:
    """The package's `[dependency-groups] test` (PEP 735): pytest and what its tests import."""
    return list(nox.project.dependency_groups(_pyproject(package), "test"))


def _local_dependencies(package: str) -> list[str]:
    """The sibling packages `package` declares, transitively, siblings first.

    Their local folders are handed to pip next to the package; pip then checks them against the
    declared ranges like any other requirement.
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


def _install_packages(
    session: nox.Session, *packages: str, extras: str = "", tests: bool = True
) -> None:
    """Install `packages` from the checkout (non-editable: tests run against the installed
    artifact), their siblings, and (with `tests`) the packages' test groups."""
    wanted: list[str] = []
    for package in packages:
        for dep in [*_local_dependencies(package), package]:
            if dep not in wanted:
                wanted.append(dep)
    targets = []
    for name in wanted:
        declared = _pyproject(name)["project"].get("optional-dependencies", {})
        chosen = [extra for extra in extras.split(",") if extra and extra in declared]
        path = str(PACKAGES_DIR / name)
        targets.append(f"{path}[{','.join(chosen)}]" if chosen and name in packages else path)
    groups = [req for package in packages for req in _test_group(package)] if tests else []
    session.install("-c", str(CONSTRAINTS), *dict.fromkeys(groups), *targets)


# ---- The local index: the four packages by name and version, as PyPI will serve them ----

_STACK_WHEELS: list[Path] = []


def _stack_wheels(session: nox.Session) -> list[Path]:
    """One wheel per package, built from the checkout once per nox run."""
    if not _STACK_WHEELS:
        dest = ROOT / ".nox" / "_stack_wheels"
        shutil.rmtree(dest, ignore_errors=True)
        session.run(
            "python",
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "-w",
            str(dest),
            *[str(PACKAGES_DIR / name) for name in PACKAGES],
        )
        for name in PACKAGES:
            wheel = dest / f"{_import_name(name)}-{_version(name)}-py3-none-any.whl"
            if not wheel.is_file():
                session.error(f"no wheel {wheel.name} built in {dest}")
            _STACK_WHEELS.append(wheel)
    return _STACK_WHEELS


@contextlib.contextmanager
def _local_index(session: nox.Session, leave_out: str | None = None) -> Iterator[str]:
    """A PEP 503 index on 127.0.0.1 holding the four wheels (less `leave_out`); yields its URL
    for pip's `--extra-index-url`: pip finds everything else on the machine's own index."""
    index = _load_tool(TOOLS / "local_index.py")
    root = Path(session.create_tmp()) / "local-index"
    index.write_index(
        [w for w in _stack_wheels(session) if index.project_name(w) != leave_out], root
    )
    with index.serve(root) as url:
        session.log(
            f"local index {url} serves the checkout's {', '.join(p for p in PACKAGES if p != leave_out)}"
        )
        yield url


# ---- The default set ----


@nox.session
@_discard_venv_after
def lint(session: nox.Session) -> None:
    """ruff's linter and formatter (`--check`) over the whole tree, with the one root configuration
    (`ruff.toml`)."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
@_discard_venv_after
def release_check(session: nox.Session) -> None:
    """Every package is releasable (`tools/release_check.py`: src unchanged since the commit that
    set its version, CHANGELOG section, sibling ranges), after the tests of tools/ itself."""
    session.install("packaging>=24", "tomli>=2; python_version<'3.11'", "pytest>=8")
    _pytest(session, str(TOOLS / "tests"), "-q")
    session.run("python", str(TOOLS / "release_check.py"))


@nox.session
@_discard_venv_after
def workflows(session: nox.Session) -> None:
    """`.github/workflows/*.yml` against GitHub's workflow schema (check-jsonschema's copy)."""
    session.install("check-jsonschema>=0.29")
    session.run(
        "check-jsonschema",
        "--builtin-schema",
        "vendor.github-workflows",
        *[str(p) for p in sorted((ROOT / ".github" / "workflows").glob("*.yml"))],
    )


@nox.session
@_discard_venv_after
def typecheck(session: nox.Session) -> None:
    """mypy over every package's public API with the one root configuration (`mypy.ini`)."""
    _install_packages(session, *PACKAGES, tests=False)
    session.install("mypy>=1.10")
    session.run(
        "mypy",
        "--config-file",
        str(ROOT / "mypy.ini"),
        *[str(PACKAGES_DIR / p / "src" / _import_name(p)) for p in PACKAGES],
    )


@nox.session
@nox.parametrize("package", [nox.param(name, id=name) for name in PACKAGES])
@_discard_venv_after
def tests(session: nox.Session, package: str) -> None:
    """One package alone, in a venv holding only it, its declared dependencies and its test group."""
    _install_packages(session, package)
    session.chdir(PACKAGES_DIR / package)
    _pytest(session, "tests")


@nox.session
@_discard_venv_after
def integration(session: nox.Session) -> None:
    """`integration_tests/`: end to end across every package (tiny sizes on CPU; GPU training figures on CUDA).

    On a CUDA machine `test_gpu_training.py` also trains a GPT-2-small-shaped export in bf16, eager
    and compiled, and prints tokens/s, MFU and peak memory; without CUDA it is skipped.
    """
    _install_packages(session, *PACKAGES)
    _pytest(session, "integration_tests")


def _release_build(session: nox.Session, package: str, outdir: Path) -> None:
    """tools/release_build.py, the release workflow's script: siblings from the local index."""
    session.install("build>=1.2", "twine>=5", "tomli>=2; python_version<'3.11'")
    command = [
        "python",
        str(TOOLS / "release_build.py"),
        package,
        "--outdir",
        str(outdir),
        "--pip-arg=-c",
        f"--pip-arg={CONSTRAINTS}",
    ]
    if not _local_dependencies(package):
        session.run(*command)
        return
    with _local_index(session, leave_out=package) as url:
        session.run(*command, f"--pip-arg=--extra-index-url={url}")


@nox.session
@nox.parametrize("package", [nox.param(name, id=name) for name in PACKAGES])
@_discard_venv_after
def build(session: nox.Session, package: str) -> None:
    """The release steps but the upload, into a scratch folder: sdist and wheel, `twine check
    --strict`, `py.typed`, the wheel installed by name in a clean venv and every module imported."""
    _release_build(session, package, Path(session.create_tmp()) / "dist")


# ---- Colab front end (`nox -t colab`): notebook, colab, wizard_browser, guides ----


@nox.session(tags=["colab"])
@_discard_venv_after
def colab(session: nox.Session) -> None:
    """`requirements-colab.txt` installs on Colab (Python 3.13) without changing torch, numpy or any
    other preinstalled package: pip's dry-run report against Colab's preinstalled versions, the
    four packages found by name and version on the local index."""
    resolution = _load_tool(NOTEBOOK_TESTS / "colab_resolution.py")
    if COLAB_FREEZE.exists():
        expected = resolution.constraints_text(
            COLAB_FREEZE.read_text(), resolution.snapshot_source(COLAB_DIR)
        )
        if COLAB_CONSTRAINTS.read_text() != expected:
            session.error(
                "colab-constraints.txt is older than the Colab snapshot; run `nox -s colab_constraints`"
            )
    else:
        session.log(
            f"NOTE no snapshot at {COLAB_FREEZE} (TB_SHARED_DIR); using the committed {COLAB_CONSTRAINTS.name}"
        )
    session.install(COLAB_PIP, "pytest>=8")
    _pytest(session, str(NOTEBOOK_TESTS / "test_colab_resolution.py"), "-q", import_mode="prepend")
    with _local_index(session) as url:
        session.run(
            "python",
            str(NOTEBOOK_TESTS / "colab_resolution.py"),
            "--requirements",
            str(COLAB_REQUIREMENTS),
            "--constraints",
            str(COLAB_CONSTRAINTS),
            "--workdir",
            session.create_tmp(),
            "--extra-index-url",
            url,
        )


@nox.session(tags=["colab"])
@_discard_venv_after
def notebook(session: nox.Session) -> None:
    """template.ipynb is generated from notebook/template.py (`nox -s notebook -- --write` rewrites
    it), then executed headless top to bottom on CPU with tiny settings and a google.colab stand-in,
    in a venv holding requirements-colab.txt installed by name from the local index (so the install
    cell finds everything installed and changes nothing)."""
    session.install(
        "jupytext>=1.16",
        "nbformat>=5.9",
        "nbclient>=0.10",
        "ipykernel>=6.17",
        "pytest>=8",
        "tomli>=2; python_version<'3.11'",
    )
    if "--write" in session.posargs:
        session.run("python", str(NOTEBOOK_TESTS / "notebook_build.py"), "--write")
        session.posargs.remove("--write")
    session.run("python", str(NOTEBOOK_TESTS / "notebook_build.py"), "--check")
    with _local_index(session) as url:
        session.install(
            "-c", str(CONSTRAINTS), "--extra-index-url", url, "-r", str(COLAB_REQUIREMENTS)
        )
    _pytest(
        session,
        str(NOTEBOOK_TESTS / "test_notebook_build.py"),
        str(NOTEBOOK_TESTS / "test_notebook.py"),
        "-q",
        "-s",
        import_mode="prepend",
    )


@nox.session(tags=["colab"])
@_discard_venv_after
def wizard_browser(session: nox.Session) -> None:
    """The wizard in a real browser: Voila on localhost, Playwright driving Debian's chromium through the
    five steps; screenshots and the notebook's executed copy (wizard.executed.ipynb, with its
    outputs and widget state) in notebook_tests/artifacts/. Needs `apt-get install chromium` (no
    `playwright install`: the browser comes from the system)."""
    chromium = Path(session.env.get("CHROMIUM", "/usr/bin/chromium"))
    if not chromium.exists():
        session.error(
            f"no chromium at {chromium}: apt-get install -y chromium, or set CHROMIUM=/path/to/it"
        )
    _install_packages(session, "lightning-pipeline", extras="notebook", tests=False)
    session.install(
        "-c",
        str(CONSTRAINTS),
        "pytest>=8",
        "voila>=0.5,<0.6",
        "ipykernel>=6.17",
        "playwright>=1.40",
        "nbformat>=5.9",
    )
    session.env["CHROMIUM"] = str(chromium)
    _pytest(session, str(NOTEBOOK_TESTS / "test_wizard_browser.py"), "-q", import_mode="prepend")
    artifacts = NOTEBOOK_TESTS / "artifacts"
    session.log(
        f"screenshots: {artifacts}/wizard_step_[1-5].png; the notebook Voila served, executed with "
        f"its outputs: {artifacts / 'wizard.executed.ipynb'}"
    )


@nox.session(tags=["colab"])
@_discard_venv_after
def guides(session: nox.Session) -> None:
    """Every ```bash / ```python block of docs/TRAINING_GUIDE.md, DEPLOYMENT_GUIDE.md,
    TROUBLESHOOTING.md and PLATFORM_RECOMMENDATIONS.md runs, in order, in a venv with the stack."""
    _install_packages(session, *PACKAGES, extras="notebook", tests=False)
    session.install("pytest>=8")
    _pytest(session, str(NOTEBOOK_TESTS / "test_guides.py"), "-q", import_mode="prepend")
    workdir = Path(session.create_tmp()) / "guides"
    shutil.rmtree(workdir, ignore_errors=True)
    session.run("python", str(NOTEBOOK_TESTS / "run_guides.py"), str(workdir))


# ---- Run by name: releases, the matrix, docs, benchmarks ----


@nox.session
@nox.parametrize("package", [nox.param(name, id=name) for name in PACKAGES])
@_discard_venv_after
def release(session: nox.Session, package: str) -> None:
    """What `.github/workflows/release.yml` does for the tag `<package>-v<version>`, but the upload:
    the files it would upload are left in dist/<package>/."""
    session.install("packaging>=24", "tomli>=2; python_version<'3.11'")
    session.run("python", str(TOOLS / "release_check.py"), "--package", package)
    _release_build(session, package, ROOT / "dist" / package)


@nox.session
@_discard_venv_after
def analysis_browser(session: nox.Session) -> None:
    """The Tier 2 analysis report (`analyze_model(...).to_html`) screenshotted by Debian's headless
    chromium: its inline SVG charts must be what paints the page. Needs `apt-get install chromium`."""
    chromium = Path(session.env.get("CHROMIUM", "/usr/bin/chromium"))
    if not chromium.exists():
        session.error(
            f"no chromium at {chromium}: apt-get install -y chromium, or set CHROMIUM=/path/to/it"
        )
    _install_packages(session, "model-adapter")
    session.install("-c", str(CONSTRAINTS), "pillow>=9")
    session.env["CHROMIUM"] = str(chromium)
    _pytest(session, str(NOTEBOOK_TESTS / "test_analysis_browser.py"), "-q", import_mode="prepend")


def _source_fingerprint() -> str:
    """A hash of every file of the four packages (what a non-editable install copied)."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGES_DIR.glob("*/src/**/*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(PACKAGES_DIR)).encode() + b"\0" + path.read_bytes())
    for package in PACKAGES:
        digest.update((PACKAGES_DIR / package / "pyproject.toml").read_bytes())
    return digest.hexdigest()


@nox.session(reuse_venv=True)  # the second `nox -s demo` must not rebuild a torch venv
@_discard_venv_after
def demo(session: nox.Session) -> None:
    """The README's main job: check and train the bundled example export on the built-in data.

    The venv is kept between runs, and the stack is reinstalled only when the packages' files
    changed since the last install (their fingerprint is kept in the venv), so a second run of an
    unchanged checkout goes straight to "already complete".
    """
    marker = Path(session.virtualenv.location) / ".stack-fingerprint"
    fingerprint = _source_fingerprint()
    if not marker.is_file() or marker.read_text() != fingerprint:
        session.log(
            "installing the four packages and their dependencies (torch among them) into this "
            "venv: minutes, and quiet while pip works; later runs reuse it"
        )
        _install_packages(session, *PACKAGES, tests=False)
        marker.write_text(fingerprint)
    else:
        session.log("the stack in this venv is the checkout's already: nothing to install")
    example = session.run(
        "python",
        "-c",
        "import model_adapter; print(model_adapter.example_export_path())",
        silent=True,
        log=False,  # plumbing: the next command line shows the path
    ).strip()
    session.run("model-adapter", "validate", example)
    out = session.posargs[0] if session.posargs else str(ROOT / "runs" / "example")
    # Settings measured by packages/lightning-pipeline/benchmarks/demo_learning.py (DEMO_ARGS).
    session.run(
        "lightning-pipeline",
        "train",
        "--model",
        example,
        "--data",
        "example",
        "--out",
        out,
        "--max-steps",
        "600",
        "--batch-size",
        "16",
        "--lr",
        "1e-3",
    )
    session.run(
        "lightning-pipeline",
        "generate",
        out,
        "--prompt",
        "ROMEO:",
        "--max-new-tokens",
        "80",
        "--temperature",
        "0.8",
        "--top-k",
        "50",
        "--seed",
        "0",
    )


COMBOS = {
    "adapter+tokenizer": ["model-adapter", "adaptive-tokenizer"],
    "adapter+export": ["model-adapter", "model-export"],
    "adapter+tokenizer+pipeline": ["model-adapter", "adaptive-tokenizer", "lightning-pipeline"],
    "all": PACKAGES,
}


@nox.session
@nox.parametrize("combo", [nox.param(name, id=name) for name in COMBOS])
@_discard_venv_after
def combos(session: nox.Session, combo: str) -> None:
    """The combinations users install, together in one venv: no conflict, every test still passes."""
    members = COMBOS[combo]
    _install_packages(session, *members)
    session.run("python", "-m", "pip", "check")
    for package in members:
        session.chdir(PACKAGES_DIR / package)
        _pytest(session, "tests", "-q")


def _declared_requirements(package: str) -> list[str]:
    return [
        r
        for r in _pyproject(package)["project"].get("dependencies", [])
        if _requirement_name(r) not in PACKAGES
    ]


def _bound_constraints(package: str, bound: str) -> tuple[list[str], list[str]]:
    """Constraint lines pinning `package`'s direct dependencies to a bound, and notes on what
    could not be pinned here (the google-cloud-python lowest-constraints trick)."""
    lines: list[str] = []
    notes: list[str] = []
    colab = {}
    if bound == "colab":
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
@_discard_venv_after
def deps(session: nox.Session, package: str, bound: str) -> None:
    """Each package against its lowest, Colab's preinstalled, or the newest dependency versions.

    `lowest` pins every direct dependency to its declared lower bound, `colab` to the version in
    Colab's pip freeze ($TB_SHARED_DIR/data/colab), `highest` upgrades everything; so the declared
    ranges (each package README's "Supported versions") are true. torch stays at the CPU wheel of
    this machine, and the session says so. The test group resolves inside the pinned bounds.
    """
    if bound == "colab":
        _shared(session, COLAB_FREEZE)
    lines, notes = _bound_constraints(package, bound)
    for note in notes:
        session.log(f"NOTE {note}")
    pins = Path(session.create_tmp()) / f"constraints-{bound}.txt"
    pins.write_text("\n".join([f"torch=={CI_TORCH}", *lines]) + "\n")
    session.log("pinned: " + ", ".join(lines or ["nothing beyond torch"]))
    args = ["-c", str(pins)]
    if bound == "highest":
        args.append("--upgrade")
    siblings = [str(PACKAGES_DIR / name) for name in _local_dependencies(package)]
    session.install(*args, *_test_group(package), *siblings, str(PACKAGES_DIR / package))
    session.run("python", "-m", "pip", "check")
    session.chdir(PACKAGES_DIR / package)
    _pytest(session, "tests", "-q")


@nox.session
@nox.parametrize("package", [nox.param(name, id=name) for name in PACKAGES])
@_discard_venv_after
def minimal(session: nox.Session, package: str) -> None:
    """`pip install <package>==<version>` without extras (by name, from the local index): every
    module imports, `__all__` resolves; optional features name their extra."""
    with _local_index(session) as url:
        session.install(
            "-c", str(CONSTRAINTS), "--extra-index-url", url, f"{package}=={_version(package)}"
        )
    session.run("python", str(TOOLS / "import_check.py"), _import_name(package))
    check = PACKAGES_DIR / package / "tests" / "minimal_install_check.py"
    if check.exists():
        session.run("python", str(check))


def _python_blocks(markdown: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.S)


@nox.session
@_discard_venv_after
def docs(session: nox.Session) -> None:
    """Every ```python block of every README runs, in a venv holding all four packages."""
    _install_packages(session, *PACKAGES, tests=False)
    readmes = [ROOT / "README.md", *sorted(PACKAGES_DIR.glob("*/README.md"))]
    tmp = Path(session.create_tmp()).resolve()  # absolute: the blocks run inside it
    failed: list[str] = []
    for readme in readmes:
        workdir = tmp / f"readme-{readme.parent.name}"  # one folder per README, made fresh
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
        for index, block in enumerate(_python_blocks(readme.read_text())):
            script = workdir / f"block_{index}.py"
            script.write_text(block)
            label = f"{readme.relative_to(ROOT)} block {index}"
            session.log(label)
            session.chdir(workdir)
            try:
                session.run("python", str(script))
            except nox.command.CommandFailed:
                failed.append(label)
    if failed:
        session.error("README blocks that failed: " + "; ".join(failed))


@nox.session
@_discard_venv_after
def bench(session: nox.Session) -> None:
    """Every benchmark script, each printing its ratios against its baseline measured in the same run."""
    corpus = _shared(session, TINYSHAKESPEARE)
    _install_packages(session, *PACKAGES, tests=False)
    for script in sorted(PACKAGES_DIR.glob("*/benchmarks/*.py")):
        session.log(f"== {script.relative_to(ROOT)}")
        session.run("python", str(script), *session.posargs, env={"TINYSHAKESPEARE": str(corpus)})


@nox.session
@_discard_venv_after
def colab_constraints(session: nox.Session) -> None:
    """Regenerate `colab-constraints.txt` from the Colab snapshot (run when the snapshot changes)."""
    resolution = _load_tool(NOTEBOOK_TESTS / "colab_resolution.py")
    freeze = _shared(session, COLAB_FREEZE)
    COLAB_CONSTRAINTS.write_text(
        resolution.constraints_text(freeze.read_text(), resolution.snapshot_source(COLAB_DIR))
    )
    session.log(f"wrote {COLAB_CONSTRAINTS.name}")


@nox.session
@nox.parametrize("ipywidgets", ["7.7.1", "8"])
@_discard_venv_after
def wizard(session: nox.Session, ipywidgets: str) -> None:
    """SetupWizard's headless tests under Colab's ipywidgets (7.7.1) and the newest 8.x."""
    pin = f"ipywidgets=={ipywidgets}" if "." in ipywidgets else f"ipywidgets~={ipywidgets}.0"
    session.install("-c", str(CONSTRAINTS), pin)
    _install_packages(session, "lightning-pipeline", extras="notebook")
    session.run("python", "-c", "import ipywidgets; print('ipywidgets', ipywidgets.__version__)")
    session.chdir(PACKAGES_DIR / "lightning-pipeline")
    _pytest(session, "tests/test_wizard.py", "-q")
