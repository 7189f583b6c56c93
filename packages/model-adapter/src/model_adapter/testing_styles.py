"""Hand-written models in the styles people bring, as real files, for every package's tests.

The builder factory (`model_adapter.testing`) covers Transformer Builder exports; these cover
the other popular ways of writing a language model, each small enough to train for a few
steps on a CPU:

- "multi_file": model.py imports a sibling module (`from layers import Block`) and a local
  package (`from blocks.norm import RMSNorm`, with a relative import inside);
- "sequence_first": a transformer that takes `[T, B]` (`batch_first=False`, the PyTorch
  tutorial layout) and masks itself;
- "lstm": the word-language-model tutorial's LSTM: `forward(input, hidden)`, `init_hidden(bsz)`,
  `[T, B]` input, flattened log-softmax output;
- "mingpt": a minGPT-style `CfgNode` config from `GPT.get_default_config()`, a model that
  prints its parameter count in `__init__`;
- "namespace": a constructor that takes `args` read by attribute (SimpleNamespace / argparse);
- "scan": a state-space-like recurrence with a Python loop over time;
- "tied": a GPT whose output head shares the token embedding, position table named `pos`.

Example:
    >>> import tempfile
    >>> from model_adapter import load_model
    >>> from model_adapter.testing_styles import write_model_style
    >>> model, config = load_model(write_model_style(tempfile.mkdtemp(), "lstm", vocab_size=53))
    >>> config.vocab_size
    53
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

__all__ = ["STYLES", "write_model_style"]

_MULTI_FILE_MODEL = '''
"""A model split over files: a sibling module and a local package."""
import torch
import torch.nn as nn

from blocks.norm import RMSNorm
from layers import Block


class MultiFileLM(nn.Module):
    def __init__(self, vocab_size, d_model=32, n_heads=2, n_layers=1, max_seq_len=64):
        super().__init__()
        self.tok_emb = nn.Embedding(vocab_size, d_model)
        self.pos_emb = nn.Embedding(max_seq_len, d_model)
        self.blocks = nn.ModuleList([Block(d_model, n_heads) for _ in range(n_layers)])
        self.norm = RMSNorm(d_model)
        self.lm_head = nn.Linear(d_model, vocab_size, bias=False)

    def forward(self, input_ids):
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = self.tok_emb(input_ids) + self.pos_emb(positions)
        for block in self.blocks:
            x = block(x)
        return self.lm_head(self.norm(x))
'''

_MULTI_FILE_LAYERS = """
import torch.nn as nn
import torch.nn.functional as F

from blocks import feed_forward


class Block(nn.Module):
    def __init__(self, d_model, n_heads):
        super().__init__()
        self.n_heads = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.ff = feed_forward(d_model)
        self.ln1 = nn.LayerNorm(d_model)
        self.ln2 = nn.LayerNorm(d_model)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.n_heads, c // self.n_heads).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(y.transpose(1, 2).reshape(b, t, c))
        return x + self.ff(self.ln2(x))
"""

_MULTI_FILE_PACKAGE_INIT = """
from .ffn import feed_forward

__all__ = ["feed_forward"]
"""

_MULTI_FILE_PACKAGE_FFN = """
import torch.nn as nn


def feed_forward(d_model):
    return nn.Sequential(nn.Linear(d_model, 2 * d_model), nn.GELU(), nn.Linear(2 * d_model, d_model))
"""

_MULTI_FILE_PACKAGE_NORM = """
import torch
import torch.nn as nn


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight
"""

_SEQUENCE_FIRST_MODEL = '''
"""The PyTorch tutorial's transformer LM: src is [T, B], output [T, B, ntoken]."""
import math

import torch
import torch.nn as nn


class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=64):
        super().__init__()
        position = torch.arange(max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, 1, d_model)
        pe[:, 0, 0::2] = torch.sin(position * div_term)
        pe[:, 0, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe)

    def forward(self, x):
        return x + self.pe[: x.size(0)]


class TransformerModel(nn.Module):
    def __init__(self, ntoken, d_model=32, nhead=2, d_hid=64, nlayers=1, max_len=64, dropout=0.0):
        super().__init__()
        self.d_model = d_model
        self.pos_encoder = PositionalEncoding(d_model, max_len)
        layer = nn.TransformerEncoderLayer(d_model, nhead, d_hid, dropout)
        self.transformer_encoder = nn.TransformerEncoder(layer, nlayers, enable_nested_tensor=False)
        self.embedding = nn.Embedding(ntoken, d_model)
        self.linear = nn.Linear(d_model, ntoken)

    def forward(self, src):
        length = src.size(0)
        src_mask = torch.triu(torch.full((length, length), float("-inf"), device=src.device), diagonal=1)
        x = self.pos_encoder(self.embedding(src) * math.sqrt(self.d_model))
        return self.linear(self.transformer_encoder(x, src_mask))
'''

_LSTM_MODEL = '''
"""The word-language-model tutorial's RNNModel: forward(input [T, B], hidden), init_hidden(bsz)."""
import torch.nn as nn
import torch.nn.functional as F


class RNNModel(nn.Module):
    def __init__(self, ntoken, ninp=32, nhid=32, nlayers=1, dropout=0.0):
        super().__init__()
        self.ntoken = ntoken
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)
        self.nhid = nhid
        self.nlayers = nlayers

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        output = self.drop(output)
        decoded = self.decoder(output).view(-1, self.ntoken)
        return F.log_softmax(decoded, dim=1), hidden

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        return (weight.new_zeros(self.nlayers, bsz, self.nhid), weight.new_zeros(self.nlayers, bsz, self.nhid))
'''

_MINGPT_MODEL = '''
"""minGPT style: a CfgNode config from GPT.get_default_config(), a parameter count printed."""
import torch
import torch.nn as nn
from torch.nn import functional as F


class CfgNode:
    """A lightweight configuration class inspired by yacs (as in minGPT's utils)."""

    def __init__(self, **kwargs):
        self.__dict__.update(kwargs)

    def merge_from_dict(self, d):
        self.__dict__.update(d)


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.attn = nn.MultiheadAttention(config.n_embd, config.n_head, batch_first=True)
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.mlp = nn.Sequential(nn.Linear(config.n_embd, 4 * config.n_embd), nn.GELU(),
                                 nn.Linear(4 * config.n_embd, config.n_embd))
        self.register_buffer("bias", torch.tril(torch.ones(config.block_size, config.block_size)).bool())

    def forward(self, x):
        t = x.size(1)
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, attn_mask=~self.bias[:t, :t], need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    @staticmethod
    def get_default_config():
        C = CfgNode()
        C.model_type = "gpt"
        C.n_layer = None
        C.n_head = None
        C.n_embd = None
        C.vocab_size = None
        C.block_size = None
        return C

    def __init__(self, config):
        super().__init__()
        assert config.vocab_size is not None
        assert config.block_size is not None
        type_given = config.model_type is not None
        params_given = all([config.n_layer is not None, config.n_head is not None, config.n_embd is not None])
        assert type_given ^ params_given
        if type_given:
            config.merge_from_dict({"gpt-nano": dict(n_layer=3, n_head=3, n_embd=48)}[config.model_type])
        self.block_size = config.block_size
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config.vocab_size, config.n_embd),
            wpe=nn.Embedding(config.block_size, config.n_embd),
            h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
            ln_f=nn.LayerNorm(config.n_embd),
        ))
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        n_params = sum(p.numel() for p in self.transformer.parameters())
        print("number of parameters: %.2fM" % (n_params / 1e6,))

    def forward(self, idx, targets=None):
        b, t = idx.size()
        pos = torch.arange(0, t, dtype=torch.long, device=idx.device).unsqueeze(0)
        x = self.transformer.wte(idx) + self.transformer.wpe(pos)
        for block in self.transformer.h:
            x = block(x)
        logits = self.lm_head(self.transformer.ln_f(x))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
        return logits, loss
'''

_NAMESPACE_MODEL = '''
"""Hyper-parameters as an argparse/SimpleNamespace object read by attribute."""
import torch
import torch.nn as nn


class NamespaceLM(nn.Module):
    def __init__(self, args):
        super().__init__()
        self.embed = nn.Embedding(args.vocab_size, args.dim)
        self.pos = nn.Embedding(args.max_seq_len, args.dim)
        layer = nn.TransformerEncoderLayer(args.dim, args.n_heads, 2 * args.dim, 0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, args.n_layers, enable_nested_tensor=False)
        self.out = nn.Linear(args.dim, args.vocab_size)

    def forward(self, tokens):
        t = tokens.shape[1]
        mask = nn.Transformer.generate_square_subsequent_mask(t, device=tokens.device)
        x = self.embed(tokens) + self.pos(torch.arange(t, device=tokens.device))
        return self.out(self.encoder(x, mask=mask, is_causal=True))
'''

_SCAN_MODEL = '''
"""A state-space-like model: a gated linear recurrence run by a Python loop over time."""
import torch
import torch.nn as nn


class ScanLM(nn.Module):
    def __init__(self, vocab_size, d_model=32, d_state=16):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model)
        self.in_proj = nn.Linear(d_model, d_state)
        self.decay = nn.Parameter(torch.full((d_state,), -1.0))
        self.out_proj = nn.Linear(d_state, d_model)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)

    def forward(self, input_ids):
        x = self.embed(input_ids)
        u = self.in_proj(x)
        a = torch.sigmoid(self.decay)
        state = torch.zeros(u.shape[0], u.shape[2], device=u.device, dtype=u.dtype)
        outputs = []
        for t in range(u.shape[1]):
            state = a * state + (1 - a) * u[:, t]
            outputs.append(state)
        y = torch.stack(outputs, dim=1)
        return self.head(self.norm(x + self.out_proj(y)))
'''

_TIED_MODEL = '''
"""A GPT whose output head shares the token embedding (GPT-2, nanoGPT, small Llamas)."""
import torch
import torch.nn as nn


class TiedGPT(nn.Module):
    def __init__(self, vocab_size, d_model=32, n_heads=2, n_layers=2, block_size=64):
        super().__init__()
        self.tok = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Embedding(block_size, d_model)
        layer = nn.TransformerEncoderLayer(d_model, n_heads, 4 * d_model, 0.0, batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size, bias=False)
        self.head.weight = self.tok.weight
        nn.init.normal_(self.tok.weight, std=0.02)
        print(f"TiedGPT: {sum(p.numel() for p in self.parameters())} parameters")

    def forward(self, idx):
        t = idx.shape[1]
        mask = nn.Transformer.generate_square_subsequent_mask(t, device=idx.device)
        x = self.tok(idx) + self.pos(torch.arange(t, device=idx.device))
        return self.head(self.ln_f(self.blocks(x, mask=mask, is_causal=True)))
'''


def _config(style: str, vocab_size: int, max_seq_len: int) -> dict:
    if style == "multi_file":
        return {
            "vocab_size": vocab_size,
            "d_model": 32,
            "n_heads": 2,
            "n_layers": 1,
            "max_seq_len": max_seq_len,
        }
    if style == "sequence_first":
        return {
            "ntoken": vocab_size,
            "d_model": 32,
            "nhead": 2,
            "d_hid": 64,
            "nlayers": 1,
            "max_len": max_seq_len,
        }
    if style == "lstm":
        return {"ntoken": vocab_size, "ninp": 32, "nhid": 32, "nlayers": 1}
    if style == "mingpt":
        return {
            "model_type": None,
            "n_layer": 1,
            "n_head": 2,
            "n_embd": 32,
            "vocab_size": vocab_size,
            "block_size": max_seq_len,
        }
    if style == "namespace":
        return {
            "vocab_size": vocab_size,
            "dim": 32,
            "n_heads": 2,
            "n_layers": 1,
            "max_seq_len": max_seq_len,
        }
    if style == "scan":
        return {"vocab_size": vocab_size, "d_model": 32, "d_state": 16}
    return {
        "vocab_size": vocab_size,
        "d_model": 32,
        "n_heads": 2,
        "n_layers": 2,
        "block_size": max_seq_len,
    }


_FILES: dict[str, dict[str, str]] = {
    "multi_file": {
        "model.py": _MULTI_FILE_MODEL,
        "layers.py": _MULTI_FILE_LAYERS,
        "blocks/__init__.py": _MULTI_FILE_PACKAGE_INIT,
        "blocks/ffn.py": _MULTI_FILE_PACKAGE_FFN,
        "blocks/norm.py": _MULTI_FILE_PACKAGE_NORM,
    },
    "sequence_first": {"model.py": _SEQUENCE_FIRST_MODEL},
    "lstm": {"model.py": _LSTM_MODEL},
    "mingpt": {"model.py": _MINGPT_MODEL},
    "namespace": {"model.py": _NAMESPACE_MODEL},
    "scan": {"model.py": _SCAN_MODEL},
    "tied": {"model.py": _TIED_MODEL},
}

STYLES = tuple(_FILES)
"""Every style `write_model_style` writes."""


def write_model_style(
    folder: str | Path, style: str, *, vocab_size: int = 97, max_seq_len: int = 64
) -> Path:
    """Write the model of `style` (see `STYLES`) with its config.json into `folder`; return it."""
    if style not in _FILES:
        raise ValueError(f"unknown style {style!r}; choose one of {', '.join(STYLES)}")
    folder = Path(folder)
    for name, text in _FILES[style].items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    (folder / "config.json").write_text(
        json.dumps(_config(style, vocab_size, max_seq_len), indent=2), encoding="utf-8"
    )
    return folder
