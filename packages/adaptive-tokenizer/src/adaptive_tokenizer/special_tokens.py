"""The four special-token roles every tokenizer of this package has, at fixed ids.

Trained tokenizers (BPE, character-level) put them first: `<pad>`=0, `<unk>`=1, `<s>`=2,
`</s>`=3, so a model, a data pipeline and an exported bundle can rely on them without
reading the tokenizer. Pretrained and uploaded tokenizers keep their own ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["DEFAULT_SPECIAL_TOKENS", "ROLES", "SpecialTokens", "reserved_token"]

ROLES = ("pad", "unk", "bos", "eos")


def reserved_token(index: int) -> str:
    """Name of the `index`-th filler token that pads a tokenizer up to the model's vocab size."""
    return f"<|reserved_{index}|>"


@dataclass(frozen=True)
class SpecialTokens:
    """Strings of the special tokens; their order here is their id order (pad first)."""

    pad: str = "<pad>"
    unk: str = "<unk>"
    bos: str = "<s>"
    eos: str = "</s>"
    extra: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        tokens = self.all()
        if any(not isinstance(t, str) or not t for t in tokens):
            raise ValueError(f"special tokens must be non-empty strings, got {tokens!r}")
        if len(set(tokens)) != len(tokens):
            raise ValueError(f"special tokens must be distinct, got {tokens!r}")

    def all(self) -> list[str]:
        """pad, unk, bos, eos, then the extra tokens: the ids 0..n-1 of a trained tokenizer."""
        return [self.pad, self.unk, self.bos, self.eos, *self.extra]

    def as_kwargs(self) -> dict[str, str]:
        """Keyword arguments for `PreTrainedTokenizerFast(...)`."""
        return {
            "pad_token": self.pad,
            "unk_token": self.unk,
            "bos_token": self.bos,
            "eos_token": self.eos,
        }

    @classmethod
    def coerce(cls, value: SpecialTokens | Sequence[str] | None) -> SpecialTokens:
        """Accept a `SpecialTokens`, None (the defaults) or a list `[pad, unk, bos, eos, *extra]`."""
        if value is None:
            return DEFAULT_SPECIAL_TOKENS
        if isinstance(value, SpecialTokens):
            return value
        if isinstance(value, str) or len(value) < 4:
            raise ValueError(
                "special_tokens must list at least [pad, unk, bos, eos] in that order, "
                f"got {value!r}: pass e.g. ['<pad>', '<unk>', '<s>', '</s>']"
            )
        pad, unk, bos, eos, *extra = value
        return cls(pad=pad, unk=unk, bos=bos, eos=eos, extra=tuple(extra))


DEFAULT_SPECIAL_TOKENS = SpecialTokens()
