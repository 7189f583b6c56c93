"""Representations and weights: what the blocks' hidden states look like, and the weights' sizes.

- Blocks: the largest `nn.ModuleList` whose items are all of one type (nanoGPT's `h`, HF's
  `layers`); without one (builder exports keep their nodes as attributes), the normalisation
  layers in order (the residual stream after each sublayer); else the model's direct
  children that return `[B, T, D]` tensors. Forward hooks record each block's output.
- Effective rank (exp of the entropy of the normalised singular values of the token states:
  how many directions the states really use) and anisotropy (mean cosine similarity between
  token states: near 1 means every token looks alike) per block.
- Never-active units: for each activation function call (ReLU, GELU, SiLU, ...), the share of
  its units that are never positive on the probe batch.
- Weight norms: Frobenius norm and RMS of every weight matrix.
- For a run folder, how far each weight moved from the first checkpoint (`run_weights`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from model_adapter.analysis.report import Figure, SectionResult

if TYPE_CHECKING:
    from pathlib import Path

    import torch
    from torch import nn

    from model_adapter.analysis.probe import AnalysisContext

__all__ = ["NAME", "anisotropy", "effective_rank", "find_blocks", "run"]

NAME = "representations"
TITLE = "Representations and weights"
MAX_TOKENS = 2048


def find_blocks(model: nn.Module) -> tuple[str, list[tuple[str, nn.Module]]]:
    """(how they were found, [(name, block)]) for the model's repeated blocks."""
    from torch import nn

    best: tuple[str, nn.ModuleList] | None = None
    for name, module in model.named_modules():
        if isinstance(module, nn.ModuleList) and len(module) > 0:
            kinds = {type(child) for child in module}
            if len(kinds) == 1 and (best is None or len(module) > len(best[1])):
                best = (name, module)
    if best is not None:
        name, modules = best
        return f"nn.ModuleList {name!r} of {type(modules[0]).__name__}", [
            (f"{name}.{index}", child) for index, child in enumerate(modules)
        ]
    norms = [
        (name, module)
        for name, module in model.named_modules()
        if name and "norm" in type(module).__name__.lower()
    ]
    if norms:
        return "normalisation layers (no repeated block list)", norms
    children = [(name, module) for name, module in model.named_children()]
    return "the model's direct children (no repeated block list)", children


def effective_rank(states: torch.Tensor) -> float:
    """exp(entropy of the normalised singular values) of `[N, D]` states (1..min(N, D))."""
    import torch

    singular = torch.linalg.svdvals(states.float())
    total = singular.sum()
    if total <= 0:
        return 0.0
    p = singular / total
    p = p[p > 0]
    return float(torch.exp(-(p * p.log()).sum()))


def anisotropy(states: torch.Tensor, pairs: int = 4096, seed: int = 0) -> float:
    """Mean cosine similarity between random pairs of distinct token states `[N, D]`."""
    import torch
    import torch.nn.functional as F

    n = states.shape[0]
    if n < 2:
        return float("nan")
    generator = torch.Generator().manual_seed(seed)
    a = torch.randint(0, n, (pairs,), generator=generator)
    b = (a + torch.randint(1, n, (pairs,), generator=generator)) % n
    unit = F.normalize(states.float(), dim=-1)
    return float((unit[a] * unit[b]).sum(-1).mean())


def _hidden_states(
    ctx: AnalysisContext, ids: torch.Tensor, blocks: list[tuple[str, nn.Module]]
) -> dict[str, torch.Tensor]:
    import torch

    captured: dict[str, torch.Tensor] = {}
    handles = []
    for name, block in blocks:

        def keep(_module: Any, _args: Any, output: Any, name: str = name) -> None:
            tensor = output[0] if isinstance(output, (tuple, list)) and output else output
            if (
                isinstance(tensor, torch.Tensor)
                and tensor.dim() == 3
                and tensor.is_floating_point()
                and name not in captured
            ):
                captured[name] = (
                    tensor.detach().float().reshape(-1, tensor.shape[-1])[:MAX_TOKENS].cpu()
                )

        handles.append(block.register_forward_hook(keep))
    try:
        ctx.logits(ids)
    finally:
        for handle in handles:
            handle.remove()
    return captured


def _dead_units(ctx: AnalysisContext, ids: torch.Tensor) -> list[dict[str, Any]]:
    from model_adapter.analysis.capture import capture
    from model_adapter.analysis.probe import ModuleStack

    stack = ModuleStack(ctx.model)
    with stack.active(), capture(ctx.model, stack, attention=False, activations=True) as captured:
        ctx.logits(ids)
    rows = []
    for name, (positive, seen) in captured.activations.items():
        units = int(positive.numel())
        if units < 2:
            continue
        never = units - int(positive.sum())
        rows.append(
            {
                "activation": name,
                "units": units,
                "never_active": never,
                "never_active_share": round(never / units, 4),
                "values_per_unit": int(seen),
            }
        )
    return rows


def weight_norms(model: nn.Module) -> list[dict[str, Any]]:
    rows = []
    seen: set[int] = set()
    for name, parameter in model.named_parameters():
        if parameter.dim() < 2 or id(parameter) in seen:
            continue
        seen.add(id(parameter))
        data = parameter.detach().float()
        norm = float(data.norm())
        rows.append(
            {
                "parameter": name,
                "shape": "x".join(str(s) for s in data.shape),
                "norm": round(norm, 5),
                "rms": round(norm / data.numel() ** 0.5, 6),
            }
        )
    return rows


def run(ctx: AnalysisContext, *, run_dir: Path | None = None, max_batch: int = 8) -> SectionResult:
    ids = ctx.input_ids[:max_batch]
    how, blocks = find_blocks(ctx.model)
    states = _hidden_states(ctx, ids, blocks)
    block_rows: list[dict[str, Any]] = [
        {
            "block": name,
            "effective_rank": round(effective_rank(tensor), 3),
            "dimension": int(tensor.shape[-1]),
            "anisotropy": round(anisotropy(tensor, seed=ctx.seed), 4),
        }
        for name, tensor in states.items()
    ]
    dead = _dead_units(ctx, ids)
    norms = weight_norms(ctx.model)
    summary = [f"blocks: {how}, {len(block_rows)} with [B, T, D] outputs"]
    figures: list[Figure] = []
    if block_rows:
        last = block_rows[-1]
        summary.append(
            f"last block: effective rank {last['effective_rank']:.1f} of {last['dimension']} dimensions, "
            f"anisotropy {last['anisotropy']:.2f} (1 = every token looks alike)"
        )
        figures.append(
            Figure(
                "lines",
                "hidden states per block",
                {
                    "x": list(range(len(block_rows))),
                    "series": {
                        "effective rank / D": [
                            r["effective_rank"] / r["dimension"] for r in block_rows
                        ],
                        "anisotropy": [r["anisotropy"] for r in block_rows],
                    },
                    "x_label": "block",
                    "y_label": "share",
                },
            )
        )
    if dead:
        total = sum(r["units"] for r in dead)
        never = sum(r["never_active"] for r in dead)
        summary.append(
            f"activation units never active on the probe batch: {never} of {total} ({never / total:.1%})"
        )
    else:
        summary.append(
            "no ReLU/GELU/SiLU-style activation calls found (never-active units not measured)"
        )
    if norms:
        largest = max(norms, key=lambda r: r["rms"])
        summary.append(
            f"{len(norms)} weight matrices; largest RMS {largest['rms']:.4f} in {largest['parameter']}"
        )
        figures.append(
            Figure(
                "bars",
                "weight RMS per matrix",
                {
                    "labels": [r["parameter"] for r in norms[:40]],
                    "values": [r["rms"] for r in norms[:40]],
                },
            )
        )
    values: dict[str, Any] = {
        "blocks_found_by": how,
        "blocks": block_rows,
        "activations": dead,
        "weights": norms,
    }
    if run_dir is not None:
        from model_adapter.analysis.run_weights import weight_drift

        drift = weight_drift(run_dir, ctx.model)
        values["drift"] = drift
        summary.extend(drift["summary"])
        if drift["parameters"]:
            rows = drift["parameters"][:40]
            figures.append(
                Figure(
                    "bars",
                    f"relative change since {drift['first']}",
                    {
                        "labels": [r["parameter"] for r in rows],
                        "values": [r["relative_change"] for r in rows],
                    },
                    caption="||W_now - W_first|| / ||W_first|| per weight",
                )
            )
    return SectionResult(NAME, TITLE, "ok", summary, values, figures)
