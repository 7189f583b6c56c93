"""What the adapter will do with a model, before anything is trained: `inspect_model`.

Users of builder exports need to see why their model is not run the way they wrote it: which
`forward` parameters are leaked intermediates, which graph the executor recovered (node by
node), and which repairs the adapter applies (run the graph instead of `forward`, tie the
missing output projection, inject a causal mask). `model-adapter inspect` prints this.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

    from model_adapter.config import ModelConfig

__all__ = ["ModelInspection", "inspect_model"]

_PROBE_LENGTH = 8


@dataclass
class ModelInspection:
    """Signature analysis, recovered graph (empty for non-builder models) and planned repairs."""

    model_name: str
    config: dict[str, Any]
    strategy: str
    signature: str
    parameters: list[dict[str, Any]] = field(default_factory=list)
    required: list[str] = field(default_factory=list)
    requires_intermediate_outputs: bool = False
    simple_signature: bool = False
    graph: list[str] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)

    def to_text(self) -> str:
        config = ", ".join(f"{k}={v}" for k, v in self.config.items() if v is not None)
        lines = [f"model: {self.model_name} ({config})", "", "signature:", f"  {self.signature}"]
        for p in self.parameters:
            required = "required" if p["required"] else "optional"
            lines.append(f"  - {p['name']}: {p['role']} ({p['kind']}, {required})")
        lines.append(
            f"  simple signature: {'yes' if self.simple_signature else 'no'}; "
            f"asks for intermediate outputs: {'yes' if self.requires_intermediate_outputs else 'no'}"
        )
        lines += ["", f"graph (strategy: {self.strategy}):"]
        if self.graph:
            lines += [f"  {index:>2}. {node}" for index, node in enumerate(self.graph, 1)]
        else:
            lines.append("  no builder node markers: the model's own forward runs")
        lines += ["", "repairs:"]
        lines += [f"  - {repair}" for repair in self.repairs] or ["  none needed"]
        return "\n".join(lines)


def inspect_model(model: nn.Module, config: ModelConfig | None = None) -> ModelInspection:
    """Analyse `model` the way `UniversalModelAdapter(model, config, causal=True)` runs it.

    Runs the model twice on 8 random tokens (with and without the causal mask) to tell whether
    its attention needs the mask; nothing else executes.
    """
    from model_adapter.adapter import UniversalModelAdapter

    adapter = UniversalModelAdapter(model, config, causal=True)
    inspector = adapter.inspector
    parameters = [
        {"name": p.name, "role": p.role, "kind": p.kind, "required": p.required}
        for p in inspector.get_parameters()
    ]
    graph = adapter.executor.graph.describe().splitlines() if adapter.executor is not None else []
    return ModelInspection(
        model_name=adapter.config.name,
        config=adapter.config.to_dict(),
        strategy=adapter.strategy,
        signature=inspector.describe(),
        parameters=parameters,
        required=inspector.get_required_params(),
        requires_intermediate_outputs=inspector.requires_intermediate_outputs(),
        simple_signature=inspector.is_simple_signature(),
        graph=graph,
        repairs=_planned_repairs(adapter),
    )


def _planned_repairs(adapter: Any) -> list[str]:
    inspector = adapter.inspector
    model = adapter.model
    repairs: list[str] = []
    if adapter.executor is not None:
        if inspector.requires_intermediate_outputs():
            leaked = [p.name for p in inspector.get_parameters() if p.role == "intermediate"]
            repairs.append(
                f"forward() takes leaked intermediates ({', '.join(leaked)}) -> run the recovered graph"
            )
        elif inspector.is_empty:
            repairs.append("forward() has an empty signature -> run the recovered graph")
        else:
            failure = _forward_failure(adapter)
            if failure:
                repairs.append(f"forward() fails ({failure}) -> run the recovered graph")
            else:
                repairs.append(
                    "builder export -> run the recovered graph (same logits as its forward)"
                )
        repairs += [_short_repair(note) for note in adapter.executor.graph.repairs(model)]
    repairs.append(_causal_repair(adapter))
    if adapter.executor is None:
        if inspector.attention_mask_name:
            repairs.append(
                f"padding: attention_mask passed to forward as '{inspector.attention_mask_name}'"
            )
        elif getattr(adapter, "_attention_modules", 0):
            repairs.append(
                "padding: attention_mask injected as key padding into nn.MultiheadAttention calls"
            )
        else:
            repairs.append(
                "padding: the model takes no attention_mask; padded positions are not masked"
            )
    return repairs


def _short_repair(note: str) -> str:
    if "has no module" in note and "tied" in note:
        node = note.split(" ", 1)[0]
        return f"no {node} module -> tie to embedding ({note})"
    return note


def _forward_failure(adapter: Any) -> str:
    """Why the builder export's own forward cannot run ('' when it runs)."""
    import torch

    ids = _probe_ids(adapter)
    model = adapter.model
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(ids)
    except Exception as exc:  # the failure is what this reports; the graph replaces forward
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        return f"{type(exc).__name__}: {first_line}"
    finally:
        model.train(was_training)
    return ""


def _probe_ids(adapter: Any):
    import torch

    length = min(_PROBE_LENGTH, adapter.max_seq_len or _PROBE_LENGTH)
    device = next((p.device for p in adapter.parameters()), torch.device("cpu"))
    generator = torch.Generator().manual_seed(0)
    return torch.randint(0, adapter.vocab_size, (2, length), generator=generator).to(device)


def _causal_repair(adapter: Any) -> str:
    """Whether the attention needs the adapter's causal mask, measured on a tiny probe."""
    import torch

    from model_adapter.validation.causality import measure_leak
    from model_adapter.validation.context import ValidationContext

    ctx = ValidationContext(
        adapter=adapter,
        vocab_size=adapter.vocab_size,
        max_seq_len=adapter.max_seq_len,
        seq_len=min(_PROBE_LENGTH, adapter.max_seq_len or _PROBE_LENGTH),
        batch_size=1,
        causal=True,
        quick=True,
        device=next((p.device for p in adapter.parameters()), torch.device("cpu")),
    )
    modes = [(m, m.training) for m in adapter.modules()]
    try:
        raw = measure_leak(ctx, ctx.adapter_variant(causal=False))
        repaired = measure_leak(ctx)
    finally:
        for module, training in modes:
            module.training = training
    if raw.leaks and not repaired.leaks:
        return "attention without mask -> inject causal mask (later tokens change earlier logits otherwise)"
    if raw.leaks:
        return (
            "attention sees the future and the adapter cannot mask it -> none possible: "
            "make the model's attention causal (validate will fail causal_leak)"
        )
    return "attention already causal -> no mask needed"
