"""Prove that `requirements-colab.txt` installs on top of Colab's runtime without changing it.

Colab's GPU runtime comes with torch, numpy, transformers and ~700 other packages preinstalled.
Reinstalling any of them (torch above all: a multi-GB CUDA build) breaks the runtime, so the
notebook may only *add* packages. This script turns the published `pip freeze` of the runtime
into a constraints file, asks pip for a resolution of `requirements-colab.txt` for Colab's
interpreter and platform (`--dry-run --report`, Python 3.13, manylinux, wheels only), and reads
the JSON report: every package that pip would install must either be new to Colab or be exactly
the version Colab already has.

Colab's torch is `2.11.0+cu128` from download.pytorch.org; the local label `+cu128` is not on
PyPI, where `torch==2.11.0` is a different (CUDA 13) build with other dependencies. The runtime
already holds that build, so for each preinstalled package with a local label this script writes
a metadata-only stub wheel (`torch-2.11.0+cu128-py3-none-any.whl`, no dependencies: Colab has
them installed) and hands it to pip with `--find-links`. The constraint `torch==2.11.0+cu128`
then resolves to "the torch Colab already has", which is what pip does on Colab itself (a
specifier without a local label, such as lightning's `torch>=2.1`, is satisfied by it).

The four packages of this repository are pinned by exact version (`model-adapter==0.1.0`), as
a user installs them from the Python Package Index; the nox session `colab` serves wheels built
from the checkout on a local index (`tools/local_index.py`) and passes it as `--extra-index-url`,
so the lines resolved are the lines a user runs.

Used by the nox session `colab`; run it by hand as
`python notebook_tests/colab_resolution.py --help`.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON_VERSION = "3.13"
# Colab runs Ubuntu 22.04 (glibc 2.35): every manylinux tag up to 2_35 installs there. pip does
# not widen an explicit --platform, so the tags wheels are actually published under are listed.
PLATFORMS = (
    "manylinux_2_35_x86_64",
    "manylinux_2_34_x86_64",
    "manylinux_2_28_x86_64",
    "manylinux_2_27_x86_64",
    "manylinux_2_24_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
    "manylinux_2_5_x86_64",
    "manylinux1_x86_64",
)
# Preinstalled packages whose change would break the runtime or force a restart-heavy reinstall;
# the check fails on any change to a preinstalled package, these are named first in its output.
CORE = (
    "torch",
    "numpy",
    "transformers",
    "tokenizers",
    "datasets",
    "huggingface-hub",
    "ipywidgets",
    "matplotlib",
    "protobuf",
    "pandas",
    "pyarrow",
)
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)")


def normalize(name: str) -> str:
    """PEP 503 name: what pip compares names by."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_freeze(text: str) -> dict[str, str]:
    """`name==version` lines of a `pip freeze` (URL and comment lines skipped), by normalized name."""
    pins: dict[str, str] = {}
    for line in text.splitlines():
        match = _PIN.match(line.strip())
        if match:
            pins[normalize(match.group(1))] = match.group(2)
    return pins


def snapshot_source(colab_dir: Path) -> str:
    """How the constraints header names the snapshot: its path and the SNAPSHOT stamp."""
    stamp = (
        (colab_dir / "SNAPSHOT").read_text().split()
        if (colab_dir / "SNAPSHOT").exists()
        else ["?", "?"]
    )
    return f"../shared/data/colab/pip-freeze.gpu.txt (snapshot {stamp[0][:12]} of {stamp[1]})"


def constraints_text(freeze_text: str, source: str) -> str:
    """The committed `colab-constraints.txt`: Colab's preinstalled versions, verbatim."""
    header = [
        "# Colab GPU runtime's preinstalled packages, pinned to the versions it ships.",
        f"# Generated from {source} by `nox -s colab_constraints`; do not edit by hand.",
        "# `nox -s colab` resolves requirements-colab.txt against it (see notebook_tests/colab_resolution.py).",
        "# Versions with a local label (torch==2.11.0+cu128) are Colab's own builds, not on PyPI.",
    ]
    lines = [f"{name}=={version}" for name, version in sorted(read_freeze(freeze_text).items())]
    return "\n".join([*header, *lines]) + "\n"


def write_stub_wheels(pins: dict[str, str], dest: Path) -> list[Path]:
    """A metadata-only wheel for each pinned version with a local label (Colab's own builds)."""
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for name, version in sorted(pins.items()):
        if "+" not in version:
            continue
        dist = f"{name.replace('-', '_')}-{version}"
        files = {
            f"{dist}.dist-info/METADATA": (
                f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                "Summary: stand-in for the build preinstalled on Colab (metadata only)\n"
            ),
            f"{dist}.dist-info/WHEEL": (
                "Wheel-Version: 1.0\nGenerator: colab_resolution\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
            ),
        }
        record = []
        for path, content in files.items():
            digest = base64.urlsafe_b64encode(hashlib.sha256(content.encode()).digest()).rstrip(
                b"="
            )
            record.append(f"{path},sha256={digest.decode()},{len(content.encode())}")
        record.append(f"{dist}.dist-info/RECORD,,")
        files[f"{dist}.dist-info/RECORD"] = "\n".join(record) + "\n"
        wheel = dest / f"{dist}-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as archive:
            for path, content in files.items():
                archive.writestr(path, content)
        written.append(wheel)
    return written


def check_report(
    report: dict, preinstalled: dict[str, str]
) -> tuple[list[str], list[str], list[str]]:
    """Split pip's `--report` into (unchanged, added, problems).

    unchanged: packages pip picked at exactly Colab's version (nothing happens on Colab);
    added: packages Colab does not have; problems: a preinstalled package at another version.
    """
    unchanged: list[str] = []
    added: list[str] = []
    problems: list[str] = []
    for item in report.get("install", []):
        name = normalize(item["metadata"]["name"])
        version = item["metadata"]["version"]
        entry = f"{name}=={version}"
        if name not in preinstalled:
            added.append(entry)
        elif preinstalled[name] == version:
            unchanged.append(entry)
        else:
            core = " (core package)" if name in CORE else ""
            problems.append(
                f"{name}: Colab has {preinstalled[name]}, the install would put {version}{core}"
            )
    problems.sort(key=lambda p: p.split(":")[0] not in CORE)
    return unchanged, added, problems


def unpinned_additions(added: list[str], requirements: str) -> list[str]:
    """Packages the install adds that the requirements file does not pin exactly (or install by URL)."""
    pinned = set()
    for line in requirements.splitlines():
        match = re.match(r"^([A-Za-z0-9._-]+)(\[[^\]]*\])?\s*(==|@)", line.strip())
        if match:
            pinned.add(normalize(match.group(1)))
    return [
        f"{entry}: added to Colab but not pinned in the requirements file; add the line `{entry}`"
        for entry in added
        if entry.split("==")[0] not in pinned
    ]


STACK = ("model-adapter", "adaptive-tokenizer", "lightning-pipeline", "model-export")
_STACK_LINE = re.compile(
    r"^(?P<name>[A-Za-z0-9._-]+)(?P<extras>\[[^\]]*\])?\s*==\s*(?P<version>[^\s;#]+)"
)
UPDATE_COMMAND = "python notebook_tests/notebook_build.py --write"


def stack_versions(root: Path) -> dict[str, str]:
    """The four packages' versions, from their one source: `packages/<dist>/pyproject.toml`."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    return {
        name: str(
            tomllib.loads((root / "packages" / name / "pyproject.toml").read_text())["project"][
                "version"
            ]
        )
        for name in STACK
    }


def stack_pin_problems(
    requirements: str, versions: dict[str, str], label: str = "requirements-colab.txt"
) -> list[str]:
    """Each of the four packages is pinned exactly once, `==` its pyproject version (by name, never a URL)."""
    problems: list[str] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(requirements.splitlines(), start=1):
        stripped = line.strip()
        name = re.match(r"^[A-Za-z0-9._-]+", stripped)
        if not name or normalize(name.group(0)) not in versions:
            continue
        package = normalize(name.group(0))
        seen[package] = seen.get(package, 0) + 1
        match = _STACK_LINE.match(stripped)
        if match is None:
            problems.append(
                f"{label} line {number}: `{stripped}` must pin {package} by exact version "
                f"(`{package}=={versions[package]}`); run `{UPDATE_COMMAND}`"
            )
        elif match.group("version") != versions[package]:
            problems.append(
                f"{label} line {number}: pins {package}=={match.group('version')} but "
                f"packages/{package}/pyproject.toml says {versions[package]}; run `{UPDATE_COMMAND}`"
            )
    problems += [
        f"{label}: does not install {package}; add the line `{package}=={version}`"
        for package, version in versions.items()
        if package not in seen
    ]
    problems += [
        f"{label}: installs {package} {count} times; keep one line"
        for package, count in seen.items()
        if count > 1
    ]
    return problems


def sync_stack_pins(requirements: str, versions: dict[str, str]) -> str:
    """`requirements` with each `<package>[extras]==X` line of the four packages set to its pyproject version."""

    def pin(match: re.Match[str]) -> str:
        package = normalize(match.group("name"))
        if package not in versions:
            return match.group(0)
        return f"{match.group('name')}{match.group('extras') or ''}=={versions[package]}"

    return "\n".join(_STACK_LINE.sub(pin, line) for line in requirements.splitlines()) + "\n"


def resolve(
    requirements: Path,
    constraints: Path,
    stubs: Path,
    report: Path,
    pip: list[str],
    extra_index_url: str | None = None,
) -> subprocess.CompletedProcess:
    """pip's resolution for Colab (nothing is installed: `--dry-run` into a throw-away target).

    `extra_index_url`: where the four packages are found by name, next to the machine's own
    index (a local stand-in for PyPI in tests; None once they are on PyPI).
    """
    command = [
        *pip,
        "install",
        "--dry-run",
        "--ignore-installed",
        "--target",
        str(report.parent / "target"),
        "--report",
        str(report),
        "--python-version",
        PYTHON_VERSION,
        "--implementation",
        "cp",
        "--only-binary=:all:",
        *[arg for platform in PLATFORMS for arg in ("--platform", platform)],
        "--find-links",
        str(stubs),
        "-c",
        str(constraints),
        "-r",
        str(requirements),
        *(["--extra-index-url", extra_index_url] if extra_index_url else []),
    ]
    return subprocess.run(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requirements", type=Path, required=True, help="requirements-colab.txt")
    parser.add_argument("--constraints", type=Path, required=True, help="colab-constraints.txt")
    parser.add_argument(
        "--workdir", type=Path, required=True, help="scratch folder for stubs and the report"
    )
    parser.add_argument(
        "--extra-index-url", help="an index holding the four packages (the local stand-in for PyPI)"
    )
    args = parser.parse_args(argv)

    pins = stack_pin_problems(args.requirements.read_text(), stack_versions(ROOT))
    if pins:
        print("FAIL: " + "\n  ".join(pins), file=sys.stderr)
        return 1
    preinstalled = read_freeze(args.constraints.read_text())
    stubs = args.workdir / "colab-builds"
    write_stub_wheels(preinstalled, stubs)
    report_path = args.workdir / "pip-report.json"
    result = resolve(
        args.requirements,
        args.constraints,
        stubs,
        report_path,
        [sys.executable, "-m", "pip"],
        args.extra_index_url,
    )
    if result.returncode != 0:
        output = result.stdout.splitlines()
        start = next(
            (i for i, line in enumerate(output) if line.startswith("ERROR")),
            max(len(output) - 25, 0),
        )
        print(
            "\n".join(line for line in output[start:] if not line.startswith("WARNING: Location")),
            file=sys.stderr,
        )
        print(
            "FAIL: pip found no resolution against Colab's preinstalled versions (conflict above).",
            file=sys.stderr,
        )
        return 1
    unchanged, added, problems = check_report(json.loads(report_path.read_text()), preinstalled)
    problems += unpinned_additions(added, args.requirements.read_text())
    print(f"already on Colab, left as they are ({len(unchanged)}): {', '.join(sorted(unchanged))}")
    print(f"added on top of Colab ({len(added)}): {', '.join(sorted(added))}")
    for name in ("torch", "numpy"):
        print(f"{name}: stays {preinstalled.get(name)}")
    if problems:
        print(
            "FAIL: the install would change preinstalled packages:\n  " + "\n  ".join(problems),
            file=sys.stderr,
        )
        return 1
    print(
        f"OK: installs on Colab (Python {PYTHON_VERSION}) without changing any preinstalled package."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
