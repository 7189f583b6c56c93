"""The one place that talks to the Hugging Face Hub.

Only tokenizer files are downloaded (never weights), into `cache_dir` through the standard
`huggingface_hub` cache, and remote code is never run. When the Hub cannot be reached the
caller gets a `PretrainedUnavailableError` quickly (a 3-second connection probe instead of
`huggingface_hub`'s minute of retries) with the reason, and falls through to the next tier.
A local folder in place of a repo id is used as is: that is how tests stand in for the Hub.
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path
from urllib.parse import urlparse

from .errors import PretrainedUnavailableError

__all__ = ["TOKENIZER_FILES", "fetch_tokenizer_files", "hub_unreachable_reason"]

logger = logging.getLogger(__name__)

TOKENIZER_FILES = [
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "merges.txt",
]


def hub_unreachable_reason(timeout: float = 3.0) -> str | None:
    """Why the Hub cannot be reached (DNS or TCP failure), or None when it can (or a proxy is set)."""
    from huggingface_hub import constants

    if any(
        os.environ.get(name) for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")
    ):
        return None  # a proxy decides; let the download itself report
    url = urlparse(constants.ENDPOINT)
    host, port = (
        url.hostname or "huggingface.co",
        url.port or (443 if url.scheme == "https" else 80),
    )
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as error:
        return f"{host}:{port} unreachable: {error}"


def _download_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [OSError, ValueError]
    try:
        import httpx

        errors.append(httpx.HTTPError)
    except ImportError:  # huggingface_hub < 1.0 uses requests, whose errors are OSErrors
        pass
    return tuple(errors)


def fetch_tokenizer_files(
    repo_id: str,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    revision: str | None = None,
    local_files_only: bool = False,
) -> Path:
    """A local folder holding `repo_id`'s tokenizer files: the cache first, then the Hub."""
    local = Path(repo_id).expanduser()
    if local.is_dir():
        return local
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    folder = str(cache_dir) if cache_dir else None

    def download(offline: bool) -> Path:
        return Path(
            snapshot_download(
                repo_id,
                revision=revision,
                cache_dir=folder,
                allow_patterns=TOKENIZER_FILES,
                local_files_only=offline,
            )
        )

    try:
        return download(offline=True)
    except OSError:
        pass  # not cached yet
    if local_files_only or constants.HF_HUB_OFFLINE:
        raise PretrainedUnavailableError(
            f"{repo_id} is not in the local cache and Hub downloads are off (local_files_only or "
            "HF_HUB_OFFLINE=1): download it once online, or pass tokenizer_path=..."
        )
    reason = hub_unreachable_reason()
    if reason is not None:
        raise PretrainedUnavailableError(
            f"cannot reach the Hugging Face Hub to download {repo_id} ({reason}): connect to the "
            "internet, or pass tokenizer_path=... or strategy='bpe'"
        )
    logger.info("downloading the tokenizer files of %s", repo_id)
    try:
        return download(offline=False)
    except GatedRepoError:
        raise PretrainedUnavailableError(
            f"{repo_id} is gated: accept its license on https://huggingface.co/{repo_id} and log in "
            "(`hf auth login` or HF_TOKEN)"
        ) from None
    except RepositoryNotFoundError:
        raise PretrainedUnavailableError(
            f"{repo_id} does not exist on the Hub (or is private): check the repo id"
        ) from None
    except _download_errors() as error:
        raise PretrainedUnavailableError(
            f"downloading {repo_id} failed ({type(error).__name__}: {error}): retry, or pass "
            "tokenizer_path=..."
        ) from error
