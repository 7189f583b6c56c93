"""The local simple index serves wheels by name and version to a real pip."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from local_index import project_name, serve, write_index


def _wheel(folder: Path, name: str, version: str) -> Path:
    """A metadata-only wheel (pip only needs METADATA and WHEEL to resolve and download it)."""
    dist = f"{name.replace('-', '_')}-{version}"
    wheel = folder / f"{dist}-py3-none-any.whl"
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(
            f"{dist}.dist-info/METADATA",
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        )
        archive.writestr(
            f"{dist}.dist-info/WHEEL",
            "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        archive.writestr(f"{dist}.dist-info/RECORD", "")
    return wheel


def test_project_names_are_normalized() -> None:
    assert project_name(Path("model_adapter-0.1.0-py3-none-any.whl")) == "model-adapter"


def test_pip_finds_the_pinned_version_by_name(tmp_path: Path) -> None:
    wheels = [
        _wheel(tmp_path / "built", "tb-probe", "0.1.0"),
        _wheel(tmp_path / "built", "tb-probe", "0.2.0"),
    ]
    write_index(wheels, tmp_path / "index")
    with serve(tmp_path / "index") as url:
        assert url.startswith("http://127.0.0.1:") and url.endswith("/simple/")
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--isolated",
                "--no-deps",
                "--no-cache-dir",
                "--index-url",
                url,
                "--dest",
                str(tmp_path / "got"),
                "tb-probe==0.1.0",
            ],
            capture_output=True,
            text=True,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert [p.name for p in (tmp_path / "got").iterdir()] == ["tb_probe-0.1.0-py3-none-any.whl"]


def test_a_version_the_index_lacks_is_not_found(tmp_path: Path) -> None:
    write_index([_wheel(tmp_path / "built", "tb-probe", "0.1.0")], tmp_path / "index")
    with serve(tmp_path / "index") as url:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--isolated",
                "--no-deps",
                "--no-cache-dir",
                "--index-url",
                url,
                "--dest",
                str(tmp_path / "got"),
                "tb-probe==0.3.0",
            ],
            capture_output=True,
            text=True,
        )
    assert result.returncode != 0
    assert "from versions: 0.1.0" in result.stderr
