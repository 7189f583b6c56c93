"""Fetch a builder export (model.py + config.json) from a GitHub Gist into a cache folder.

"Export to Colab" hands users a Gist. The ID is validated before any request, the Gist API is
asked for the file list, files whose content the API truncated are fetched from their raw URL,
and the files are written into a cache folder atomically (a failed download never leaves half a
folder behind). The API base URL is configurable (argument or `MODEL_ADAPTER_GIST_API_URL`) so
the real HTTPS code can be tested against a local server.

Everything in the answer is someone else's input: the history version and the file names are
checked against strict patterns before they become paths (a version `..` would otherwise name
the cache's parent), and every download stops at a size limit (20 MB per file by default,
`max_file_bytes=` or `MODEL_ADAPTER_GIST_MAX_BYTES`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from model_adapter.errors import ModelLoadError

__all__ = [
    "DEFAULT_GIST_API_URL",
    "fetch_gist",
    "gist_cache_dir",
    "looks_like_gist",
    "parse_gist_id",
]

logger = logging.getLogger(__name__)

DEFAULT_GIST_API_URL = "https://api.github.com"
API_URL_ENV = "MODEL_ADAPTER_GIST_API_URL"
CACHE_DIR_ENV = "MODEL_ADAPTER_CACHE_DIR"
MAX_BYTES_ENV = "MODEL_ADAPTER_GIST_MAX_BYTES"
DEFAULT_MAX_FILE_BYTES = 20 * 1024 * 1024
_GIST_ID = re.compile(r"^(?:[0-9a-f]{20}|[0-9a-f]{32})$")
# A history version is a commit id; letters, digits, '-' and '_' only (no '.', no '/'): never a path step.
_VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z_-]{0,63}")
# A file name inside the gist folder: no separators, no leading dot.
_FILE_NAME = re.compile(r"[0-9A-Za-z_][0-9A-Za-z_.-]{0,127}")
_URL_HOSTS = ("gist.github.com", "gist.githubusercontent.com", "api.github.com")
_USER_AGENT = "model-adapter (+https://pypi.org/project/model-adapter/)"
_TIMEOUT_S = 30.0


def looks_like_gist(text: str) -> bool:
    """True when `text` is meant as a Gist (an ID-shaped token or a gist URL), valid or not."""
    text = text.strip()
    if any(host in text for host in _URL_HOSTS):
        return True
    return bool(re.fullmatch(r"[0-9a-fA-F]{8,64}", text))


def parse_gist_id(source: str) -> str:
    """The Gist ID in `source`: a bare ID or a gist.github.com / raw / API URL.

    IDs are 20 or 32 lowercase hex characters; anything else is refused before any request.
    """
    text = source.strip().rstrip("/")
    candidate = text
    if "://" in text or any(host in text for host in _URL_HOSTS):
        path = re.sub(r"^[a-z]+://[^/]+", "", text)
        parts = [p for p in path.split("/") if p]
        if parts and parts[0] == "gists":  # api.github.com/gists/<id>
            parts = parts[1:]
        hexes = [p for p in parts[:2] if re.fullmatch(r"[0-9a-fA-F]+", p)]
        candidate = hexes[0] if hexes else (parts[-1] if parts else "")
    candidate = candidate.split("#")[0].split("?")[0]
    if not _GIST_ID.fullmatch(candidate.lower()):
        raise ModelLoadError(
            f"'{source}' is not a Gist ID (20 or 32 hex characters) or a gist URL; copy the ID "
            "from the gist's address, e.g. https://gist.github.com/<user>/<id>"
        )
    return candidate.lower()


def gist_cache_dir() -> Path:
    """Where fetched gists are kept: `$MODEL_ADAPTER_CACHE_DIR/gists` or ~/.cache/model_adapter/gists."""
    base = os.environ.get(CACHE_DIR_ENV)
    root = Path(base) if base else Path.home() / ".cache" / "model_adapter"
    return root / "gists"


def _max_file_bytes(value: int | None) -> int:
    if value is not None:
        return int(value)
    text = os.environ.get(MAX_BYTES_ENV)
    if not text:
        return DEFAULT_MAX_FILE_BYTES
    try:
        return int(text)
    except ValueError as exc:
        raise ModelLoadError(
            f"{MAX_BYTES_ENV}={text!r} is not a number of bytes; set it to e.g. 52428800"
        ) from exc


def _too_large(what: str, gist_id: str, limit: int) -> ModelLoadError:
    return ModelLoadError(
        f"{what} of gist {gist_id} is larger than the download limit of {limit / 2**20:.0f} MB; "
        f"download it by hand, or raise the limit (max_file_bytes=..., or {MAX_BYTES_ENV})"
    )


def _get(url: str, what: str, gist_id: str, limit: int = DEFAULT_MAX_FILE_BYTES) -> bytes:
    request = urllib.request.Request(
        url, headers={"User-Agent": _USER_AGENT, "Accept": "application/vnd.github+json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > limit:
                raise _too_large(what, gist_id, limit)
            data = response.read(limit + 1)  # never more than the limit in memory, whatever is sent
            if len(data) > limit:
                raise _too_large(what, gist_id, limit)
            return data
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise ModelLoadError(
                f"Gist {gist_id} not found ({what} answered HTTP 404); check the ID and that the gist exists and is public"
            ) from exc
        if exc.code in (403, 429):
            raise ModelLoadError(
                f"GitHub refused the request for gist {gist_id} (HTTP {exc.code}, likely the rate limit); "
                "wait an hour or download model.py and config.json and pass their folder"
            ) from exc
        raise ModelLoadError(
            f"fetching {what} for gist {gist_id} failed with HTTP {exc.code} {exc.reason}; try again later "
            "or download model.py and config.json and pass their folder"
        ) from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ModelLoadError(
            f"cannot reach {url.split('/')[2] if '://' in url else url} to fetch gist {gist_id} ({reason}); "
            "check the internet connection or download model.py and config.json and pass their folder"
        ) from exc


def _file_text(entry: dict[str, Any], gist_id: str, limit: int) -> str:
    name = entry.get("filename")
    content = entry.get("content")
    if content is None or entry.get("truncated"):
        raw_url = entry.get("raw_url")
        if not raw_url:
            raise ModelLoadError(
                f"gist {gist_id} lists {name} without content or raw_url; fetch it by hand"
            )
        data = _get(raw_url, f"raw {name}", gist_id, limit)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ModelLoadError(
                f"{name} of gist {gist_id} is not UTF-8 text; check the gist's files"
            ) from exc
    text = str(content)
    if len(text.encode("utf-8")) > limit:
        raise _too_large(str(name), gist_id, limit)
    return text


def _safe_version(gist: dict[str, Any], gist_id: str) -> str:
    history = gist.get("history") or [{}]
    first = (
        history[0] if isinstance(history, list) and history and isinstance(history[0], dict) else {}
    )
    version = first.get("version")
    if not version:
        return "latest"
    if not isinstance(version, str) or not _VERSION.fullmatch(version):
        raise ModelLoadError(
            f"the Gist API answer for {gist_id} names the version {str(version)[:80]!r}, which is not a "
            "commit id (letters, digits, '-', '_'); check the API URL or download the files by hand"
        )
    return version


def _safe_file_name(name: str, gist_id: str) -> str:
    if not _FILE_NAME.fullmatch(name) or name in (".", ".."):
        raise ModelLoadError(
            f"gist {gist_id} has a file named {name[:80]!r}, which is not a plain file name; "
            "rename it in the gist (letters, digits, '.', '-', '_')"
        )
    return name


def fetch_gist(
    source: str,
    *,
    api_url: str | None = None,
    cache_dir: str | Path | None = None,
    max_file_bytes: int | None = None,
) -> Path:
    """Download a gist's model.py and config.json into a cache folder and return that folder.

    `api_url` (default `$MODEL_ADAPTER_GIST_API_URL` or https://api.github.com) is the API
    base; `cache_dir` defaults to `gist_cache_dir()`. The folder is `<cache>/<id>/<version>`;
    a version already fetched is reused without a second download of its files.
    `max_file_bytes` (default `$MODEL_ADAPTER_GIST_MAX_BYTES` or 20 MB) caps each download.
    """
    gist_id = parse_gist_id(source)
    limit = _max_file_bytes(max_file_bytes)
    base = (api_url or os.environ.get(API_URL_ENV) or DEFAULT_GIST_API_URL).rstrip("/")
    payload = _get(f"{base}/gists/{gist_id}", "the Gist API answer", gist_id, limit)
    try:
        gist = json.loads(payload)
        files: dict[str, Any] = gist["files"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelLoadError(
            f"the Gist API answer for {gist_id} is not a gist description; check the API URL ({base})"
        ) from exc
    if not isinstance(files, dict):
        raise ModelLoadError(
            f"the Gist API answer for {gist_id} has no file list; check the API URL ({base})"
        )
    version = _safe_version(gist, gist_id)
    root = Path(cache_dir) if cache_dir is not None else gist_cache_dir()
    target = root / gist_id / version
    if version != "latest" and (target / "model.py").is_file():
        logger.info("gist %s version %s already in %s", gist_id, version, target)
        return target

    by_name = {
        _safe_file_name(str(entry.get("filename", name)), gist_id): entry
        for name, entry in files.items()
        if isinstance(entry, dict)
    }
    python_files = [name for name in by_name if name.endswith(".py")]
    if "model.py" in by_name:
        model_name = "model.py"
    elif len(python_files) == 1:
        model_name = python_files[0]
    else:
        raise ModelLoadError(
            f"gist {gist_id} has no model.py (files: {', '.join(sorted(by_name)) or 'none'}); "
            "add the model code as model.py to the gist"
        )
    wanted = {"model.py": by_name[model_name]}
    if "config.json" in by_name:
        wanted["config.json"] = by_name["config.json"]
    texts = {name: _file_text(entry, gist_id, limit) for name, entry in wanted.items()}

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=target.parent))
    try:
        for name, text in texts.items():
            (staging / name).write_text(text, encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logger.info("fetched gist %s into %s", gist_id, target)
    return target
