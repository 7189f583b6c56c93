"""Gist loading through the real urllib code, against a local HTTP server standing in for GitHub."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from model_adapter import ModelLoadError, load_model
from model_adapter.gist import fetch_gist, parse_gist_id
from model_adapter.testing import render_builder_export

GIST_ID = "0123456789abcdef0123"
LONG_ID = "0123456789abcdef0123456789abcdef"


class _GistServer:
    """Serves /gists/<id> like the GitHub API and /raw/<name> like gist.githubusercontent.com."""

    def __init__(self, gists: dict[str, dict], raw: dict[str, str]):
        self.gists, self.raw, self.requests = gists, raw, []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                if self.path.startswith("/gists/") and self.path[7:] in server.gists:
                    body = json.dumps(server.gists[self.path[7:]]).encode()
                elif self.path.startswith("/raw/") and self.path[5:] in server.raw:
                    body = server.raw[self.path[5:]].encode()
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def export_files():
    source, config = render_builder_export(
        vocab_size=1234,
        d_model=32,
        n_heads=2,
        n_blocks=1,
        max_seq_len=16,
        defects=("empty_signature", "unmasked_attention"),
        config_form="nodes",
    )
    return source, json.dumps(config)


def _gist(files: dict, version: str = "v1") -> dict:
    return {"id": GIST_ID, "files": files, "history": [{"version": version}]}


def test_gist_id_and_url_forms():
    assert parse_gist_id(GIST_ID) == GIST_ID
    assert parse_gist_id(LONG_ID.upper()) == LONG_ID
    assert parse_gist_id(f"https://gist.github.com/someone/{GIST_ID}") == GIST_ID
    assert parse_gist_id(f"https://gist.github.com/{LONG_ID}/") == LONG_ID
    assert (
        parse_gist_id(f"https://gist.githubusercontent.com/someone/{GIST_ID}/raw/abc/model.py")
        == GIST_ID
    )
    assert parse_gist_id(f"https://api.github.com/gists/{GIST_ID}") == GIST_ID


@pytest.mark.parametrize(
    "bad", ["0123456789abcdef012", "0123456789abcdef012z", "https://gist.github.com/someone/xyz"]
)
def test_invalid_gist_id_is_refused_before_any_request(bad):
    with pytest.raises(ModelLoadError, match="is not a Gist ID \\(20 or 32 hex characters\\)"):
        fetch_gist(bad, api_url="http://127.0.0.1:9")


def test_load_model_from_gist_url(tmp_path, monkeypatch, export_files):
    source, config = export_files
    gist = _gist(
        {
            "model.py": {"filename": "model.py", "content": source},
            "config.json": {"filename": "config.json", "content": config},
        }
    )
    with _GistServer({GIST_ID: gist}, {}) as server:
        monkeypatch.setenv("MODEL_ADAPTER_GIST_API_URL", server.url)
        monkeypatch.setenv("MODEL_ADAPTER_CACHE_DIR", str(tmp_path))

        model, loaded = load_model(f"https://gist.github.com/someone/{GIST_ID}")

    assert loaded.vocab_size == 1234 and loaded.source.endswith(GIST_ID)
    assert (tmp_path / "gists" / GIST_ID / "v1" / "model.py").read_text() == source
    assert type(model).__name__ == "CustomTransformer"


def test_truncated_files_are_fetched_from_raw_url(tmp_path, export_files):
    source, config = export_files
    with _GistServer({}, {"model.py": source, "config.json": config}) as server:
        server.gists[GIST_ID] = _gist(
            {
                "model.py": {
                    "filename": "model.py",
                    "truncated": True,
                    "content": source[:10],
                    "raw_url": f"{server.url}/raw/model.py",
                },
                "config.json": {
                    "filename": "config.json",
                    "raw_url": f"{server.url}/raw/config.json",
                },
            }
        )

        folder = fetch_gist(GIST_ID, api_url=server.url, cache_dir=tmp_path)
        again = fetch_gist(GIST_ID, api_url=server.url, cache_dir=tmp_path)

    assert (folder / "model.py").read_text() == source
    assert (folder / "config.json").read_text() == config
    assert again == folder
    assert server.requests.count("/raw/model.py") == 1  # the cached version is not fetched twice


def test_gist_not_found(tmp_path):
    with (
        _GistServer({}, {}) as server,
        pytest.raises(ModelLoadError, match=f"Gist {GIST_ID} not found .*HTTP 404"),
    ):
        fetch_gist(GIST_ID, api_url=server.url, cache_dir=tmp_path)
    assert not (tmp_path / GIST_ID).exists()


def test_gist_without_model_py(tmp_path):
    gist = _gist({"notes.md": {"filename": "notes.md", "content": "hi"}})
    with (
        _GistServer({GIST_ID: gist}, {}) as server,
        pytest.raises(ModelLoadError, match=r"has no model.py \(files: notes.md\)"),
    ):
        fetch_gist(GIST_ID, api_url=server.url, cache_dir=tmp_path)


def test_network_down(tmp_path):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    with pytest.raises(
        ModelLoadError,
        match=f"cannot reach 127.0.0.1:{port} to fetch gist {GIST_ID}.*internet connection",
    ):
        fetch_gist(GIST_ID, api_url=f"http://127.0.0.1:{port}", cache_dir=tmp_path)


OTHER_ID = "fedcba9876543210fedc"


@pytest.mark.parametrize("version", ["..", ".", "../../elsewhere", "v1/../..", "a" * 65])
def test_a_version_that_is_not_a_commit_id_is_refused_and_the_cache_is_kept(
    tmp_path, export_files, version
):
    source, config = export_files
    files = {
        "model.py": {"filename": "model.py", "content": source},
        "config.json": {"filename": "config.json", "content": config},
    }
    with _GistServer(
        {OTHER_ID: {**_gist(files), "id": OTHER_ID}, GIST_ID: _gist(files, version=version)}, {}
    ) as server:
        cached = fetch_gist(OTHER_ID, api_url=server.url, cache_dir=tmp_path)
        with pytest.raises(ModelLoadError, match=r"version .* is not a commit id"):
            fetch_gist(GIST_ID, api_url=server.url, cache_dir=tmp_path)

    assert (cached / "model.py").read_text() == source  # another gist's cache is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == [OTHER_ID]


@pytest.mark.parametrize("name", ["../model.py", "..", ".hidden.py", "dir/model.py"])
def test_a_file_name_that_is_not_plain_is_refused(tmp_path, name):
    gist = _gist({"x": {"filename": name, "content": "import torch"}})
    with (
        _GistServer({GIST_ID: gist}, {}) as server,
        pytest.raises(ModelLoadError, match="not a plain file name"),
    ):
        fetch_gist(GIST_ID, api_url=server.url, cache_dir=tmp_path)
    assert not (tmp_path / GIST_ID).exists()


def test_a_file_over_the_default_20_mb_limit_is_refused(tmp_path, export_files):
    _source, config = export_files
    huge = "# padding\n" * (21 * 1024 * 1024 // 10)
    with _GistServer({}, {"model.py": huge}) as server:
        server.gists[GIST_ID] = _gist(
            {
                "model.py": {
                    "filename": "model.py",
                    "truncated": True,
                    "content": "",
                    "raw_url": f"{server.url}/raw/model.py",
                },
                "config.json": {"filename": "config.json", "content": config},
            }
        )
        with pytest.raises(
            ModelLoadError,
            match=r"raw model.py of gist .* larger than the download limit of 20 MB.*max_file_bytes",
        ):
            fetch_gist(GIST_ID, api_url=server.url, cache_dir=tmp_path)
    assert not (tmp_path / GIST_ID).exists()


def test_the_size_limit_is_configurable(tmp_path, monkeypatch, export_files):
    source, config = export_files
    files = {
        "model.py": {"filename": "model.py", "content": source},
        "config.json": {"filename": "config.json", "content": config},
    }
    with _GistServer({GIST_ID: _gist(files)}, {}) as server:
        monkeypatch.setenv("MODEL_ADAPTER_GIST_MAX_BYTES", "1000")
        with pytest.raises(ModelLoadError, match="larger than the download limit"):
            fetch_gist(GIST_ID, api_url=server.url, cache_dir=tmp_path)
        folder = fetch_gist(GIST_ID, api_url=server.url, cache_dir=tmp_path, max_file_bytes=10**6)
    assert (folder / "model.py").read_text() == source
