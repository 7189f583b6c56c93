"""`ComputationalGraphExecutor`: run a builder export node by node from its recovered graph.

This replaces calling a builder export's `forward`, which is often broken (leaked parameters,
empty signature, undefined return name) and never causal. Every value comes from a node's own
module applied to its inputs' values; nothing is invented, and a layer's error propagates with
the node named. Where the export's own `forward` works, the executor computes the same logits.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from model_adapter.errors import GraphResolutionError, ModelValidationError
from model_adapter.graph import (
    ATTENTION_TYPES,
    EMBEDDING_TYPES,
    INPUT_TYPES,
    OUTPUT_TYPES,
    RESIDUAL_TYPES,
    GraphNode,
    ModelGraph,
    recover_graph,
)
from model_adapter.masks import attention_mask_for

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["ComputationalGraphExecutor"]

logger = logging.getLogger(__name__)


class ComputationalGraphExecutor:
    """Run a builder export's graph: `executor(input_ids, attention_mask=None) -> logits`.

    Node semantics: input = the token ids; embedding = token embedding + position embedding,
    then dropout; attention (mhsa/attention) = self-attention with a causal mask when
    `causal=True` and `attention_mask` as key padding; residual = sum of its two inputs;
    output = its Linear, or the token embedding's weight when the node has no module; any other
    node = its module applied to its input. Modules are looked up on the model at each call, so
    moving the model or loading new weights needs no new executor.

    It is not an `nn.Module` on purpose: it owns no parameters, the model does.
    """

    def __init__(
        self, model: nn.Module, graph: ModelGraph | None = None, *, causal: bool = True
    ) -> None:
        self.model = model
        self.graph = graph if graph is not None else recover_graph(model)
        self.causal = causal
        self._check_resolvable()

    def _module(self, node: GraphNode, suffix: str = "") -> Any:
        name = node.modules.get(suffix)
        return getattr(self.model, name) if name is not None else None

    def _token_embedding(self) -> Any:
        for node in self.graph.nodes:
            if node.node_type in EMBEDDING_TYPES:
                module = self._module(node, "token") or self._module(node, "")
                if module is not None:
                    return module
        return None

    def _check_resolvable(self) -> None:
        """Fail at construction, naming the node, rather than in the middle of training."""
        from torch import nn

        for node in self.graph.nodes:
            kind = node.node_type
            if kind in INPUT_TYPES or kind in RESIDUAL_TYPES:
                if kind in RESIDUAL_TYPES and len(node.inputs) != 2:
                    raise GraphResolutionError(
                        f"node {node.node_id} (residual) needs two inputs, the graph gives {node.inputs}; "
                        "fix the export's residual connection"
                    )
                continue
            if kind in EMBEDDING_TYPES:
                if self._module(node, "token") is None and self._module(node, "") is None:
                    raise GraphResolutionError(
                        f"node {node.node_id} (embedding) has no token embedding (self.{node.node_id}_token); "
                        "re-export the model"
                    )
                continue
            if kind in OUTPUT_TYPES and not node.modules:
                token = self._token_embedding()
                if token is None or not isinstance(token, nn.Embedding):
                    raise GraphResolutionError(
                        f"node {node.node_id} (output) has no module and there is no token embedding to tie "
                        "it to; add self.output_0 = nn.Linear(d_model, vocab_size) to the export"
                    )
                continue
            if "" not in node.modules:
                if not node.modules:
                    raise GraphResolutionError(
                        f"node {node.node_id} ({kind}) has no module (no attribute self.{node.node_id}) and is not "
                        "a type that needs none; add its module to the export or remove the node"
                    )
                raise GraphResolutionError(
                    f"node {node.node_id} ({kind}) has attributes {sorted(node.modules.values())} but no "
                    f"self.{node.node_id} to call; rename its module to {node.node_id}"
                )

    def describe(self) -> str:
        """The graph as text, one node per line, plus the repairs running it applies."""
        lines = [self.graph.describe()]
        lines += [f"forward problem: {problem}" for problem in self.graph.forward_problems]
        lines += [f"repair: {note}" for note in self.graph.repairs(self.model)]
        if self.causal:
            lines.append("repair: causal mask injected into every attention node")
        return "\n".join(lines)

    def __call__(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self.run(input_ids, attention_mask)

    def run(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits `[B, T, V]` for token ids `[B, T]` (and optional `[B, T]` padding mask, 1 = token)."""
        import torch.nn.functional as F

        values: dict[str, torch.Tensor] = {}
        result: torch.Tensor | None = None
        for node in self.graph.nodes:
            kind = node.node_type
            try:
                if kind in INPUT_TYPES:
                    result = input_ids
                elif kind in EMBEDDING_TYPES:
                    tokens = values[node.inputs[0]] if node.inputs else input_ids
                    result = self._embed(node, tokens)
                elif kind in RESIDUAL_TYPES:
                    result = values[node.inputs[0]] + values[node.inputs[1]]
                elif kind in OUTPUT_TYPES and not node.modules:
                    result = F.linear(values[node.inputs[0]], self._token_embedding().weight)
                elif kind in ATTENTION_TYPES:
                    result = self._attend(node, values[node.inputs[0]], attention_mask)
                else:
                    out = self._module(node)(values[node.inputs[0]])
                    result = out[0] if isinstance(out, tuple) else out
            except (GraphResolutionError, ModelValidationError):
                raise
            except Exception as exc:
                shapes = {dep: tuple(values[dep].shape) for dep in node.inputs if dep in values}
                note = f"raised in graph node {node.node_id} ({kind}) with inputs {shapes}"
                if hasattr(exc, "add_note"):
                    exc.add_note(note)
                else:  # Python 3.10
                    logger.error(note)
                raise
            values[node.node_id] = result
        assert result is not None
        return result

    def _embed(self, node: GraphNode, tokens: torch.Tensor) -> torch.Tensor:
        import torch

        token = self._module(node, "token") or self._module(node, "")
        x = token(tokens)
        position = self._module(node, "pos")
        if position is not None:
            length = tokens.shape[1]
            if length > position.num_embeddings:
                raise ModelValidationError(
                    f"sequence length {length} exceeds the model's max_seq_len {position.num_embeddings} "
                    f"(position table {node.modules['pos']}); truncate inputs to {position.num_embeddings} tokens"
                )
            x = x + position(torch.arange(length, device=tokens.device))
        dropout = self._module(node, "dropout")
        if dropout is not None:
            x = dropout(x)
        return x

    def _attend(
        self, node: GraphNode, x: torch.Tensor, attention_mask: torch.Tensor | None
    ) -> torch.Tensor:
        from torch import nn

        module = self._module(node)
        if isinstance(module, nn.MultiheadAttention):
            batch_first = module.batch_first
            length = x.shape[1]
            mask = attention_mask_for(
                query_length=length,
                key_length=length,
                device=x.device,
                causal=self.causal,
                attention_mask=attention_mask,
                num_heads=module.num_heads,
            )
            if not batch_first:  # graph values are [B, T, D]; this module wants [T, B, D]
                x = x.transpose(0, 1)
            out, _ = module(x, x, x, attn_mask=mask, need_weights=False)
            return out if batch_first else out.transpose(0, 1)
        out = module(x)
        return out[0] if isinstance(out, tuple) else out
