"""Attention masks for `nn.MultiheadAttention`: causal, key padding, and both at once.

Boolean masks where True means "may not attend". When causal and padding masks together leave
a query row with no visible key (a left-padded position), that row is allowed to see itself
only; otherwise softmax over nothing gives NaN, which would poison the loss through the padded
positions even though their outputs are ignored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ["attention_mask_for", "causal_mask"]


def causal_mask(length: int, device: torch.device, key_length: int | None = None) -> torch.Tensor:
    """`[L, S]` bool mask hiding every key after the query's own position."""
    import torch

    key_length = length if key_length is None else key_length
    return torch.ones(length, key_length, dtype=torch.bool, device=device).triu(
        1 + key_length - length
    )


def attention_mask_for(
    *,
    query_length: int,
    key_length: int,
    device: torch.device,
    causal: bool,
    attention_mask: torch.Tensor | None,
    num_heads: int,
) -> torch.Tensor | None:
    """The `attn_mask` to hand `nn.MultiheadAttention`, or None when nothing is masked.

    Without padding: the `[L, S]` causal mask. With padding (`attention_mask` `[B, S]`, 1 = real
    token): a `[B * num_heads, L, S]` mask combining both, rows that would see nothing opened on
    their own position.
    """
    import torch

    if attention_mask is None:
        return causal_mask(query_length, device, key_length) if causal else None
    padding = attention_mask.to(device=device) == 0  # [B, S]
    blocked = padding[:, None, :].expand(-1, query_length, -1)
    if causal:
        blocked = blocked | causal_mask(query_length, device, key_length)[None]
    if query_length == key_length:
        empty_rows = blocked.all(dim=-1, keepdim=True)
        eye = torch.eye(query_length, dtype=torch.bool, device=device)[None]
        blocked = blocked & ~(empty_rows & eye)
    return blocked.repeat_interleave(num_heads, dim=0)
