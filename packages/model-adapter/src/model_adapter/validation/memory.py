"""Memory footprint of training: parameters, gradients, AdamW state and activations.

Knowing before training whether batch x length fits the device saves a crash minutes into a
run. Parameters, gradients and AdamW's two moment buffers follow from the parameter count. The
activations depend on the model: on CUDA they are measured (peak allocated during one
forward + backward); elsewhere they are estimated by summing the output tensors of every leaf
module during one forward pass (what autograd keeps, roughly), and the report says which.
"""

from __future__ import annotations

import os

from model_adapter.report import CheckResult
from model_adapter.validation.context import ValidationContext

NAME = "memory_footprint"
_MB = 1024 * 1024


def _bytes(tensors) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


def _human(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def _measure_cuda_activations(ctx: ValidationContext, ids) -> tuple[int, int]:
    """(bytes autograd keeps after the forward, peak bytes over forward + backward) on CUDA."""
    import torch
    import torch.nn.functional as F

    device = ctx.device
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    before = torch.cuda.memory_allocated(device)
    ctx.adapter.train()
    logits = ctx.adapter(ids)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), ids.reshape(-1))
    torch.cuda.synchronize(device)
    kept = torch.cuda.memory_allocated(device) - before
    loss.backward()
    torch.cuda.synchronize(device)
    peak = torch.cuda.max_memory_allocated(device) - before
    for p in ctx.adapter.parameters():
        p.grad = None
    return max(0, kept), max(0, peak)


def _estimate_activations(ctx: ValidationContext, ids) -> int:
    """Bytes of every distinct tensor a module outputs in one forward, plus attention weights.

    Outputs are counted once per storage (a Sequential returns its last child's tensor), and
    nn.MultiheadAttention adds its [B, heads, T, T] weights, which no submodule outputs.
    """
    import torch
    from torch import nn

    seen: set[tuple[int, tuple[int, ...]]] = set()
    total = 0

    def add(output) -> None:
        nonlocal total
        if isinstance(output, torch.Tensor):
            key = (output.data_ptr(), tuple(output.shape))
            if key not in seen:
                seen.add(key)
                total += output.numel() * output.element_size()
        elif isinstance(output, (tuple, list)):
            for item in output:
                add(item)
        elif isinstance(output, dict):
            for item in output.values():
                add(item)

    def on_output(module, inputs, output) -> None:
        add(output)
        if isinstance(module, nn.MultiheadAttention) and inputs:
            query = inputs[0]
            if query.dim() == 3:
                length = query.shape[1] if module.batch_first else query.shape[0]
            else:
                length = query.shape[0]
            nonlocal total
            total += ids.shape[0] * module.num_heads * length * length * query.element_size()

    handles = [m.register_forward_hook(on_output) for m in ctx.adapter.modules()]
    try:
        ctx.adapter.train()
        with torch.no_grad():
            logits = ctx.adapter(ids)
    finally:
        for handle in handles:
            handle.remove()
    add(logits)
    # the loss keeps a float32 softmax of the logits next to the logits themselves
    return total + logits.numel() * 4


def _available_bytes(ctx: ValidationContext) -> int | None:
    import torch

    if ctx.device.type == "cuda":
        return int(torch.cuda.get_device_properties(ctx.device).total_memory)
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not every platform reports it
        return None


def check(ctx: ValidationContext) -> CheckResult:
    parameters = list(ctx.adapter.parameters())
    trainable = [p for p in parameters if p.requires_grad]
    parameter_bytes = _bytes(parameters) + _bytes(ctx.adapter.buffers())
    gradient_bytes = _bytes(trainable)
    optimizer_bytes = 2 * gradient_bytes  # AdamW: exp_avg and exp_avg_sq per trainable weight

    ids = ctx.random_ids(ctx.batch_size, ctx.seq_len)
    step_peak = None
    if ctx.device.type == "cuda":
        activation_bytes, step_peak = _measure_cuda_activations(ctx, ids)
        method = (
            "measured: torch.cuda.memory_allocated after the forward (what autograd keeps); "
            "cuda_step_peak_mb = torch.cuda.max_memory_allocated over forward+backward"
        )
    else:
        activation_bytes = _estimate_activations(ctx, ids)
        method = "estimated: module outputs + attention weights in one forward (no CUDA)"
    total = parameter_bytes + gradient_bytes + optimizer_bytes + activation_bytes
    available = _available_bytes(ctx)

    values: dict = {
        "total_mb": total / _MB,
        "activations_mb": activation_bytes / _MB,
        "parameters": sum(p.numel() for p in parameters),
        "batch_size": ctx.batch_size,
        "seq_len": ctx.seq_len,
        "parameters_mb": parameter_bytes / _MB,
        "gradients_mb": gradient_bytes / _MB,
        "optimizer_adamw_mb": optimizer_bytes / _MB,
        "activations_method": method,
        "device_memory_mb": available / _MB if available else None,
    }
    if step_peak is not None:
        values["cuda_step_peak_mb"] = step_peak / _MB
    summary = (
        f"training at batch {ctx.batch_size} x {ctx.seq_len}: ~{_human(total)} "
        f"(weights {_human(parameter_bytes)} + grads {_human(gradient_bytes)} + AdamW "
        f"{_human(optimizer_bytes)} + activations {_human(activation_bytes)}, "
        f"{'measured' if ctx.device.type == 'cuda' else 'estimated'})"
    )
    if available and total > available:
        return CheckResult(
            NAME,
            "warning",
            values,
            summary + f" exceeds the device's {_human(available)}",
            "lower the batch size or sequence length, use gradient accumulation, or mixed precision",
        )
    return CheckResult(NAME, "passed", values, summary)
