"""`ModelSignatureInspector`: what a model's `forward` wants, read from its signature alone.

The adapter needs to know how to hand over the token ids (keyword or positional), whether it
can pass `attention_mask`, and whether `forward` is a broken builder signature that asks for
intermediate outputs (then the graph executor runs the model instead). Nothing here calls the
model.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["TOKEN_INPUT_NAMES", "ModelSignatureInspector", "ParameterInfo"]

TOKEN_INPUT_NAMES = (
    "input_ids",
    "input_0_tokens",
    "tokens",
    "idx",
    "x",
    "input",
    "inputs",
    "src",
    "token_ids",
    "ids",
)
ATTENTION_MASK_NAMES = (
    "attention_mask",
    "padding_mask",
    "key_padding_mask",
    "src_key_padding_mask",
)
"""Names of a padding-mask parameter. `attention_mask` is 1 on real tokens; the others follow
PyTorch's key-padding convention (True on padding). A bare `mask` is left alone: it often means
an attention (causal) mask of another shape."""
INVERTED_MASK_NAMES = ("padding_mask", "key_padding_mask", "src_key_padding_mask")
_NODE_TYPES = (
    "input",
    "embedding",
    "mhsa",
    "attention",
    "residual",
    "layernorm",
    "ffn",
    "mlp",
    "output",
    "dropout",
    "norm",
    "linear",
    "block",
    "add",
)
_INTERMEDIATE = re.compile(
    rf"^(?:{'|'.join(_NODE_TYPES)})_\d+(?:_[a-z]+)?$|_(?:output|logits|x|hidden)$"
)

ROLES = (
    "token_input",
    "attention_mask",
    "intermediate",
    "optional",
    "var_positional",
    "var_keyword",
    "unknown_required",
)


@dataclass(frozen=True)
class ParameterInfo:
    """One parameter of `forward` and the role the inspector gives it.

    role: "token_input", "attention_mask", "intermediate" (a leaked builder value such as
    `mhsa_0_output`), "optional" (has a default: targets, labels, caches, use_cache, ...),
    "var_positional", "var_keyword", or "unknown_required" (required and not understood).
    """

    name: str
    kind: str
    required: bool
    role: str
    default: Any = None


def _kind_name(kind: inspect._ParameterKind) -> str:
    return {
        inspect.Parameter.POSITIONAL_ONLY: "positional_only",
        inspect.Parameter.POSITIONAL_OR_KEYWORD: "positional_or_keyword",
        inspect.Parameter.VAR_POSITIONAL: "var_positional",
        inspect.Parameter.KEYWORD_ONLY: "keyword_only",
        inspect.Parameter.VAR_KEYWORD: "var_keyword",
    }[kind]


class ModelSignatureInspector:
    """Classify the parameters of a model's `forward` (or any callable).

    Example:
        >>> import torch.nn as nn
        >>> class M(nn.Module):
        ...     def forward(self, idx, targets=None): ...
        >>> inspector = ModelSignatureInspector(M())
        >>> inspector.token_input, inspector.is_simple_signature()
        ('idx', True)
    """

    def __init__(self, model_or_forward: Any) -> None:
        forward: Callable[..., Any] = getattr(model_or_forward, "forward", model_or_forward)
        try:
            self.signature: inspect.Signature | None = inspect.signature(forward)
        except (TypeError, ValueError):
            self.signature = None
        self._parameters = self._classify()

    def _classify(self) -> list[ParameterInfo]:
        if self.signature is None:
            return []
        params = [p for p in self.signature.parameters.values() if p.name != "self"]
        named = [p for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        token_name = None
        for candidate in TOKEN_INPUT_NAMES:
            if any(p.name == candidate for p in named):
                token_name = candidate
                break
        if token_name is None:
            positional = [
                p for p in named if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            ]
            required_positional = [p for p in positional if p.default is p.empty]
            if len(required_positional) == 1:
                token_name = required_positional[0].name
            elif (
                not required_positional
                and len(positional) >= 1
                and not _INTERMEDIATE.search(positional[0].name)
            ):
                token_name = positional[0].name
        infos = []
        mask_taken = False
        for p in params:
            required = p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            if p.kind == p.VAR_POSITIONAL:
                role = "var_positional"
            elif p.kind == p.VAR_KEYWORD:
                role = "var_keyword"
            elif p.name == token_name:
                role = "token_input"
            elif p.name in ATTENTION_MASK_NAMES and not mask_taken:
                role = "attention_mask"
                mask_taken = True
            elif not required:
                role = "optional"
            elif _INTERMEDIATE.search(p.name):
                role = "intermediate"
            else:
                role = "unknown_required"
            default = None if p.default is p.empty else p.default
            infos.append(ParameterInfo(p.name, _kind_name(p.kind), required, role, default))
        return infos

    # --- the seed API -------------------------------------------------------------------------
    def get_parameters(self) -> list[ParameterInfo]:
        """Every parameter of `forward` (without `self`), in order, with its role."""
        return list(self._parameters)

    def get_required_params(self) -> list[str]:
        """Names of the parameters a call must supply (no default, not *args/**kwargs)."""
        return [p.name for p in self._parameters if p.required]

    def requires_intermediate_outputs(self) -> bool:
        """True for builder signatures that ask for values the model itself should compute."""
        return any(p.role == "intermediate" and p.required for p in self._parameters)

    def is_simple_signature(self) -> bool:
        """True when `forward(tokens)` is a complete call: the token input is the only required parameter."""
        if self.token_input is None:
            return False
        return all(p.role == "token_input" for p in self._parameters if p.required)

    # --- what the adapter needs ---------------------------------------------------------------
    @property
    def token_input(self) -> str | None:
        """Name of the parameter that takes the token ids (None: no such parameter)."""
        return self._named("token_input")

    @property
    def token_input_positional(self) -> bool:
        """Whether the token ids should be passed positionally (first positional parameter)."""
        for index, p in enumerate(self._parameters):
            if p.role == "token_input":
                if p.kind == "positional_only":
                    return True
                return p.kind == "positional_or_keyword" and index == 0
        return self.accepts_var_positional

    @property
    def attention_mask_name(self) -> str | None:
        """Name of the parameter that takes the padding mask, if `forward` has one."""
        return self._named("attention_mask")

    def _named(self, role: str) -> str | None:
        """The name of the first parameter playing `role`, or None."""
        return next((p.name for p in self._parameters if p.role == role), None)

    @property
    def attention_mask_inverted(self) -> bool:
        """True when the mask parameter wants True on padding (`key_padding_mask` style)."""
        return self.attention_mask_name in INVERTED_MASK_NAMES

    @property
    def accepts_var_positional(self) -> bool:
        return any(p.role == "var_positional" for p in self._parameters)

    @property
    def accepts_var_keyword(self) -> bool:
        return any(p.role == "var_keyword" for p in self._parameters)

    @property
    def is_empty(self) -> bool:
        """`def forward(self)`: no parameter at all (the builder's empty-signature defect)."""
        return self.signature is not None and not self._parameters

    def accepts(self, name: str) -> bool:
        """Whether `name` can be passed as a keyword argument."""
        return (
            any(
                p.name == name and p.kind in ("positional_or_keyword", "keyword_only")
                for p in self._parameters
            )
            or self.accepts_var_keyword
        )

    def describe(self) -> str:
        """One line for logs and the CLI: the signature and how it was classified."""
        if self.signature is None:
            return "forward signature cannot be read"
        roles = ", ".join(f"{p.name}:{p.role}" for p in self._parameters) or "no parameters"
        verdict = (
            "simple"
            if self.is_simple_signature()
            else "asks for intermediate outputs"
            if self.requires_intermediate_outputs()
            else "empty"
            if self.is_empty
            else "not callable with token ids alone"
        )
        return f"forward{self.signature} -> {verdict} ({roles})"
