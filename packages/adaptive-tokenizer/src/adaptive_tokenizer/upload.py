"""Tokenizers the user brings: a `tokenizer.json`, a saved Hugging Face folder, or vocab + merges.

Everything is read with `PreTrainedTokenizerFast` from the files alone: no remote code, no
model config, no torch. The result still has to pass `fit_to_vocab_size`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import TokenizerLoadError
from .vocab_contract import ROLE_CANDIDATES

if TYPE_CHECKING:
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

__all__ = ["TokenizerSource", "load_tokenizer_files"]

TokenizerSource = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]


def _roles_from_vocab(tokenizer: Tokenizer) -> dict[str, str]:
    """Guess pad/unk/bos/eos of a bare tokenizer file by their usual spellings."""
    vocab = tokenizer.get_vocab(with_added_tokens=True)
    roles = {}
    for role, candidates in ROLE_CANDIDATES.items():
        found = next((c for c in candidates if c in vocab), None)
        if found is not None:
            roles[f"{role}_token"] = found
    return roles


def _wrap_bare(tokenizer: Tokenizer) -> PreTrainedTokenizerFast:
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        clean_up_tokenization_spaces=False,
        **_roles_from_vocab(tokenizer),
    )


def _from_vocab_merges(vocab: Path, merges: Path) -> PreTrainedTokenizerFast:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    try:
        model = models.BPE.from_file(str(vocab), str(merges))
    except Exception as error:  # the Rust side raises plain Exception for malformed files
        raise TokenizerLoadError(
            f"cannot read {vocab.name} + {merges.name} as GPT-2 style BPE files ({error}): "
            "pass a vocab.json (token -> id) and a merges.txt (one 'a b' pair per line)"
        ) from None
    tokenizer = Tokenizer(model)
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    vocab_tokens = tokenizer.get_vocab()
    specials = [c for cands in ROLE_CANDIDATES.values() for c in cands if c in vocab_tokens]
    tokenizer.add_special_tokens(list(dict.fromkeys(specials)))
    return _wrap_bare(tokenizer)


def _from_tokenizer_json(path: Path) -> PreTrainedTokenizerFast:
    from tokenizers import Tokenizer

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise TokenizerLoadError(
            f"{str(path)!r} is not a JSON file ({error}): pass a tokenizer.json"
        ) from None
    if not isinstance(data, dict) or "model" not in data:
        raise TokenizerLoadError(
            f"{str(path)!r} is not a tokenizer.json (no 'model' key): a vocab.json needs its merges.txt, "
            "pass both paths"
        )
    try:
        return _wrap_bare(Tokenizer.from_str(json.dumps(data)))
    except Exception as error:  # the Rust side raises plain Exception for malformed files
        raise TokenizerLoadError(
            f"cannot load {str(path)!r} ({error}): is it from a newer `tokenizers`?"
        ) from None


def _from_folder(folder: Path) -> PreTrainedTokenizerFast:
    if (folder / "tokenizer.json").is_file():
        from transformers import PreTrainedTokenizerFast

        try:
            return PreTrainedTokenizerFast.from_pretrained(str(folder))
        except (OSError, ValueError) as error:
            raise TokenizerLoadError(
                f"cannot load the tokenizer in {str(folder)!r}: {error}"
            ) from None
    if (folder / "vocab.json").is_file() and (folder / "merges.txt").is_file():
        return _from_vocab_merges(folder / "vocab.json", folder / "merges.txt")
    raise TokenizerLoadError(
        f"{str(folder)!r} holds no tokenizer.json and no vocab.json + merges.txt: pass a folder "
        "written by save_pretrained, a tokenizer.json, or vocab + merges files"
    )


def load_tokenizer_files(source: TokenizerSource) -> PreTrainedTokenizerFast:
    """Load an uploaded tokenizer: a folder, a `tokenizer.json`, or `(vocab.json, merges.txt)`."""
    if isinstance(source, (str, os.PathLike)):
        paths = [Path(source)]
    else:
        paths = [Path(p) for p in source]
    for path in paths:
        if not path.exists():
            raise TokenizerLoadError(f"tokenizer path {str(path)!r} does not exist: check the path")
    if len(paths) == 2:
        by_suffix = {p.suffix: p for p in paths}
        if set(by_suffix) != {".json", ".txt"}:
            raise TokenizerLoadError("two tokenizer files must be a vocab.json and a merges.txt")
        return _from_vocab_merges(by_suffix[".json"], by_suffix[".txt"])
    if len(paths) != 1:
        raise TokenizerLoadError(
            f"got {len(paths)} tokenizer paths: pass one folder or tokenizer.json, or vocab.json + merges.txt"
        )
    path = paths[0]
    if path.is_dir():
        return _from_folder(path)
    return _from_tokenizer_json(path)
