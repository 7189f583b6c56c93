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

PYTHON_VERSION = "3.13"
# Colab runs Ubuntu 22.04 (glibc 2.35): every manylinux tag up to 2_35 installs there. pip does
# not widen an explicit --platform, so the tags wheels are actually published under are listed.
PLATFORMS = (
    "manylinux_2_35_x86_64", "manylinux_2_34_x86_64", "manylinux_2_28_x86_64",
    "manylinux_2_27_x86_64", "manylinux_2_24_x86_64", "manylinux_2_17_x86_64",
    "manylinux2014_x86_64", "manylinux_2_5_x86_64", "manylinux1_x86_64",
)
# Preinstalled packages whose change would break the runtime or force a restart-heavy reinstall;
# the check fails on any change to a preinstalled package, these are named first in its output.
CORE = ("torch", "numpy", "transformers", "tokenizers", "datasets", "huggingface-hub",
        "ipywidgets", "matplotlib", "protobuf", "pandas", "pyarrow")
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
    stamp = (colab_dir / "SNAPSHOT").read_text().split() if (colab_dir / "SNAPSHOT").exists() else ["?", "?"]
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
            digest = base64.urlsafe_b64encode(hashlib.sha256(content.encode()).digest()).rstrip(b"=")
            record.append(f"{path},sha256={digest.decode()},{len(content.encode())}")
        record.append(f"{dist}.dist-info/RECORD,,")
        files[f"{dist}.dist-info/RECORD"] = "\n".join(record) + "\n"
        wheel = dest / f"{dist}-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as archive:
            for path, content in files.items():
                archive.writestr(path, content)
        written.append(wheel)
    return written


def check_report(report: dict, preinstalled: dict[str, str]) -> tuple[list[str], list[str], list[str]]:
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
            problems.append(f"{name}: Colab has {preinstalled[name]}, the install would put {version}{core}")
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
        for entry in added if entry.split("==")[0] not in pinned
    ]


def rewrite_local_packages(requirements: str, wheels: dict[str, Path], versions: dict[str, str]) -> tuple[str, list[str]]:
    """Swap the git-URL lines of the four packages for locally built wheels.

    Returns the rewritten text and problems: a tag whose version is not the package's version.
    """
    out: list[str] = []
    problems: list[str] = []
    for line in requirements.splitlines():
        match = re.match(r"^([A-Za-z0-9._-]+)(\[[^\]]*\])?\s*@\s*git\+\S+@(\S+?)#subdirectory=(\S+)", line.strip())
        if not match:
            out.append(line)
            continue
        name, extras, tag = normalize(match.group(1)), match.group(2) or "", match.group(3)
        if name not in wheels:
            problems.append(f"{name}: requirements-colab.txt names a package this repository does not hold")
            continue
        expected = f"{name}-v{versions[name]}"
        if tag != expected:
            problems.append(
                f"{name}: requirements-colab.txt installs tag {tag} but the package is {versions[name]}; "
                f"change the tag to {expected}"
            )
        out.append(f"{name}{extras} @ {wheels[name].resolve().as_uri()}")
    return "\n".join(out) + "\n", problems


def resolve(requirements: Path, constraints: Path, stubs: Path, report: Path, pip: list[str]) -> subprocess.CompletedProcess:
    """pip's resolution for Colab (nothing is installed: `--dry-run` into a throw-away target)."""
    command = [
        *pip, "install", "--dry-run", "--ignore-installed", "--target", str(report.parent / "target"),
        "--report", str(report), "--python-version", PYTHON_VERSION,
        "--implementation", "cp", "--only-binary=:all:",
        *[arg for platform in PLATFORMS for arg in ("--platform", platform)],
        "--find-links", str(stubs), "-c", str(constraints), "-r", str(requirements),
    ]
    return subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requirements", type=Path, required=True, help="requirements file (local wheels already swapped in)")
    parser.add_argument("--constraints", type=Path, required=True, help="colab-constraints.txt")
    parser.add_argument("--workdir", type=Path, required=True, help="scratch folder for stubs and the report")
    args = parser.parse_args(argv)

    preinstalled = read_freeze(args.constraints.read_text())
    stubs = args.workdir / "colab-builds"
    write_stub_wheels(preinstalled, stubs)
    report_path = args.workdir / "pip-report.json"
    result = resolve(args.requirements, args.constraints, stubs, report_path, [sys.executable, "-m", "pip"])
    if result.returncode != 0:
        output = result.stdout.splitlines()
        start = next((i for i, line in enumerate(output) if line.startswith("ERROR")), max(len(output) - 25, 0))
        print("\n".join(line for line in output[start:] if not line.startswith("WARNING: Location")), file=sys.stderr)
        print("FAIL: pip found no resolution against Colab's preinstalled versions (conflict above).", file=sys.stderr)
        return 1
    unchanged, added, problems = check_report(json.loads(report_path.read_text()), preinstalled)
    problems += unpinned_additions(added, args.requirements.read_text())
    print(f"already on Colab, left as they are ({len(unchanged)}): {', '.join(sorted(unchanged))}")
    print(f"added on top of Colab ({len(added)}): {', '.join(sorted(added))}")
    for name in ("torch", "numpy"):
        print(f"{name}: stays {preinstalled.get(name)}")
    if problems:
        print("FAIL: the install would change preinstalled packages:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    print(f"OK: installs on Colab (Python {PYTHON_VERSION}) without changing any preinstalled package.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
