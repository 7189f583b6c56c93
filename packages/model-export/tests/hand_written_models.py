"""Hand-written language models the tests export (no builder conventions).

Kept as plain source so tests can both import the classes and write the same file as a
`model.py` export folder for the CLI.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn


class SDPABlock(nn.Module):
    def __init__(self, d_model: int, n_heads: int) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.ln1 = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(
            nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model)
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=-1)
        q, k, v = (z.view(b, t, self.n_heads, c // self.n_heads).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        x = x + self.proj(y.transpose(1, 2).reshape(b, t, c))
        return x + self.mlp(self.ln2(x))


class SDPATransformerLM(nn.Module):
    """GPT-style LM using scaled_dot_product_attention with a causal mask built from the length."""

    def __init__(self, vocab_size=301, d_model=48, n_heads=4, n_layers=2, max_seq_len=64):
        super().__init__()
        self.vocab_size = vocab_size
        self.max_seq_len = max_seq_len
        self.tok = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Embedding(max_seq_len, d_model)
        self.blocks = nn.ModuleList(SDPABlock(d_model, n_heads) for _ in range(n_layers))
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size, bias=False)
        self.head.weight = self.tok.weight
        self.scale = 1.0 / math.sqrt(d_model)

    def forward(self, input_ids, attention_mask=None):
        t = input_ids.shape[1]
        positions = torch.arange(t, device=input_ids.device)
        causal = torch.ones(t, t, dtype=torch.bool, device=input_ids.device).tril()
        x = self.tok(input_ids) + self.pos(positions)
        for block in self.blocks:
            x = block(x, causal)
        return {"logits": self.head(self.ln_f(x))}


class GRULM(nn.Module):
    """A recurrent language model: no attention, no maximum length."""

    def __init__(self, vocab_size=257, d_model=40, n_layers=2):
        super().__init__()
        self.vocab_size = vocab_size
        self.embed = nn.Embedding(vocab_size, d_model)
        self.gru = nn.GRU(d_model, d_model, num_layers=n_layers, batch_first=True)
        self.head = nn.Linear(d_model, vocab_size)

    def forward(self, input_ids, attention_mask=None):
        hidden, _ = self.gru(self.embed(input_ids))
        return self.head(hidden), hidden


class DataDependentLM(torch.nn.Module):
    """Branches on token values in Python: torch.export refuses, tracing keeps the taken branch."""

    def __init__(self, vocab_size=211):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, 16)
        self.head = nn.Linear(16, vocab_size)

    def forward(self, input_ids, attention_mask=None):
        logits = self.head(self.embed(input_ids))
        if bool((input_ids >= 0).all()):
            return logits
        return -logits


class LengthBakedLM(torch.nn.Module):
    """Builds its causal mask from a Python int of the length: the classic frozen-axis bug."""

    def __init__(self, vocab_size=211, max_seq_len=32):
        super().__init__()
        self.max_seq_len = max_seq_len
        self.embed = nn.Embedding(vocab_size, 16)
        self.head = nn.Linear(16, vocab_size)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        length = int(input_ids.shape[1])
        mask = (
            torch.tril(torch.ones(length, length))
            / torch.arange(1, length + 1).unsqueeze(1).float()
        )
        return self.head(mask @ self.embed(input_ids))
