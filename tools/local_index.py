"""A PEP 503 simple index on 127.0.0.1 that stands in for the Python Package Index in tests.

The four packages are not reachable on the real index from the test machines, yet the lines a
user runs (`pip install model-adapter==0.1.0`, `-r requirements-colab.txt`) must be the lines
that are tested. So the nox sessions that install "as a user would" build the four wheels from
the checkout, lay them out as a simple index (`<root>/simple/<project>/index.html` linking the
wheel files with their sha256) and hand pip `--extra-index-url http://127.0.0.1:<port>/simple/`:
pip then finds the packages by name and version exactly as it will on PyPI, and everything else
on the machine's own index. Standard library only (the nox process itself serves it).
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import re
import shutil
import threading
from collections.abc import Iterable, Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

__all__ = ["project_name", "serve", "write_index"]


def project_name(wheel: Path) -> str:
    """The PEP 503 normalized project name of a wheel file (`model_adapter-0.1.0-py3-none-any.whl`)."""
    return re.sub(r"[-_.]+", "-", wheel.name.split("-")[0]).lower()


def write_index(wheels: Iterable[Path], root: Path) -> Path:
    """Copy `wheels` into a fresh simple index under `root` (replacing an earlier one); returns `root/simple`."""
    simple = root / "simple"
    if simple.exists():
        shutil.rmtree(simple)
    projects: dict[str, list[Path]] = {}
    for wheel in wheels:
        folder = simple / project_name(wheel)
        folder.mkdir(parents=True, exist_ok=True)
        projects.setdefault(project_name(wheel), []).append(
            Path(shutil.copy2(wheel, folder / wheel.name))
        )
    for project, files in projects.items():
        links = []
        for file in sorted(files):
            digest = hashlib.sha256(file.read_bytes()).hexdigest()
            links.append(
                f'<a href="{html.escape(file.name)}#sha256={digest}">{html.escape(file.name)}</a><br>'
            )
        (simple / project / "index.html").write_text(_page(f"Links for {project}", links))
    top = [f'<a href="{project}/">{project}</a><br>' for project in sorted(projects)]
    (simple / "index.html").write_text(_page("Simple index", top))
    return simple


def _page(title: str, lines: list[str]) -> str:
    body = "\n".join(lines)
    return (
        f'<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" content="1.0">'
        f"<title>{title}</title></head><body>\n{body}\n</body></html>\n"
    )


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """pip's requests are not worth a line each in the session log."""


@contextlib.contextmanager
def serve(root: Path) -> Iterator[str]:
    """Serve `root` (holding `simple/`) on a free port of 127.0.0.1; yields the index URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, name="local-index", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple/"
    finally:
        server.shutdown()
        server.server_close()
