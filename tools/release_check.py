"""Is every package releasable? The release convention, checked from the history a clone has.

Release convention (the `release_check` nox session runs this module):

- Each package under `packages/` is versioned on its own. Its one version source is `version`
  in its `pyproject.toml`; its `CHANGELOG.md` collects changes under `## Unreleased` as they
  are made.
- To release a package: bump `version`, move the Unreleased entries under a new
  `## <version>` heading, make sure every sibling that depends on it still admits the new
  version in its range (`model-adapter>=0.1,<0.2` style), commit, then push the tag
  `<dist>-v<version>` (for example `model-adapter-v0.1.0`; the dist name, not the import name):
  `.github/workflows/release.yml` builds and publishes that one package.

The check needs no tags (a fresh clone has none): the *bump commit* of a package is the newest
commit that changed the `version` in its pyproject.toml. A problem is reported when:

- any file under `packages/<p>/src` changed after the bump commit (committed or not) while the
  version is still the bumped one: the released artifact would differ from the code;
- the version went down at the bump;
- the CHANGELOG has no non-empty `## <version>` section for the current version;
- a sibling's dependency range excludes the current version.

    python tools/release_check.py [--root PATH] [--package DIST]   # exit 1, one line per problem
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import InvalidVersion, Version

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["Bump", "GitError", "bump_commit", "check", "main"]


class GitError(RuntimeError):
    """The check cannot run (git failed, a shallow clone, an unknown package); the message says what to do."""


@dataclass(frozen=True)
class Bump:
    """The newest commit that changed a package's version, and the version before it (None: new package)."""

    commit: str
    version: str
    previous: str | None


def _git(root: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise GitError(f"git {' '.join(args)} failed in {root}: {result.stderr.strip()}")
    return result.stdout


def _version_in(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return str(tomllib.loads(text)["project"]["version"])
    except (tomllib.TOMLDecodeError, KeyError):
        return None


def _file_at(root: Path, commit: str, path: str) -> str | None:
    result = subprocess.run(
        ["git", "show", f"{commit}:{path}"], cwd=root, capture_output=True, text=True, check=False
    )
    return result.stdout if result.returncode == 0 else None


def bump_commit(root: Path, package: str) -> Bump | None:
    """The newest commit whose change to `packages/<package>/pyproject.toml` changed `version`.

    None when the file was never committed. Raises GitError in a shallow clone (its oldest commit
    would look like a bump and hide every later src change).
    """
    if _git(root, "rev-parse", "--is-shallow-repository").strip() == "true":
        raise GitError(
            "this clone is shallow, so the commit that set each version may be missing; "
            "run `git fetch --unshallow` (CI: actions/checkout with fetch-depth: 0)"
        )
    path = f"packages/{package}/pyproject.toml"
    for commit in _git(root, "log", "--format=%H", "--", path).split():
        version = _version_in(_file_at(root, commit, path))
        parents = _git(root, "rev-list", "--parents", "-n", "1", commit).split()[1:]
        previous = [_version_in(_file_at(root, parent, path)) for parent in parents] or [None]
        if version is not None and version not in previous:
            return Bump(commit, version, previous[0])
    return None


def _changelog_section(changelog: str, version: str) -> str | None:
    """The body of the `## <version>` (or `## [<version>]`, optionally `- date`) section, or None."""
    heading = re.compile(rf"^## \[?{re.escape(version)}\]?(?:\s.*)?$", flags=re.M)
    match = heading.search(changelog)
    if match is None:
        return None
    following = re.search(r"^## ", changelog[match.end() :], flags=re.M)
    return changelog[match.end() : match.end() + following.start() if following else None]


def _pyproject(root: Path, package: str) -> dict:
    return tomllib.loads((root / "packages" / package / "pyproject.toml").read_text())


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", Requirement(requirement).name).lower()


def check(root: Path, only: str | None = None) -> tuple[list[str], list[str]]:
    """(notes, problems) for every package under `root/packages`, or for `only` (its own checks and
    the sibling ranges on it: what releasing that one package needs); no problems means releasable."""
    notes: list[str] = []
    problems: list[str] = []
    packages = sorted(p.parent.name for p in (root / "packages").glob("*/pyproject.toml"))
    if only is not None and only not in packages:
        raise GitError(
            f"no package {only!r} under {root / 'packages'} (packages: {', '.join(packages)})"
        )
    versions = {p: str(_pyproject(root, p)["project"]["version"]) for p in packages}
    for package, version in versions.items():
        if only is not None and package != only:
            continue
        changelog_path = root / "packages" / package / "CHANGELOG.md"
        section = (
            _changelog_section(changelog_path.read_text(), version)
            if changelog_path.exists()
            else None
        )
        if section is None:
            problems.append(
                f"{package}: CHANGELOG.md has no '## {version}' section for the pyproject version; "
                "move the Unreleased entries under it"
            )
        elif not re.search(r"^\s*[-*] ", section, flags=re.M):
            problems.append(f"{package}: CHANGELOG.md's '## {version}' section lists no changes")

        bump = bump_commit(root, package)
        if bump is None or bump.version != version:
            # Never committed, or bumped in the working tree and not committed yet: the release
            # commit is still to come, so nothing released can differ from it.
            notes.append(f"{package} {version}: version not committed yet (release pending)")
            continue
        if (
            bump.previous is not None
            and _is_version(bump.previous)
            and Version(version) < Version(bump.previous)
        ):
            problems.append(
                f"{package}: version went down from {bump.previous} to {version} in {bump.commit[:12]}"
            )
        changed = _git(
            root, "diff", "--name-only", bump.commit, "--", f"packages/{package}/src"
        ).split()
        if changed:
            shown = ", ".join(path.removeprefix(f"packages/{package}/") for path in changed[:8])
            more = f" and {len(changed) - 8} more" if len(changed) > 8 else ""
            problems.append(
                f"{package}: src changed since version {version} was set in {bump.commit[:12]} "
                f"({len(changed)} files: {shown}{more}) but the version is still {version}; "
                f"bump `version` in packages/{package}/pyproject.toml and move the Unreleased entries "
                "of its CHANGELOG.md under the new version"
            )
        else:
            notes.append(f"{package} {version}: set in {bump.commit[:12]}, src unchanged since")
    for package in packages:
        for requirement in _pyproject(root, package)["project"].get("dependencies", []):
            dep = _name(requirement)
            if only is not None and only not in (package, dep):
                continue
            if dep in versions and not Requirement(requirement).specifier.contains(
                versions[dep], prereleases=True
            ):
                problems.append(
                    f"{package}: requirement '{requirement}' excludes {dep} {versions[dep]}; widen the range"
                )
    return notes, problems


def _is_version(text: str) -> bool:
    try:
        Version(text)
    except InvalidVersion:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--root",
        type=Path,
        default=Path(__file__).resolve().parent.parent,
        help="the monorepo's root (a git clone with full history)",
    )
    parser.add_argument(
        "--package", help="check only what releasing this package needs (the release workflow)"
    )
    args = parser.parse_args(argv)
    try:
        notes, problems = check(args.root, args.package)
    except GitError as error:
        print(f"release_check: {error}", file=sys.stderr)
        return 2
    for note in notes:
        print(note)
    for problem in problems:
        print(f"PROBLEM {problem}", file=sys.stderr)
    if problems:
        print(
            f"{len(problems)} release problem(s); the convention is in tools/release_check.py",
            file=sys.stderr,
        )
        return 1
    print("every package is releasable")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
