"""Build, check and smoke-install one package exactly as a release does (everything but the upload).

    python tools/release_build.py model-adapter [--outdir dist/model-adapter] [--pip-arg=...]
    python tools/release_build.py --tag model-adapter-v0.1.0     # what the release workflow runs

Steps, each failing with a one-line reason:
1. the tag (when given) names a package of `packages/` and equals its pyproject version;
2. `python -m build` writes the sdist and the wheel into `--outdir` (default `dist/<dist>/`;
   earlier artifacts of that package there are replaced, nothing else is touched);
3. `twine check --strict` on both; the wheel ships `py.typed`;
4. a clean venv installs `<dist>==<version>` by name, the wheel coming from `--outdir` and its
   dependencies from the index (`--pip-arg` adds pip options: the CPU torch index, a
   constraints file, the local index holding unreleased siblings), then `tools/import_check.py`
   imports every module from the installed wheel.

The files left in `--outdir` are exactly the files `.github/workflows/release.yml` uploads.
Needs `build` and `twine` in the running interpreter.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PACKAGES_DIR = ROOT / "packages"


class ReleaseError(RuntimeError):
    """A release step failed; the message says which and what to do."""


def _version(package: str) -> str:
    return str(
        tomllib.loads((PACKAGES_DIR / package / "pyproject.toml").read_text())["project"]["version"]
    )


def package_of_tag(tag: str) -> str:
    """`model-adapter-v0.1.0` -> `model-adapter`, checked against the package's pyproject version."""
    match = re.fullmatch(r"(?P<dist>[a-z0-9-]+)-v(?P<version>\d[^\s]*)", tag)
    if match is None or not (PACKAGES_DIR / match["dist"] / "pyproject.toml").is_file():
        known = ", ".join(sorted(p.parent.name for p in PACKAGES_DIR.glob("*/pyproject.toml")))
        raise ReleaseError(
            f"tag {tag!r} is not <dist>-v<version> for a package of this repository ({known})"
        )
    if _version(match["dist"]) != match["version"]:
        raise ReleaseError(
            f"tag {tag} does not match packages/{match['dist']}/pyproject.toml version "
            f'{_version(match["dist"])}; tag the commit that sets version = "{match["version"]}"'
        )
    return match["dist"]


def _run(*command: str) -> None:
    print("+ " + " ".join(command), flush=True)
    if subprocess.run(command, check=False).returncode != 0:
        raise ReleaseError(f"step failed: {' '.join(command)}")


def build_and_check(package: str, outdir: Path, pip_args: list[str]) -> list[Path]:
    """Steps 2-4 of the module docstring; returns the sdist and wheel paths."""
    version = _version(package)
    stem = package.replace("-", "_")
    outdir.mkdir(parents=True, exist_ok=True)
    for old in [*outdir.glob(f"{stem}-*.whl"), *outdir.glob(f"{stem}-*.tar.gz")]:
        old.unlink()
    _run(
        sys.executable,
        "-m",
        "build",
        "--sdist",
        "--wheel",
        "--outdir",
        str(outdir),
        str(PACKAGES_DIR / package),
    )
    wheel = outdir / f"{stem}-{version}-py3-none-any.whl"
    sdist = outdir / f"{stem}-{version}.tar.gz"
    for artifact in (wheel, sdist):
        if not artifact.is_file():
            raise ReleaseError(f"expected {artifact.name} in {outdir} after the build")
    _run(sys.executable, "-m", "twine", "check", "--strict", str(sdist), str(wheel))
    with zipfile.ZipFile(wheel) as archive:
        if f"{stem}/py.typed" not in archive.namelist():
            raise ReleaseError(
                f"{wheel.name} does not ship {stem}/py.typed; keep the marker file in src/{stem}/"
            )
    with tempfile.TemporaryDirectory(prefix=f"release-{package}-") as tmp:
        venv = Path(tmp) / "venv"
        _run(sys.executable, "-m", "venv", str(venv))
        python = str(venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python"))
        _run(
            python,
            "-m",
            "pip",
            "install",
            "-q",
            "--only-binary",
            package,
            "--find-links",
            str(outdir),
            *pip_args,
            f"{package}=={version}",
        )
        _run(python, str(ROOT / "tools" / "import_check.py"), stem)
    return [sdist, wheel]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("package", nargs="?", help="distribution name, for example model-adapter")
    which.add_argument(
        "--tag", help="a release tag <dist>-v<version> (the workflow passes the pushed tag)"
    )
    parser.add_argument("--outdir", type=Path, help="where the artifacts go (default dist/<dist>/)")
    parser.add_argument(
        "--pip-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="an extra pip option for the clean-venv install (repeatable; --pip-arg=--extra-index-url=URL)",
    )
    args = parser.parse_args(argv)
    try:
        package = package_of_tag(args.tag) if args.tag else args.package
        if not (PACKAGES_DIR / package / "pyproject.toml").is_file():
            raise ReleaseError(f"no package {package!r} under packages/")
        outdir = args.outdir or ROOT / "dist" / package
        files = build_and_check(package, outdir.resolve(), args.pip_arg)
    except ReleaseError as error:
        print(f"release_build: {error}", file=sys.stderr)
        return 2
    print(f"ready to upload ({package} {_version(package)}):")
    for file in files:
        print(f"  {file}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
