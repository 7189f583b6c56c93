"""Shared fixtures: hand-written model sources in the styles users bring, written to real files."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

NANOGPT_SOURCE = '''
"""nanoGPT-style model: GPTConfig dataclass, forward(idx, targets=None) -> (logits, loss)."""
import math
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.nn import functional as F


@dataclass
class GPTConfig:
    block_size: int = 32
    vocab_size: int = 50304
    n_layer: int = 2
    n_head: int = 2
    n_embd: int = 32
    dropout: float = 0.0
    bias: bool = True


class CausalSelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.n_head = config.n_head
        self.n_embd = config.n_embd

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


class MLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.mlp = MLP(config)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config.vocab_size, config.n_embd),
            wpe=nn.Embedding(config.block_size, config.n_embd),
            h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
            ln_f=nn.LayerNorm(config.n_embd),
        ))
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight

    def forward(self, idx, targets=None):
        b, t = idx.size()
        pos = torch.arange(0, t, dtype=torch.long, device=idx.device)
        x = self.transformer.wte(idx) + self.transformer.wpe(pos)
        for block in self.transformer.h:
            x = block(x)
        x = self.transformer.ln_f(x)
        if targets is not None:
            logits = self.lm_head(x)
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
        else:
            logits = self.lm_head(x[:, [-1], :])
            loss = None
        return logits, loss
'''

# A decoder built on nn.MultiheadAttention that never masks: causal only through the adapter.
UNMASKED_MHA_SOURCE = """
import torch
import torch.nn as nn


class UnmaskedDecoder(nn.Module):
    def __init__(self, vocab_size: int, d_model: int = 32, n_heads: int = 2, max_seq_len: int = 32,
                 batch_first: bool = True):
        super().__init__()
        self.batch_first = batch_first
        self.tok_emb = nn.Embedding(vocab_size, d_model)
        self.pos_emb = nn.Embedding(max_seq_len, d_model)
        self.attn = nn.MultiheadAttention(d_model, n_heads, batch_first=batch_first)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)

    def forward(self, tokens):
        x = self.tok_emb(tokens) + self.pos_emb(torch.arange(tokens.shape[1], device=tokens.device))
        if not self.batch_first:
            x = x.transpose(0, 1)
        attended, _ = self.attn(x, x, x)
        if not self.batch_first:
            attended = attended.transpose(0, 1)
            x = x.transpose(0, 1)
        return self.head(self.norm(x + attended))
"""

DICT_OUTPUT_SOURCE = """
import torch.nn as nn


class DictLM(nn.Module):
    def __init__(self, vocab_size=211, d_model=16):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model)
        self.lm_head = nn.Linear(d_model, vocab_size)

    def forward(self, input_ids, attention_mask=None, labels=None, use_cache=False):
        hidden = self.embed(input_ids)
        if attention_mask is not None:
            hidden = hidden * attention_mask.unsqueeze(-1)
        return {"logits": self.lm_head(hidden), "hidden": hidden}
"""

KEYWORD_ONLY_SOURCE = """
import torch.nn as nn


class KeywordOnlyLM(nn.Module):
    def __init__(self, *, vocab_size, d_model=16):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model)
        self.lm_head = nn.Linear(d_model, vocab_size)

    def forward(self, *, input_ids, past_key_values=None):
        return self.lm_head(self.embed(input_ids))
"""


@pytest.fixture
def write_model(tmp_path: Path) -> Callable[..., Path]:
    """Write model.py (and config.json when given) into a fresh folder and return the folder."""
    counter = {"n": 0}

    def write(source: str, config: dict | str | None = None, *, name: str = "model.py") -> Path:
        counter["n"] += 1
        folder = tmp_path / f"model_{counter['n']}"
        folder.mkdir()
        (folder / name).write_text(textwrap.dedent(source), encoding="utf-8")
        if config is not None:
            text = config if isinstance(config, str) else json.dumps(config)
            (folder / "config.json").write_text(text, encoding="utf-8")
        return folder

    return write


@pytest.fixture
def nanogpt_source() -> str:
    return NANOGPT_SOURCE


@pytest.fixture
def unmasked_mha_source() -> str:
    return UNMASKED_MHA_SOURCE


@pytest.fixture
def dict_output_source() -> str:
    return DICT_OUTPUT_SOURCE


@pytest.fixture
def keyword_only_source() -> str:
    return KEYWORD_ONLY_SOURCE
