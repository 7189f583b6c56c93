"""Every way to test, lint, build and run this monorepo.

`nox` with no arguments runs the default sessions (lint, tests, integration): the README's test
command and what CI runs. Each session makes a fresh venv and installs torch through the root
`constraints.txt`, so CI gets the CPU wheel on local disk and never a multi-GB CUDA build.
The README's "Test sessions" section lists every session, what it needs and how long it takes.

Release convention (checked by `nox -s release_check`):

- Each package is versioned on its own. Its one version source is `version` in its
  `pyproject.toml`; its `CHANGELOG.md` collects changes under `## Unreleased` as they are made.
- To release a package: bump `version`, move the Unreleased entries under a new
  `## <version>` heading, make sure every sibling that depends on it still admits the new
  version in its range (`model-adapter>=0.1,<0.2` style), commit, then tag the commit
  `<dist>-v<version>` (for example `model-adapter-v0.1.0`; the dist name, not the import name).
- `release_check` fails when a package's CHANGELOG has no non-empty section for its current
  version, when its `src/` changed since its last `<dist>-v*` tag while the version stayed the
  tagged one, when the version went below the last tag, or when a sibling's range excludes the
  current version. A package with no tag yet is on its first release.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nox
from packaging.requirements import Requirement
from packaging.version import InvalidVersion, Version

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

nox.options.sessions = [
    "lint", "release_check", "typecheck", "tests", "integration", "build",
    "colab", "notebook", "wizard_browser", "guides",
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
            if os.environ.get("NOX_DISCARD_VENVS") == "1" and location and (Path(location) / "pyvenv.cfg").is_file():
                shutil.rmtree(location, ignore_errors=True)
                session.log(f"discarded {location} (NOX_DISCARD_VENVS=1)")

    return wrapper


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
@_discard_venv_after
def tests(session: nox.Session, package: str) -> None:
    """One package alone, in a venv holding only it, its declared dependencies and test tools."""
    _install_packages(session, package)
    session.chdir(PACKAGES_DIR / package)
    session.run(
        "python", "-m", "pytest", "tests", "--import-mode=importlib", "-p", "no:cacheprovider",
        *session.posargs,
    )


@nox.session
@_discard_venv_after
def integration(session: nox.Session) -> None:
    """`integration_tests/`: end to end across every package (tiny sizes on CPU; GPU training figures on CUDA).

    On a CUDA machine `test_gpu_training.py` also trains a GPT-2-small-shaped export in bf16, eager
    and compiled, and prints tokens/s, MFU and peak memory; without CUDA it is skipped.
    """
    tests_found = list((ROOT / "integration_tests").glob("test_*.py"))
    if not tests_found:
        session.skip("integration_tests/ holds no test files yet")
    _install_packages(session, *PACKAGES)
    session.run(
        "python", "-m", "pytest", "integration_tests", "--import-mode=importlib",
        "-p", "no:cacheprovider", *session.posargs,
    )


@nox.session
@_discard_venv_after
def lint(session: nox.Session) -> None:
    """ruff over the whole tree, with the one root configuration (`ruff.toml`)."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")


@nox.session
@_discard_venv_after
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
@_discard_venv_after
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
@_discard_venv_after
def deps(session: nox.Session, package: str, bound: str) -> None:
    """Each package against its lowest, Colab's preinstalled, or the newest dependency versions.

    `lowest` pins every direct dependency to its declared lower bound, `colab` to the version in
    Colab's pip freeze (../shared/data/colab), `highest` upgrades everything; so the declared ranges
    are true. torch stays at the CPU wheel of this machine, and the session says so.
    """
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
    target = str(PACKAGES_DIR / package)
    if "test" in _pyproject(package)["project"].get("optional-dependencies", {}):
        target += "[test]"  # the test extra resolves freely, but inside the pinned runtime bounds
    session.install(*args, *TEST_TOOLS, *siblings, target)
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
    if info.name.endswith(".__main__"):  # `python -m` entry points run the CLI on import
        continue
    importlib.import_module(info.name)
    count += 1
print(f"{name}: imported {count} modules and {len(package.__all__)} public names")
"""


@nox.session
@nox.parametrize("package", [nox.param(name, id=name) for name in PACKAGES])
@_discard_venv_after
def minimal(session: nox.Session, package: str) -> None:
    """The package without extras imports every public module; optional features name their extra."""
    wanted = [*_local_dependencies(package), package]
    session.install("-c", str(CONSTRAINTS), *[str(PACKAGES_DIR / name) for name in wanted])
    session.run("python", "-c", _IMPORT_EVERY_MODULE, _import_name(package))
    check = PACKAGES_DIR / package / "tests" / "minimal_install_check.py"
    if check.exists():
        session.run("python", str(check))


@nox.session
@_discard_venv_after
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
@_discard_venv_after
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
@_discard_venv_after
def docs(session: nox.Session) -> None:
    """Every ```python block of every README runs, in a venv holding all four packages."""
    _install_packages(session, *PACKAGES, extras="")
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
    _install_packages(session, *PACKAGES, extras="")
    scripts = sorted(PACKAGES_DIR.glob("*/benchmarks/*.py"))
    if not scripts:
        session.skip("no benchmark scripts")
    for script in scripts:
        session.log(f"== {script.relative_to(ROOT)}")
        session.run("python", str(script), *session.posargs)


def _git(session: nox.Session, *args: str) -> str:
    """Run a read-only git command in the repository; a git failure stops the session."""
    result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        session.error(f"git {' '.join(args)} failed ({result.stderr.strip()}); run from a git clone with its tags")
    return result.stdout


def _changelog_section(changelog: str, version: str) -> str | None:
    """The body of the `## <version>` (or `## [<version>]`, optionally `- date`) section, or None."""
    heading = re.compile(rf"^## \[?{re.escape(version)}\]?(?:\s.*)?$", flags=re.M)
    match = heading.search(changelog)
    if match is None:
        return None
    following = re.search(r"^## ", changelog[match.end():], flags=re.M)
    return changelog[match.end(): match.end() + following.start() if following else None]


@nox.session(venv_backend="none")
def release_check(session: nox.Session) -> None:
    """Each package is releasable under the convention described in this module's docstring.

    Fails when: a package's CHANGELOG.md has no non-empty `## <version>` section for its pyproject
    version; its `src/` changed since its last release tag without a version bump; its version is
    lower than the last tagged one; or a sibling's dependency range excludes its current version.
    """
    problems: list[str] = []
    versions = {p: _pyproject(p)["project"]["version"] for p in PACKAGES}
    for package, version in versions.items():
        changelog = (PACKAGES_DIR / package / "CHANGELOG.md").read_text()
        section = _changelog_section(changelog, version)
        if section is None:
            problems.append(
                f"{package}: CHANGELOG.md has no '## {version}' section for the pyproject version; "
                "move the Unreleased entries under it"
            )
        elif not re.search(r"^\s*[-*] ", section, flags=re.M):
            problems.append(f"{package}: CHANGELOG.md's '## {version}' section lists no changes")
        prefix = f"{package}-v"
        tags = [t for t in _git(session, "tag", "--list", f"{prefix}*").split() if _is_version(t[len(prefix):])]
        if not tags:
            session.log(f"{package} {version}: never tagged; this is its first release")
            continue
        last = max(tags, key=lambda t: Version(t[len(prefix):]))
        last_version = Version(last[len(prefix):])
        # Committed and uncommitted changes to the package's source since the tag.
        changed = _git(session, "diff", "--name-only", last, "--", f"packages/{package}/src").split()
        if Version(version) < last_version:
            problems.append(f"{package}: version {version} is lower than the last release tag {last}")
        elif Version(version) == last_version and changed:
            problems.append(
                f"{package}: src changed since {last} ({len(changed)} files) but the version is still "
                f"{version}; bump it in pyproject.toml and move the Unreleased entries under it"
            )
        else:
            session.log(f"{package} {version}: last tag {last}, {len(changed)} src files changed since")
    for package in PACKAGES:
        for requirement in _pyproject(package)["project"].get("dependencies", []):
            dep = _requirement_name(requirement)
            if dep in versions and not Requirement(requirement).specifier.contains(versions[dep], prereleases=True):
                problems.append(
                    f"{package}: requirement '{requirement}' excludes {dep} {versions[dep]}; widen the range"
                )
    for problem in problems:
        session.log(f"PROBLEM {problem}")
    if problems:
        session.error(f"{len(problems)} release problem(s)")


def _is_version(text: str) -> bool:
    try:
        Version(text)
    except InvalidVersion:
        return False
    return True


# ---- Colab front end (notebook, colab, wizard_browser, guides) ----

COLAB_DIR = ROOT.parent / "shared" / "data" / "colab"
COLAB_REQUIREMENTS = ROOT / "requirements-colab.txt"
COLAB_CONSTRAINTS = ROOT / "colab-constraints.txt"
NOTEBOOK_TESTS = ROOT / "notebook_tests"
# Colab's own pip (from the snapshot): its resolver is the one that runs the notebook's install.
COLAB_PIP = "pip==24.1.2"


def _colab_resolution_module():
    sys.path.insert(0, str(NOTEBOOK_TESTS))
    try:
        import colab_resolution
    finally:
        sys.path.remove(str(NOTEBOOK_TESTS))
    return colab_resolution


def _build_local_wheels(session: nox.Session, dest: Path) -> dict[str, Path]:
    """One wheel per package of this repository (what the release tags would install)."""
    session.run("python", "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dest),
                *[str(PACKAGES_DIR / name) for name in PACKAGES])
    wheels = {}
    for name in PACKAGES:
        found = sorted(dest.glob(f"{_import_name(name)}-*.whl"))
        if not found:
            session.error(f"no wheel built for {name} in {dest}")
        wheels[name] = found[-1]
    return wheels


@nox.session
@_discard_venv_after
def colab_constraints(session: nox.Session) -> None:
    """Regenerate `colab-constraints.txt` from the Colab snapshot (run when the snapshot changes)."""
    resolution = _colab_resolution_module()
    freeze = COLAB_DIR / "pip-freeze.gpu.txt"
    if not freeze.exists():
        session.error(f"no Colab snapshot at {freeze}")
    COLAB_CONSTRAINTS.write_text(
        resolution.constraints_text(freeze.read_text(), resolution.snapshot_source(COLAB_DIR))
    )
    session.log(f"wrote {COLAB_CONSTRAINTS.name}")


@nox.session
@_discard_venv_after
def colab(session: nox.Session) -> None:
    """`requirements-colab.txt` installs on Colab (Python 3.13) without changing torch, numpy or any
    other preinstalled package: pip's dry-run report against Colab's preinstalled versions."""
    resolution = _colab_resolution_module()
    freeze = COLAB_DIR / "pip-freeze.gpu.txt"
    if freeze.exists():
        expected = resolution.constraints_text(freeze.read_text(), resolution.snapshot_source(COLAB_DIR))
        if COLAB_CONSTRAINTS.read_text() != expected:
            session.error("colab-constraints.txt is older than the Colab snapshot; run `nox -s colab_constraints`")
    else:
        session.log(f"NOTE no snapshot at {freeze}; using the committed {COLAB_CONSTRAINTS.name}")
    session.install(COLAB_PIP, "build>=1.2", *TEST_TOOLS)
    session.run("python", "-m", "pytest", str(NOTEBOOK_TESTS / "test_colab_resolution.py"), "-p", "no:cacheprovider", "-q")
    work = Path(session.create_tmp())
    wheels = _build_local_wheels(session, work / "wheels")
    versions = {name: _pyproject(name)["project"]["version"] for name in PACKAGES}
    local, problems = resolution.rewrite_local_packages(COLAB_REQUIREMENTS.read_text(), wheels, versions)
    missing = [name for name in PACKAGES if f"{name} @" not in local and f"{name}[" not in local]
    problems += [f"{name}: requirements-colab.txt does not install it" for name in missing]
    if problems:
        session.error("; ".join(problems))
    requirements = work / "requirements-colab.local.txt"
    requirements.write_text(local)
    session.run("python", str(NOTEBOOK_TESTS / "colab_resolution.py"), "--requirements", str(requirements),
                "--constraints", str(COLAB_CONSTRAINTS), "--workdir", str(work))


@nox.session
@nox.parametrize("ipywidgets", ["7.7.1", "8"])
@_discard_venv_after
def wizard(session: nox.Session, ipywidgets: str) -> None:
    """SetupWizard's headless tests under Colab's ipywidgets (7.7.1) and the newest 8.x."""
    session.install("-c", str(CONSTRAINTS), f"ipywidgets=={ipywidgets}" if "." in ipywidgets else f"ipywidgets~={ipywidgets}.0")
    _install_packages(session, "lightning-pipeline", extras="notebook,test")
    session.run("python", "-c", "import ipywidgets; print('ipywidgets', ipywidgets.__version__)")
    session.chdir(PACKAGES_DIR / "lightning-pipeline")
    session.run("python", "-m", "pytest", "tests/test_wizard.py", "--import-mode=importlib", "-p", "no:cacheprovider",
                "-q", *session.posargs)


@nox.session
@_discard_venv_after
def wizard_browser(session: nox.Session) -> None:
    """The wizard in a real browser: Voila on localhost, Playwright driving Debian's chromium through the
    five steps; screenshots in notebook_tests/artifacts/. Needs `apt-get install chromium` (no
    `playwright install`: the browser comes from the system)."""
    chromium = Path(session.env.get("CHROMIUM", "/usr/bin/chromium"))
    if not chromium.exists():
        session.error(f"no chromium at {chromium}: apt-get install -y chromium, or set CHROMIUM=/path/to/it")
    _install_packages(session, "lightning-pipeline", extras="notebook")
    session.install("-c", str(CONSTRAINTS), "voila>=0.5,<0.6", "ipykernel>=6.17", "playwright>=1.40",
                    "nbformat>=5.9")
    session.run("python", "-m", "pytest", str(NOTEBOOK_TESTS / "test_wizard_browser.py"), "-p", "no:cacheprovider",
                "-q", *session.posargs, env={"CHROMIUM": str(chromium)})


@nox.session
@_discard_venv_after
def analysis_browser(session: nox.Session) -> None:
    """The Tier 2 analysis report (`analyze_model(...).to_html`) screenshotted by Debian's headless
    chromium: its inline SVG charts must be what paints the page. Needs `apt-get install chromium`."""
    chromium = Path(session.env.get("CHROMIUM", "/usr/bin/chromium"))
    if not chromium.exists():
        session.error(f"no chromium at {chromium}: apt-get install -y chromium, or set CHROMIUM=/path/to/it")
    _install_packages(session, "model-adapter")
    session.install("-c", str(CONSTRAINTS), "pillow>=9")
    session.run("python", "-m", "pytest", str(NOTEBOOK_TESTS / "test_analysis_browser.py"), "-p", "no:cacheprovider",
                "-q", *session.posargs, env={"CHROMIUM": str(chromium)})


def _install_colab_stack(session: nox.Session) -> None:
    """The four packages (built from this checkout) plus requirements-colab.txt's exact pins: the
    set the notebook's install cell checks for, so that it finds everything installed."""
    resolution = _colab_resolution_module()
    wheels = _build_local_wheels(session, Path(session.create_tmp()) / "wheels")
    versions = {name: _pyproject(name)["project"]["version"] for name in PACKAGES}
    local, problems = resolution.rewrite_local_packages(COLAB_REQUIREMENTS.read_text(), wheels, versions)
    if problems:
        session.error("; ".join(problems))
    requirements = Path(session.create_tmp()) / "requirements-colab.local.txt"
    requirements.write_text(local)
    session.install("-c", str(CONSTRAINTS), "-r", str(requirements))


@nox.session
@_discard_venv_after
def notebook(session: nox.Session) -> None:
    """template.ipynb is generated from notebook/template.py (`nox -s notebook -- --write` rewrites
    it), then executed headless top to bottom on CPU with tiny settings and a google.colab stand-in."""
    session.install("jupytext>=1.16", "nbformat>=5.9", "nbclient>=0.10", "ipykernel>=6.17", *TEST_TOOLS)
    if "--write" in session.posargs:
        session.run("python", str(NOTEBOOK_TESTS / "notebook_build.py"), "--write")
    session.run("python", str(NOTEBOOK_TESTS / "notebook_build.py"), "--check")
    _install_colab_stack(session)
    session.run("python", "-m", "pytest", str(NOTEBOOK_TESTS / "test_notebook_build.py"),
                str(NOTEBOOK_TESTS / "test_notebook.py"), "-p", "no:cacheprovider",
                "-q", "-s", *[arg for arg in session.posargs if arg != "--write"])


@nox.session
@_discard_venv_after
def guides(session: nox.Session) -> None:
    """Every ```bash / ```python block of docs/TRAINING_GUIDE.md, DEPLOYMENT_GUIDE.md,
    TROUBLESHOOTING.md and PLATFORM_RECOMMENDATIONS.md runs, in order, in a venv with the stack."""
    _install_packages(session, *PACKAGES, extras="notebook")
    session.run("python", "-m", "pytest", str(NOTEBOOK_TESTS / "test_guides.py"), "-p", "no:cacheprovider", "-q")
    import shutil

    workdir = Path(session.create_tmp()) / "guides"
    if workdir.exists():
        shutil.rmtree(workdir)
    session.run("python", str(NOTEBOOK_TESTS / "run_guides.py"), str(workdir))
