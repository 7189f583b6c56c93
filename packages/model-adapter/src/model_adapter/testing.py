"""A factory for builder-style exports, for every package's tests.

`write_builder_export` writes a model.py + config.json exactly in the shape Transformer Builder
produces (node marker comments, node-named attributes, `<node>_output` intermediates), at any
size, with any of the generator's known defects switched on. Tests should build their fixtures
with it instead of copying files, so sizes, vocab sizes and block counts vary.

Example:
    >>> import tempfile
    >>> from model_adapter import load_model, UniversalModelAdapter
    >>> from model_adapter.testing import write_builder_export
    >>> folder = write_builder_export(tempfile.mkdtemp(), vocab_size=517, d_model=32, n_heads=2,
    ...                               n_blocks=1, max_seq_len=16, defects=("empty_signature",))
    >>> model, config = load_model(folder)
    >>> config.vocab_size
    517
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ARCHITECTURES", "DEFECTS", "render_builder_export", "write_builder_export"]

ARCHITECTURES = ("gpt", "bert", "prenorm")
"""gpt: post-norm causal decoder (mhsa_/ffn_ nodes). bert: bidirectional encoder with an
embedding LayerNorm (attention_/mlp_ nodes, takes attention_mask when clean). prenorm: pre-norm
decoder (layernorm before each sublayer, residuals skip two nodes, final layernorm)."""

DEFECTS = ("leaked_intermediates", "empty_signature", "missing_output_module", "unmasked_attention")
"""The generator's defects seen in real exports (see GENERATED_MODELS.md)."""

_INDENT = " " * 8


@dataclass
class _Node:
    node_id: str
    node_type: str
    init: list[str] = field(default_factory=list)
    forward: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    output: str = ""


@dataclass
class _Spec:
    vocab_size: int
    d_model: int
    n_heads: int
    n_blocks: int
    max_seq_len: int
    d_ff: int
    dropout: float
    architecture: str
    defects: frozenset[str]
    constructor: str

    def dim(self, name: str) -> str:
        """A dimension as written in __init__: a literal, or the constructor argument's name."""
        value = getattr(self, name)
        return name if self.constructor == "kwargs" else repr(value)


def _counter() -> dict[str, int]:
    return {}


def _next(counts: dict[str, int], node_type: str) -> str:
    index = counts.get(node_type, 0)
    counts[node_type] = index + 1
    return f"{node_type}_{index}"


def _build_nodes(spec: _Spec) -> list[_Node]:
    counts = _counter()
    unmasked = "unmasked_attention" in spec.defects
    nodes: list[_Node] = []
    inp = _Node(
        "input_0", "input", params={"vocab_size": spec.vocab_size, "max_seq_len": spec.max_seq_len}
    )
    inp.output = "input_0_tokens"
    counts["input"] = 1
    nodes.append(inp)
    d, h, v, seq, drop = (
        spec.dim(n) for n in ("d_model", "n_heads", "vocab_size", "max_seq_len", "dropout")
    )
    ff = f"{spec.dim('d_model')} * 4" if spec.constructor == "kwargs" else repr(spec.d_ff)

    emb = _Node(
        _next(counts, "embedding"),
        "embedding",
        params={
            "d_model": spec.d_model,
            "vocab_size": spec.vocab_size,
            "max_seq_len": spec.max_seq_len,
            "dropout": spec.dropout,
        },
    )
    e = emb.node_id
    emb.init = [
        f"self.{e}_token = nn.Embedding({v}, {d})",
        f"self.{e}_pos = nn.Embedding({seq}, {d})",
        f"self.{e}_dropout = nn.Dropout({drop})",
    ]
    emb.forward = [
        f"{e}_positions = torch.arange(input_0_tokens.size(1), device=input_0_tokens.device)",
        f"{e}_x = self.{e}_token(input_0_tokens) + self.{e}_pos({e}_positions)",
        f"{e}_x = self.{e}_dropout({e}_x)",
    ]
    emb.output = f"{e}_x"
    nodes.append(emb)
    current = emb.output

    attention_type = "attention" if spec.architecture == "bert" else "mhsa"
    ffn_type = "mlp" if spec.architecture == "bert" else "ffn"

    def module_node(
        node_type: str, params: dict[str, Any], module: str, args: str, *, pair: bool = False
    ) -> _Node:
        """A node that builds `module` in `__init__` and calls it on `args` in `forward`
        (`pair`: the call returns `(output, weights)`, as nn.MultiheadAttention does)."""
        node = _Node(_next(counts, node_type), node_type, params=params)
        node.init = [f"self.{node.node_id} = {module}"]
        node.output = f"{node.node_id}_output"
        target = f"{node.output}, _" if pair else node.output
        node.forward = [f"{target} = self.{node.node_id}({args})"]
        return node

    def layernorm(source: str) -> _Node:
        return module_node("layernorm", {"d_model": spec.d_model}, f"nn.LayerNorm({d})", source)

    def attention(source: str) -> _Node:
        mask = ""
        if not unmasked:
            bert = spec.architecture == "bert"
            mask = ", key_padding_mask=key_padding_mask" if bert else ", attn_mask=causal_mask"
        return module_node(
            attention_type,
            {"d_model": spec.d_model, "num_heads": spec.n_heads, "dropout": spec.dropout},
            f"nn.MultiheadAttention({d}, {h}, dropout={drop}, batch_first=True)",
            f"{source}, {source}, {source}{mask}",
            pair=True,
        )

    def ffn(source: str) -> _Node:
        return module_node(
            ffn_type,
            {"d_model": spec.d_model, "d_ff": spec.d_ff, "dropout": spec.dropout},
            f"nn.Sequential(nn.Linear({d}, {ff}), nn.GELU(), nn.Dropout({drop}), "
            f"nn.Linear({ff}, {d}), nn.Dropout({drop}))",
            source,
        )

    def residual(a: str, b: str) -> _Node:
        node = _Node(_next(counts, "residual"), "residual")
        node.output = f"{node.node_id}_output"
        node.forward = [f"{node.output} = {a} + {b}"]
        return node

    if spec.architecture == "bert":
        norm = layernorm(current)
        nodes.append(norm)
        current = norm.output
    for _ in range(spec.n_blocks):
        if spec.architecture == "prenorm":
            block_input = current
            for make in (attention, ffn):
                norm = layernorm(current)
                sub = make(norm.output)
                res = residual(sub.output, block_input)
                nodes.extend([norm, sub, res])
                current = block_input = res.output
        else:
            for make in (attention, ffn):
                sub = make(current)
                res = residual(sub.output, current)
                norm = layernorm(res.output)
                nodes.extend([sub, res, norm])
                current = norm.output
    if spec.architecture == "prenorm":
        norm = layernorm(current)
        nodes.append(norm)
        current = norm.output
    out = _Node(_next(counts, "output"), "output", params={"vocab_size": spec.vocab_size})
    if "missing_output_module" not in spec.defects:
        out.init = [f"self.{out.node_id} = nn.Linear({d}, {v}, bias=False)"]
    out.output = f"{out.node_id}_logits"
    out.forward = [f"{out.output} = self.{out.node_id}({current})"]
    nodes.append(out)
    return nodes


def render_builder_export(
    *,
    vocab_size: int = 517,
    d_model: int = 32,
    n_heads: int = 2,
    n_blocks: int = 1,
    max_seq_len: int = 32,
    architecture: str = "gpt",
    defects: Iterable[str] = (),
    config_form: str = "flat",
    model_name: str = "CustomTransformer",
    constructor: str = "fixed",
    dropout: float = 0.1,
) -> tuple[str, dict[str, Any]]:
    """The (model.py text, config.json dict) that `write_builder_export` writes."""
    defects = frozenset(defects)
    unknown = defects - set(DEFECTS)
    if unknown:
        raise ValueError(f"unknown defects {sorted(unknown)}; choose from {DEFECTS}")
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; choose from {ARCHITECTURES}")
    if config_form not in ("flat", "nodes"):
        raise ValueError(f"unknown config_form {config_form!r}; choose 'flat' or 'nodes'")
    if constructor not in ("fixed", "kwargs"):
        raise ValueError(f"unknown constructor {constructor!r}; choose 'fixed' or 'kwargs'")
    if d_model % n_heads:
        raise ValueError(f"d_model={d_model} is not divisible by n_heads={n_heads}")
    if n_blocks < 1:
        raise ValueError("n_blocks must be at least 1")
    spec = _Spec(
        vocab_size,
        d_model,
        n_heads,
        n_blocks,
        max_seq_len,
        4 * d_model,
        dropout,
        architecture,
        defects,
        constructor,
    )
    nodes = _build_nodes(spec)

    if constructor == "kwargs":
        init_sig = (
            f"self, vocab_size={vocab_size}, max_seq_len={max_seq_len}, d_model={d_model}, "
            f"n_heads={n_heads}, dropout={dropout}"
        )
    else:
        init_sig = "self"
    lines = [
        f'"""{model_name}: generated by Transformer Builder ({architecture}-style, {n_blocks} block(s))."""',
        "",
        "import torch",
        "import torch.nn as nn",
        "",
        "",
        f"class {model_name}(nn.Module):",
        f"    def __init__({init_sig}):",
        "        super().__init__()",
    ]
    for node in nodes:
        lines.append(f"{_INDENT}# {node.node_type}: {node.node_id}")
        lines.extend(_INDENT + line for line in node.init)

    leaked = "leaked_intermediates" in defects
    body: list[str] = []
    attention_nodes = [n for n in nodes if n.node_type in ("mhsa", "attention")]
    residual_nodes = [n for n in nodes if n.node_type == "residual"]
    unmasked = "unmasked_attention" in defects
    if not unmasked and architecture == "bert":
        body.append("key_padding_mask = None if attention_mask is None else attention_mask == 0")
    elif not unmasked:
        body.append(
            "causal_mask = torch.triu(torch.ones(input_0_tokens.size(1), input_0_tokens.size(1), "
            "dtype=torch.bool, device=input_0_tokens.device), diagonal=1)"
        )
    for node in nodes:
        if leaked and node.node_type == "residual" and architecture != "prenorm":
            continue  # read from the (leaked) arguments, never computed: defect 1
        for line in node.forward:
            if leaked and node.node_type == "output":
                line = line.replace(f"{node.node_id}_logits =", f"{node.node_id}_output =")
            body.append(line)

    if "empty_signature" in defects:
        signature = "def forward(self, ) -> torch.Tensor:"
    elif leaked:
        leaked_names = [attention_nodes[0].output] + [n.output for n in residual_nodes]
        signature = f"def forward(self, input_0_tokens, {', '.join(leaked_names)}):"
    elif architecture == "bert" and not unmasked:
        signature = "def forward(self, input_0_tokens, attention_mask=None):"
    else:
        signature = "def forward(self, input_0_tokens):"
    lines += ["", f"    {signature}"]
    lines.extend(_INDENT + line for line in body)
    lines.append(f"{_INDENT}return {nodes[-1].node_id}_logits")
    source = "\n".join(lines) + "\n"

    if config_form == "flat":
        config: dict[str, Any] = {
            "model_name": model_name,
            "vocab_size": vocab_size,
            "d_model": d_model,
            "nhead": n_heads,
            "num_layers": n_blocks,
            "max_seq_len": max_seq_len,
            "dropout": dropout,
        }
    else:
        config = {
            "model_name": model_name,
            "version": "1.0",
            "nodes": [{"id": n.node_id, "type": n.node_type, "params": n.params} for n in nodes],
        }
    return source, config


def write_builder_export(
    directory: str | Path,
    *,
    vocab_size: int = 517,
    d_model: int = 32,
    n_heads: int = 2,
    n_blocks: int = 1,
    max_seq_len: int = 32,
    architecture: str = "gpt",
    defects: Iterable[str] = (),
    config_form: str = "flat",
    model_name: str = "CustomTransformer",
    constructor: str = "fixed",
    dropout: float = 0.1,
) -> Path:
    """Write a builder-style model.py + config.json into `directory` (created) and return it.

    `defects` switches on the generator's known defects: "leaked_intermediates" (forward takes
    intermediate outputs as arguments, reads residuals it never computes, returns an unassigned
    name), "empty_signature" (`def forward(self, )`), "missing_output_module" (output_0 has only
    its marker comment), "unmasked_attention" (attention called without a mask, which every real
    export has). `constructor="kwargs"` writes `__init__(self, vocab_size=..., ...)`.
    """
    source, config = render_builder_export(
        vocab_size=vocab_size,
        d_model=d_model,
        n_heads=n_heads,
        n_blocks=n_blocks,
        max_seq_len=max_seq_len,
        architecture=architecture,
        defects=defects,
        config_form=config_form,
        model_name=model_name,
        constructor=constructor,
        dropout=dropout,
    )
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.py").write_text(source, encoding="utf-8")
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return folder
