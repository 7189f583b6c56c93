"""The release check on throwaway git repositories: what a fresh clone (no tags) must catch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from release_check import GitError, bump_commit, check

PYPROJECT = """[project]
name = "{name}"
version = "{version}"
dependencies = [{deps}]
"""


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


def _write_package(
    repo: Path, name: str, version: str, deps: str = "", changelog: str | None = None
) -> None:
    folder = repo / "packages" / name
    (folder / "src" / name.replace("-", "_")).mkdir(parents=True, exist_ok=True)
    (folder / "pyproject.toml").write_text(PYPROJECT.format(name=name, version=version, deps=deps))
    if changelog is None:
        changelog = f"# Changelog\n\n## Unreleased\n\n## {version}\n\n- First release.\n"
    (folder / "CHANGELOG.md").write_text(changelog)


def _commit(repo: Path, message: str) -> str:
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", message)
    return _git(repo, "rev-parse", "HEAD").strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A released monorepo: two packages, versions set, src committed in the same commit."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "test@example.com")
    _git(repo, "config", "user.name", "test")
    _write_package(repo, "model-adapter", "0.1.0")
    (repo / "packages/model-adapter/src/model_adapter/__init__.py").write_text("VALUE = 1\n")
    _write_package(repo, "model-export", "0.2.0", deps='"model-adapter>=0.1,<0.2"')
    (repo / "packages/model-export/src/model_export/__init__.py").write_text("")
    _commit(repo, "release both")
    return repo


def test_a_released_repository_passes(repo: Path) -> None:
    notes, problems = check(repo)
    assert problems == []
    assert any(note.startswith("model-adapter 0.1.0: set in") for note in notes)


def test_a_committed_src_change_without_a_bump_fails_naming_package_and_file(repo: Path) -> None:
    (repo / "packages/model-adapter/src/model_adapter/__init__.py").write_text("VALUE = 2\n")
    _commit(repo, "change behaviour, forget the bump")
    _, problems = check(repo)
    assert len(problems) == 1
    assert problems[0].startswith("model-adapter: src changed since version 0.1.0 was set in ")
    assert "src/model_adapter/__init__.py" in problems[0]
    assert "bump `version` in packages/model-adapter/pyproject.toml" in problems[0]


def test_an_uncommitted_src_change_fails_too(repo: Path) -> None:
    (repo / "packages/model-export/src/model_export/new.py").write_text("")
    _git(repo, "add", "packages/model-export/src/model_export/new.py")
    _, problems = check(repo)
    assert [p.split(":")[0] for p in problems] == ["model-export"]


def test_a_change_outside_src_needs_no_bump(repo: Path) -> None:
    (repo / "packages/model-adapter/README.md").write_text("docs\n")
    _commit(repo, "docs only")
    assert check(repo)[1] == []


def test_a_bump_after_the_change_passes_and_is_found_as_the_bump_commit(repo: Path) -> None:
    (repo / "packages/model-adapter/src/model_adapter/__init__.py").write_text("VALUE = 2\n")
    _commit(repo, "change")
    _write_package(
        repo,
        "model-adapter",
        "0.1.1",
        changelog="# Changelog\n\n## Unreleased\n\n## 0.1.1\n\n- VALUE is 2.\n\n## 0.1.0\n\n- First.\n",
    )
    bumped = _commit(repo, "model-adapter 0.1.1")
    assert bump_commit(repo, "model-adapter").commit == bumped
    assert bump_commit(repo, "model-adapter").previous == "0.1.0"
    assert check(repo)[1] == []


def test_a_bump_in_the_working_tree_is_a_pending_release(repo: Path) -> None:
    (repo / "packages/model-adapter/src/model_adapter/__init__.py").write_text("VALUE = 2\n")
    _commit(repo, "change")
    _write_package(
        repo, "model-adapter", "0.1.1", changelog="# Changelog\n\n## 0.1.1\n\n- VALUE is 2.\n"
    )
    notes, problems = check(repo)
    assert problems == []
    assert "model-adapter 0.1.1: version not committed yet (release pending)" in notes


def test_version_going_down_changelog_and_sibling_range_are_named(repo: Path) -> None:
    _write_package(repo, "model-adapter", "0.0.9", changelog="# Changelog\n\n## Unreleased\n")
    _commit(repo, "bad release")
    _write_package(
        repo,
        "model-export",
        "0.3.0",
        deps='"model-adapter>=0.1,<0.2"',
        changelog="# Changelog\n\n## 0.3.0\n\nnothing listed\n",
    )
    _commit(repo, "model-export 0.3.0")
    problems = check(repo)[1]
    assert "model-adapter: version went down from 0.1.0 to 0.0.9" in problems[1]
    assert problems[0].startswith("model-adapter: CHANGELOG.md has no '## 0.0.9' section")
    assert "model-export: CHANGELOG.md's '## 0.3.0' section lists no changes" in problems
    assert (
        "model-export: requirement 'model-adapter>=0.1,<0.2' excludes model-adapter 0.0.9; widen the range"
        in problems
    )


def test_a_shallow_clone_is_refused_with_the_fix(repo: Path, tmp_path: Path) -> None:
    (repo / "packages/model-adapter/src/model_adapter/__init__.py").write_text("VALUE = 2\n")
    _commit(repo, "change")
    shallow = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", repo.as_uri(), str(shallow)], check=True)
    with pytest.raises(GitError, match="git fetch --unshallow"):
        check(shallow)


def test_the_command_exits_1_and_prints_the_problem(repo: Path) -> None:
    (repo / "packages/model-adapter/src/model_adapter/__init__.py").write_text("VALUE = 2\n")
    _commit(repo, "change")
    script = Path(__file__).resolve().parents[1] / "release_check.py"
    result = subprocess.run(
        [sys.executable, str(script), "--root", str(repo)], capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "PROBLEM model-adapter: src changed since version 0.1.0" in result.stderr


def test_one_package_is_checked_alone_for_its_release(repo: Path) -> None:
    (repo / "packages/model-export/src/model_export/__init__.py").write_text("X = 1\n")
    _commit(repo, "model-export changes, not released now")
    assert check(repo, only="model-adapter")[1] == []
    assert [p.split(":")[0] for p in check(repo, only="model-export")[1]] == ["model-export"]
    with pytest.raises(GitError, match="no package 'nope'"):
        check(repo, only="nope")
