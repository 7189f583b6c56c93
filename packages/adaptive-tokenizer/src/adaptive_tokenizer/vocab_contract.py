"""The vocab contract: a tokenizer whose size is exactly the model's vocab size.

Every tokenizer this package returns passes through here:

- `len(tokenizer) == vocab_size` exactly; every id, special tokens included, is below it;
- pad, unk, bos and eos are set, to tokens that already exist (setting them never grows the vocab);
- a tokenizer that is short is padded with inert `<|reserved_N|>` special tokens;
- a tokenizer that is larger than the model is rejected: its ids would index past the embedding
  (`index out of range` on CPU, a device-side assert on GPU).
"""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import VocabSizeMismatchError
from .special_tokens import ROLES, SpecialTokens, reserved_token

if TYPE_CHECKING:
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

__all__ = [
    "fit_to_vocab_size",
    "pad_backend_to_size",
    "padded_bpe_json",
    "wrap_backend",
    "wrap_json",
]

logger = logging.getLogger(__name__)

# Existing tokens a missing role may reuse, best first (used only when no slot is free).
_ALIASES = {
    "pad": ("eos", "unk", "bos"),
    "unk": ("eos", "pad"),
    "bos": ("cls", "eos"),
    "eos": ("sep", "bos"),
}
# Strings a tokenizer file may use for each role when it does not say so itself.
ROLE_CANDIDATES = {
    "pad": ("<pad>", "[PAD]", "<|pad|>", "<|padding|>", "<|finetune_right_pad_id|>"),
    "unk": ("<unk>", "[UNK]", "<|unk|>", "<|unknown|>"),
    "bos": ("<s>", "<|begin_of_text|>", "<|startoftext|>", "<bos>", "[CLS]", "<|endoftext|>"),
    "eos": ("</s>", "<|end_of_text|>", "<|endoftext|>", "<eos>", "[SEP]"),
}


def _reserved_names(existing: dict[str, int], count: int) -> list[str]:
    prefix = reserved_token(0)[:-3]  # "<|reserved_"
    taken = {token for token in existing if token.startswith(prefix)}
    names: list[str] = []
    index = 0
    if not taken:
        return [reserved_token(i) for i in range(count)]
    while len(names) < count:  # a name is taken: skip it, keep the numbering unique
        name = reserved_token(index)
        if name not in taken:
            names.append(name)
        index += 1
    return names


def pad_backend_to_size(tokenizer: Tokenizer, vocab_size: int) -> tuple[Tokenizer, int]:
    """Append `<|reserved_N|>` entries to the model vocab of a BPE/WordLevel `tokenizers.Tokenizer`.

    They sit in the model's vocab, not among the added tokens: no merge or character ever
    produces them (they are inert), and a tokenizer with thousands of them still loads in
    milliseconds. Returns the padded tokenizer and how many were added. Raises
    `VocabSizeMismatchError` when it is already larger.
    """
    from tokenizers import Tokenizer

    size = tokenizer.get_vocab_size(with_added_tokens=True)
    if size > vocab_size:
        raise VocabSizeMismatchError(
            f"tokenizer has {size} tokens but the model's vocab is {vocab_size}: "
            "use a smaller tokenizer or a larger model vocab"
        )
    missing = vocab_size - size
    if not missing:
        return tokenizer, 0
    names = _reserved_names(tokenizer.get_vocab(with_added_tokens=True), missing)
    entries = {name: size + i for i, name in enumerate(names)}
    state = json.loads(tokenizer.to_str())
    vocab = state["model"]["vocab"]
    if not isinstance(vocab, dict):  # pragma: no cover - only BPE / WordLevel models come here
        raise TypeError(f"cannot pad a {state['model']['type']} model")
    vocab.update(entries)
    return Tokenizer.from_str(json.dumps(state)), missing


def padded_bpe_json(tokenizer: Tokenizer, vocab_size: int) -> str | None:
    """The serialized BPE `tokenizer` with reserved entries spliced into its vocab, unparsed.

    Handing this text to `wrap_json` parses it once, where `pad_backend_to_size` + `wrap_backend`
    parse and copy the whole tokenizer twice (a tenth of a second on a 32K vocab). In compact
    JSON `},"merges":[` can only be the end of the model's vocab (quotes inside strings are
    escaped). Returns None when the layout is not the expected one; callers then fall back.
    """
    from tokenizers import models

    size = tokenizer.get_vocab_size(with_added_tokens=True)
    if size > vocab_size or not isinstance(tokenizer.model, models.BPE):
        return None
    text = tokenizer.to_str()
    if size == vocab_size:
        return text
    cut = text.find('},"merges":[')
    if cut <= 0:
        return None
    names = _reserved_names(tokenizer.get_vocab(with_added_tokens=True), vocab_size - size)
    # The names are plain ASCII without quotes or backslashes: no JSON escaping needed.
    entries = ",".join([f'"{name}":{size + i}' for i, name in enumerate(names)])
    return f"{text[:cut]},{entries}{text[cut:]}"


def wrap_json(text: str, special: SpecialTokens) -> PreTrainedTokenizerFast:
    """`wrap_backend` for a serialized tokenizer: transformers parses it once, without a deep copy."""
    from transformers import PreTrainedTokenizerFast

    with tempfile.TemporaryDirectory(prefix="adaptive-tokenizer-") as folder:
        path = Path(folder) / "tokenizer.json"
        path.write_text(text, encoding="utf-8")
        wrapped = PreTrainedTokenizerFast(
            tokenizer_file=str(path),
            clean_up_tokenization_spaces=False,
            padding_side="right",
            **special.as_kwargs(),
        )
    if special.extra:
        wrapped.add_special_tokens({"additional_special_tokens": list(special.extra)})
    return wrapped


def wrap_backend(tokenizer: Tokenizer, special: SpecialTokens) -> PreTrainedTokenizerFast:
    """The `transformers` face of a `tokenizers.Tokenizer`: exact decoding, right padding."""
    from transformers import PreTrainedTokenizerFast

    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        clean_up_tokenization_spaces=False,
        padding_side="right",
        **special.as_kwargs(),
    )
    if special.extra:
        wrapped.add_special_tokens({"additional_special_tokens": list(special.extra)})
    return wrapped


def _token_for(tokenizer: PreTrainedTokenizerFast, role: str) -> str | None:
    value = getattr(tokenizer, f"{role}_token", None)
    return str(value) if value is not None else None


def fit_to_vocab_size(
    tokenizer: PreTrainedTokenizerFast, vocab_size: int, *, source: str = "tokenizer"
) -> PreTrainedTokenizerFast:
    """Make a pretrained or uploaded tokenizer meet the vocab contract for `vocab_size`, in place.

    Missing special roles get a fresh token while there is room (e.g. `<pad>`), otherwise they
    reuse an existing token (pad = eos, as GPT-2 does). Then reserved tokens fill the rest.
    """
    from tokenizers import AddedToken

    size = len(tokenizer)
    if size > vocab_size:
        raise VocabSizeMismatchError(
            f"{source} has {size} tokens but the model's vocab is {vocab_size}: its ids would overflow "
            f"the embedding; use a tokenizer with at most {vocab_size} tokens (strategy='bpe') "
            f"or build the model with vocab_size >= {size}"
        )
    vocab = tokenizer.get_vocab()
    max_id = max(vocab.values(), default=-1)
    if max_id >= vocab_size:
        raise VocabSizeMismatchError(
            f"{source} uses id {max_id}, not below the model's vocab {vocab_size} (its ids have gaps): "
            f"build the model with vocab_size >= {max_id + 1}"
        )
    fresh = {"pad": "<pad>", "unk": "<unk>", "bos": "<s>", "eos": "</s>"}
    for role in ROLES:
        if _token_for(tokenizer, role) is not None:
            continue
        found = next((t for t in ROLE_CANDIDATES[role] if t in vocab), None)
        if found is None and len(tokenizer) < vocab_size:
            name = fresh[role]
            while name in vocab:
                name = f"<|{role}|>" if name == fresh[role] else name + "_"
            tokenizer.add_special_tokens(
                {f"{role}_token": AddedToken(name, special=True, normalized=False)}
            )
            vocab = tokenizer.get_vocab()
            logger.info("%s had no %s token: added %r at id %d", source, role, name, vocab[name])
            continue
        if found is None:
            for alias in _ALIASES[role]:
                found = _token_for(tokenizer, alias)
                if found is not None:
                    break
        if found is None:
            raise VocabSizeMismatchError(
                f"{source} has no {role} token and no free slot below the model's vocab {vocab_size} "
                f"to add one: build the model with vocab_size >= {len(tokenizer) + 1}"
            )
        before = len(tokenizer)
        setattr(tokenizer, f"{role}_token", found)
        if len(tokenizer) != before:  # pragma: no cover - would be a transformers regression
            raise VocabSizeMismatchError(
                f"setting the {role} token grew {source}: please report this"
            )
        logger.info("%s had no %s token: using the existing %r", source, role, found)
    missing = vocab_size - len(tokenizer)
    if missing:
        names = _reserved_names(tokenizer.get_vocab(), missing)
        tokenizer.add_tokens(
            [AddedToken(n, special=True, normalized=False) for n in names], special_tokens=True
        )
        logger.info(
            "padded %s from %d to %d tokens with reserved tokens",
            source,
            vocab_size - missing,
            vocab_size,
        )
    if len(tokenizer) != vocab_size:  # pragma: no cover - a transformers behaviour change
        raise VocabSizeMismatchError(
            f"{source} has {len(tokenizer)} tokens after padding, expected {vocab_size}: please report this"
        )
    return tokenizer
