"""`ModelConfig`: the few hyper-parameters every package needs, read from config.json and the model.

Builder exports ship a config.json in one of two forms (flat keys, or a `nodes` list whose
`params` hold the values) and with several spellings of the same key; hand-written models may
ship none. This module turns any of them into one `ModelConfig`, then checks it against the
model's own modules, because a config.json that disagrees with the weights is the most common
way to train a model whose output size no tokenizer matches.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from model_adapter.errors import ModelLoadError

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "CONFIG_ALIASES",
    "ModelConfig",
    "ModelStructure",
    "build_model_config",
    "find_model_structure",
    "normalize_config",
    "read_config_json",
]

logger = logging.getLogger(__name__)

# Canonical name -> every spelling seen in config.json files (builder exports, nanoGPT, HF).
CONFIG_ALIASES: dict[str, tuple[str, ...]] = {
    "vocab_size": ("vocab_size", "n_vocab", "vocab", "num_tokens", "ntoken"),
    "max_seq_len": (
        "max_seq_len",
        "seq_length",
        "max_seq_length",
        "max_len",
        "max_length",
        "block_size",
        "n_positions",
        "max_position_embeddings",
        "context_length",
        "n_ctx",
    ),
    "d_model": ("d_model", "n_embd", "hidden_size", "embed_dim", "embedding_dim", "dim", "d_embed"),
    "heads": ("heads", "nhead", "n_heads", "num_heads", "n_head", "num_attention_heads"),
    "layers": (
        "layers",
        "num_layers",
        "n_layers",
        "n_layer",
        "num_hidden_layers",
        "n_blocks",
        "num_blocks",
        "depth",
    ),
    "name": ("model_name", "name"),
}

_ATTENTION_NODE_TYPES = ("mhsa", "attention", "self_attention", "attn")

# Attribute names (last dotted component) of the modules the cross-check reads.
_TOKEN_EMBEDDING_NAMES = (
    "embedding_0_token",
    "token_embedding",
    "tok_embeddings",
    "tok_emb",
    "token_emb",
    "wte",
    "embed_tokens",
    "word_embeddings",
    "embedding",
    "embeddings",
    "embed",
    "emb",
)
_POSITION_EMBEDDING_NAMES = (
    "embedding_0_pos",
    "position_embedding",
    "pos_embedding",
    "pos_emb",
    "wpe",
    "embed_positions",
    "position_embeddings",
    "pos",
    "position",
    "positions",
    "pos_embed",
    "pos_embeddings",
    "positional_embedding",
    "positional_embeddings",
    "position_embedding_table",
    "wpe_emb",
)
_OUTPUT_PROJECTION_NAMES = ("output_0", "lm_head", "to_logits", "output_projection", "logits")
# Generic names count only on the root module itself: `attn.out` inside a block is no vocab projection.
_TOP_LEVEL_OUTPUT_NAMES = ("head", "output", "out", "fc_out", "decoder", "fc", "proj", "linear")


@dataclass
class ModelConfig:
    """The model contract's hyper-parameters; `vocab_size` is the one every package relies on.

    `source` records where the model came from (folder, file, Gist, module) for run folders.
    """

    vocab_size: int
    max_seq_len: int | None = None
    d_model: int | None = None
    heads: int | None = None
    layers: int | None = None
    name: str = "model"
    source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (the form stored in run.json's `model_config`)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelConfig:
        """Inverse of `to_dict`; also accepts a config.json dict in flat or `nodes` form."""
        known = {f.name for f in fields(cls)}
        if set(data) <= known and "vocab_size" in data:
            values = dict(data)
            for key in ("vocab_size", "max_seq_len", "d_model", "heads", "layers"):
                values[key] = _as_int(key, values.get(key))
            return cls(**values)
        values = normalize_config(data)
        if values.get("vocab_size") is None:
            raise ModelLoadError(
                'the config has no vocab_size; add "vocab_size": <int> to it (or load the model '
                "with load_model so it is read off the token embedding)"
            )
        return cls(**{k: v for k, v in values.items() if k in known})


@dataclass
class ModelStructure:
    """What the model's own modules say about its sizes (None where no module tells)."""

    token_embedding: str | None = None
    embedding_rows: int | None = None
    embedding_dim: int | None = None
    output_projection: str | None = None
    output_columns: int | None = None
    position_embedding: str | None = None
    position_rows: int | None = None
    heads: int | None = None
    attention_modules: int = 0


def read_config_json(path: str | Path) -> dict[str, Any]:
    """Parse a config.json, with a one-line error that points at the bad line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelLoadError(
            f"cannot read {path}: {exc.strerror}; check the path and permissions"
        ) from exc
    except UnicodeDecodeError as exc:
        raise ModelLoadError(
            f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}); give a JSON file saved as UTF-8"
        ) from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelLoadError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "fix the file or delete it to let the sizes be read off the model"
        ) from exc
    if not isinstance(data, dict):
        raise ModelLoadError(
            f"{path} holds a JSON {type(data).__name__}, not an object; write it as "
            '{"vocab_size": ..., "d_model": ...}'
        )
    return data


def _first_present(data: Mapping[str, Any], spellings: tuple[str, ...]) -> Any:
    for key in spellings:
        if key in data and data[key] is not None:
            return data[key]
    return None


def _as_int(key: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ModelLoadError(
            f"config value {key}={value!r} is not an integer; write it as a number"
        )
    try:
        number = int(value)
    except ValueError as exc:
        raise ModelLoadError(
            f"config value {key}={value!r} is not an integer; write it as a number"
        ) from exc
    if number != float(value) or number <= 0:
        raise ModelLoadError(
            f"config value {key}={value!r} must be a positive integer; fix config.json"
        )
    return number


def _node_params(data: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
    """Merge the `params` of every node (first value of a key wins) and count attention nodes."""
    nodes = data.get("nodes")
    if not isinstance(nodes, list):
        raise ModelLoadError(
            'config "nodes" must be a list of {"id", "type", "params"} objects; fix config.json'
        )
    merged: dict[str, Any] = {}
    attention = 0
    for node in nodes:
        if not isinstance(node, Mapping):
            raise ModelLoadError(
                f"config node {node!r} is not an object; each node needs id, type and params"
            )
        node_type = str(node.get("type", "")).lower()
        node_id = str(node.get("id", "")).lower()
        if node_type in _ATTENTION_NODE_TYPES or node_id.split("_")[0] in ("mhsa", "attention"):
            attention += 1
        params = node.get("params") or {}
        if not isinstance(params, Mapping):
            raise ModelLoadError(
                f"params of config node {node.get('id')!r} is not an object; fix config.json"
            )
        for key, value in params.items():
            merged.setdefault(key, value)
    return merged, attention


def normalize_config(data: Mapping[str, Any]) -> dict[str, Any]:
    """Canonical values (`vocab_size`, `max_seq_len`, `d_model`, `heads`, `layers`, `name`).

    Accepts the flat form and the `nodes` form; top-level keys win over node params. Missing
    values are None.
    """
    flat: dict[str, Any] = dict(data)
    attention_nodes = 0
    if "nodes" in data:
        params, attention_nodes = _node_params(data)
        for key, value in params.items():
            flat.setdefault(key, value)
    values: dict[str, Any] = {}
    for canonical, spellings in CONFIG_ALIASES.items():
        raw = _first_present(flat, spellings)
        if canonical == "name":
            values["name"] = str(raw) if raw is not None else None
        else:
            values[canonical] = _as_int(canonical, raw)
    if values["layers"] is None and attention_nodes:
        values["layers"] = attention_nodes
    return values


def config_value(data: Mapping[str, Any], key: str) -> Any:
    """The value of constructor argument `key` in a config.json dict, trying every spelling.

    Used to fill constructor arguments: the exact key first, then the node params, then the
    aliases of the canonical name `key` belongs to.
    """
    flat: dict[str, Any] = dict(data)
    if "nodes" in data and isinstance(data.get("nodes"), list):
        params, _ = _node_params(data)
        for name, value in params.items():
            flat.setdefault(name, value)
    if key in flat:
        return flat[key]
    for canonical, spellings in CONFIG_ALIASES.items():
        if canonical != "name" and key in spellings:
            found = _first_present(flat, spellings)
            if found is not None:
                return found
    raise KeyError(key)


def _find_named(model: nn.Module, names: tuple[str, ...], kind: type) -> tuple[str, Any] | None:
    by_last: dict[str, tuple[str, Any]] = {}
    for full_name, module in model.named_modules():
        if full_name and isinstance(module, kind):
            by_last.setdefault(full_name.rsplit(".", 1)[-1], (full_name, module))
    for name in names:
        if name in by_last:
            return by_last[name]
    return None


def find_model_structure(model: nn.Module) -> ModelStructure:
    """Read the vocab, width, position-table length and heads off the model's modules.

    Known attribute names first (builder, nanoGPT, HF, common hand-written names); otherwise the
    first `nn.Embedding` is taken as the token embedding. The output projection is only taken
    from a known name, because any other Linear may be an inner layer.
    """
    from torch import nn

    found = ModelStructure()
    token = _find_named(model, _TOKEN_EMBEDDING_NAMES, nn.Embedding)
    position = _find_named(model, _POSITION_EMBEDDING_NAMES, nn.Embedding)
    if token is None:
        for full_name, module in model.named_modules():
            if isinstance(module, nn.Embedding) and (position is None or module is not position[1]):
                token = (full_name, module)
                break
    if token is not None:
        found.token_embedding = token[0]
        found.embedding_rows = token[1].num_embeddings
        found.embedding_dim = token[1].embedding_dim
    if position is not None:
        found.position_embedding = position[0]
        found.position_rows = position[1].num_embeddings
    output = _find_named(model, _OUTPUT_PROJECTION_NAMES, nn.Linear)
    if output is None:
        children = dict(model.named_children())
        for name in _TOP_LEVEL_OUTPUT_NAMES:
            child = children.get(name)
            if isinstance(child, nn.Linear):
                output = (name, child)
                break
    if output is not None:
        found.output_projection = output[0]
        found.output_columns = output[1].out_features
    for module in model.modules():
        if isinstance(module, nn.MultiheadAttention):
            found.attention_modules += 1
            if found.heads is None:
                found.heads = module.num_heads
    return found


def _conflict(
    what: str, config_value: int, module: str, module_value: int, fix: str
) -> ModelLoadError:
    return ModelLoadError(
        f"config says {what}={config_value} but the model's {module} has {module_value}; {fix}"
    )


def _agreed(
    what: str, config_value: int | None, module: str, module_value: int | None, fix: str
) -> int | None:
    """config.json's value when the model agrees or cannot tell, the model's when config.json
    has none; `_conflict` when both are known and differ."""
    if config_value is None:
        return module_value
    if module_value is not None and module_value != config_value:
        raise _conflict(what, config_value, module, module_value, fix)
    return config_value


def build_model_config(
    model: nn.Module,
    values: Mapping[str, Any] | None = None,
    *,
    default_name: str | None = None,
    source: str | None = None,
) -> ModelConfig:
    """Combine config values (canonical names, None = unknown) with the model's own structure.

    Missing values are read off the model; values present in both must agree, else a
    `ModelLoadError` names both numbers.
    """
    values = dict(values or {})
    structure = find_model_structure(model)
    vocab = values.get("vocab_size")
    fix_vocab = "make config.json's vocab_size match the model (or rebuild the model with the config's size)"
    if vocab is not None:
        for module, rows in (
            (f"token embedding '{structure.token_embedding}'", structure.embedding_rows),
            (f"output projection '{structure.output_projection}'", structure.output_columns),
        ):
            _agreed("vocab_size", vocab, module, rows, fix_vocab)
    else:
        if (
            structure.embedding_rows is not None
            and structure.output_columns is not None
            and structure.embedding_rows != structure.output_columns
        ):
            raise ModelLoadError(
                f"the model's token embedding '{structure.token_embedding}' has {structure.embedding_rows} rows "
                f"but its output projection '{structure.output_projection}' has {structure.output_columns} "
                "columns; add vocab_size to config.json or make both sizes equal"
            )
        vocab = structure.output_columns or structure.embedding_rows
        if vocab is None:
            raise ModelLoadError(
                "vocab_size is not in the config and the model has no nn.Embedding to read it from; "
                'add "vocab_size": <int> to config.json (or pass config=ModelConfig(...))'
            )
    max_seq_len = _agreed(
        "max_seq_len",
        values.get("max_seq_len"),
        f"position table '{structure.position_embedding}'",
        structure.position_rows,
        "make config.json's max_seq_len equal the position table length",
    )
    d_model = _agreed(
        "d_model",
        values.get("d_model"),
        f"token embedding '{structure.token_embedding}' width",
        structure.embedding_dim,
        "make config.json's d_model equal the embedding width",
    )
    heads = values.get("heads") or structure.heads
    layers = values.get("layers") or (structure.attention_modules or None)
    name = values.get("name") or default_name or type(model).__name__
    config = ModelConfig(
        vocab_size=int(vocab),
        max_seq_len=max_seq_len,
        d_model=d_model,
        heads=heads,
        layers=layers,
        name=str(name),
        source=source,
    )
    logger.debug("model config: %s", config)
    return config
