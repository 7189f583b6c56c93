"""Tier 2 analysis on models whose inside is known, some with planted defects.

The fixture models:

- `MHADecoder`: nn.MultiheadAttention blocks in an nn.ModuleList (weights captured by hooks).
- `SDPADecoder`: hand-written attention through F.scaled_dot_product_attention; one head's
  queries can be zeroed (it must read as uniform) and one head can be left without the causal
  mask (it must show weight on future tokens).
- `HFStyleForCausalLM`: the shape of Hugging Face's Llama "sdpa" path (q/k/v/o projections, a
  4-D additive float mask built by the model, `is_causal=False`, `model.layers`, an output
  object with `.logits`), written here so the test needs no transformers.
- `GRULanguageModel`: no attention at all.
- `WindowLM`: its prediction at t depends on tokens t-3..t only (four tokens of context).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from model_adapter import UniversalModelAdapter
from model_adapter.analysis import SECTIONS, analyze_model
from model_adapter.analysis.capture import sdpa_probabilities
from model_adapter.errors import ModelValidationError


class MHABlock(nn.Module):
    def __init__(self, d_model: int, n_heads: int) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(d_model, n_heads, batch_first=True)
        self.norm = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(
            nn.Linear(d_model, 4 * d_model), nn.ReLU(), nn.Linear(4 * d_model, d_model)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mask = torch.triu(
            torch.ones(x.shape[1], x.shape[1], dtype=torch.bool, device=x.device), diagonal=1
        )
        attended, _ = self.attn(x, x, x, attn_mask=mask, need_weights=False)
        x = self.norm(x + attended)
        return x + self.mlp(x)


class MHADecoder(nn.Module):
    def __init__(
        self,
        vocab_size: int = 61,
        d_model: int = 32,
        n_heads: int = 4,
        n_layers: int = 2,
        max_seq_len: int = 32,
    ) -> None:
        super().__init__()
        self.max_seq_len = max_seq_len
        self.tok_emb = nn.Embedding(vocab_size, d_model)
        self.pos_emb = nn.Embedding(max_seq_len, d_model)
        self.blocks = nn.ModuleList([MHABlock(d_model, n_heads) for _ in range(n_layers)])
        self.head = nn.Linear(d_model, vocab_size)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        x = self.tok_emb(input_ids) + self.pos_emb(
            torch.arange(input_ids.shape[1], device=input_ids.device)
        )
        for block in self.blocks:
            x = block(x)
        return self.head(x)


class SDPAAttention(nn.Module):
    def __init__(
        self,
        d_model: int,
        n_heads: int,
        zero_query_head: int | None = None,
        leaky_head: int | None = None,
        sink_head: int | None = None,
    ) -> None:
        super().__init__()
        self.sink_head = sink_head
        self.n_heads = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.zero_query_head = zero_query_head
        self.leaky_head = leaky_head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = (
            z.view(b, t, self.n_heads, c // self.n_heads).transpose(1, 2)
            for z in self.qkv(x).split(c, dim=2)
        )
        if self.zero_query_head is not None:
            keep = torch.ones(self.n_heads, 1, 1, device=x.device)
            keep[self.zero_query_head] = 0
            q = q * keep
        if (
            self.sink_head is not None
        ):  # an additive float mask: causal, and a strong pull to the first token
            bias = torch.zeros(t, t, device=x.device).masked_fill(
                torch.ones(t, t, dtype=torch.bool).triu(1), float("-inf")
            )
            bias = bias.repeat(self.n_heads, 1, 1)
            bias[self.sink_head, :, 0] += 30.0
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        elif self.leaky_head is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            allowed = (
                torch.ones(t, t, dtype=torch.bool, device=x.device)
                .tril()
                .repeat(self.n_heads, 1, 1)
            )
            allowed[self.leaky_head] = True  # this head sees the whole sequence, future included
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
        return self.proj(y.transpose(1, 2).reshape(b, t, c))


class SDPABlock(nn.Module):
    def __init__(self, d_model: int, n_heads: int, **defects: int | None) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(d_model)
        self.attn = SDPAAttention(d_model, n_heads, **defects)
        self.ln_2 = nn.LayerNorm(d_model)
        self.fc = nn.Linear(d_model, 4 * d_model)
        self.out = nn.Linear(4 * d_model, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.out(F.gelu(self.fc(self.ln_2(x))))


class SDPADecoder(nn.Module):
    def __init__(
        self,
        vocab_size: int = 53,
        d_model: int = 32,
        n_heads: int = 4,
        n_layers: int = 2,
        max_seq_len: int = 32,
        zero_query_head: int | None = None,
        leaky_head: int | None = None,
        sink_head: int | None = None,
    ) -> None:
        super().__init__()
        self.max_seq_len = max_seq_len
        self.wte = nn.Embedding(vocab_size, d_model)
        self.wpe = nn.Embedding(max_seq_len, d_model)
        self.h = nn.ModuleList(
            [
                SDPABlock(
                    d_model,
                    n_heads,
                    zero_query_head=zero_query_head if i == 0 else None,
                    leaky_head=leaky_head if i == 0 else None,
                    sink_head=sink_head if i == 0 else None,
                )
                for i in range(n_layers)
            ]
        )
        self.ln_f = nn.LayerNorm(d_model)
        self.lm_head = nn.Linear(d_model, vocab_size, bias=False)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1], device=idx.device))
        for block in self.h:
            x = block(x)
        return self.lm_head(self.ln_f(x))


@dataclass
class CausalLMOutput:
    logits: torch.Tensor


class HFStyleAttention(nn.Module):
    """Like transformers' LlamaSdpaAttention: separate projections, GQA (fewer key/value heads)."""

    def __init__(self, hidden: int, heads: int, kv_heads: int) -> None:
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, hidden // heads
        self.q_proj = nn.Linear(hidden, heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(hidden, kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(hidden, kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(hidden, hidden, bias=False)

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        b, t, _ = hidden_states.shape
        q = self.q_proj(hidden_states).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(hidden_states).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(hidden_states).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        groups = self.heads // self.kv_heads
        k = k.repeat_interleave(groups, dim=1)  # transformers' repeat_kv
        v = v.repeat_interleave(groups, dim=1)
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attention_mask, dropout_p=0.0, is_causal=False
        )
        return self.o_proj(out.transpose(1, 2).reshape(b, t, -1))


class HFStyleDecoderLayer(nn.Module):
    def __init__(self, hidden: int, heads: int, kv_heads: int) -> None:
        super().__init__()
        self.input_layernorm = nn.LayerNorm(hidden)
        self.self_attn = HFStyleAttention(hidden, heads, kv_heads)
        self.post_attention_layernorm = nn.LayerNorm(hidden)
        self.gate_proj = nn.Linear(hidden, 2 * hidden, bias=False)
        self.up_proj = nn.Linear(hidden, 2 * hidden, bias=False)
        self.down_proj = nn.Linear(2 * hidden, hidden, bias=False)
        self.act_fn = nn.SiLU()

    def forward(
        self, hidden_states: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor]:
        hidden_states = hidden_states + self.self_attn(
            self.input_layernorm(hidden_states), attention_mask
        )
        h = self.post_attention_layernorm(hidden_states)
        return (hidden_states + self.down_proj(self.act_fn(self.gate_proj(h)) * self.up_proj(h)),)


class HFStyleForCausalLM(nn.Module):
    def __init__(
        self,
        vocab_size: int = 97,
        hidden: int = 32,
        heads: int = 4,
        kv_heads: int = 2,
        layers: int = 2,
    ) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(vocab_size, hidden)
        self.layers = nn.ModuleList(
            [HFStyleDecoderLayer(hidden, heads, kv_heads) for _ in range(layers)]
        )
        self.norm = nn.LayerNorm(hidden)
        self.lm_head = nn.Linear(hidden, vocab_size, bias=False)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        use_cache: bool = False,
    ) -> CausalLMOutput:
        b, t = input_ids.shape
        hidden = self.embed_tokens(input_ids)
        minimum = torch.finfo(hidden.dtype).min
        causal = torch.full((t, t), minimum, dtype=hidden.dtype, device=hidden.device).triu(1)
        mask = causal[None, None].expand(b, 1, t, t).clone()
        if attention_mask is not None:
            mask = mask.masked_fill(attention_mask[:, None, None, :] == 0, minimum)
        for layer in self.layers:
            hidden = layer(hidden, mask)[0]
        return CausalLMOutput(logits=self.lm_head(self.norm(hidden)))


class GRULanguageModel(nn.Module):
    def __init__(self, vocab_size: int = 41, d_model: int = 24) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.rnn = nn.GRU(d_model, d_model, batch_first=True)
        self.out = nn.Linear(d_model, vocab_size)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        states, _ = self.rnn(self.embedding(tokens))
        return self.out(states)


class WindowLM(nn.Module):
    """Sees exactly the last `window` tokens: position t mixes the embeddings of t-window+1..t."""

    def __init__(self, vocab_size: int = 37, d_model: int = 32, window: int = 4) -> None:
        super().__init__()
        self.window = window
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.mix = nn.Linear(window * d_model, d_model)
        self.out = nn.Linear(d_model, vocab_size)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        x = self.embedding(input_ids)
        shifted = [F.pad(x, (0, 0, lag, 0))[:, : x.shape[1]] for lag in range(self.window)]
        return self.out(torch.tanh(self.mix(torch.cat(shifted, dim=-1))))


# --------------------------------------------------------------------------------------------
# tests
# --------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _one_thread():
    """These models are tiny: one thread is fastest, and it avoids oversubscribing a shared CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _heads(report, layer_prefix: str = "") -> list[dict]:
    return [h for h in report["attention"].values["heads"] if h["layer"].startswith(layer_prefix)]


def test_sdpa_probabilities_reproduce_the_real_output():
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 3, 5, 4) for _ in range(3))
    mask = torch.randn(5, 5)
    for kwargs in (
        {"is_causal": True},
        {"attn_mask": mask},
        {"attn_mask": mask > 0.5, "scale": 0.3},
    ):
        probabilities = sdpa_probabilities(
            q, k, kwargs.get("attn_mask"), kwargs.get("is_causal", False), kwargs.get("scale")
        )
        expected = F.scaled_dot_product_attention(q, k, v, **kwargs)
        assert torch.allclose(
            torch.nan_to_num(probabilities) @ v, torch.nan_to_num(expected), atol=1e-5
        )


def test_multihead_attention_weights_are_captured_and_the_model_output_is_unchanged():
    torch.manual_seed(0)
    model = MHADecoder(n_heads=4, n_layers=2).eval()
    ids = torch.randint(0, 61, (3, 20))
    adapter = UniversalModelAdapter(model)
    before = model(ids)
    hooks = [(len(m._forward_pre_hooks), len(m._forward_hooks)) for m in model.modules()]
    report = analyze_model(adapter, input_ids=ids, sections=["attention"])
    section = report["attention"]
    assert section.status == "ok"
    assert [layer["layer"] for layer in section.values["layers"]] == [
        "blocks.0.attn",
        "blocks.1.attn",
    ]
    assert {layer["source"] for layer in section.values["layers"]} == {"nn.MultiheadAttention"}
    assert len(section.values["heads"]) == 8
    assert section.values["leaky_heads"] == 0  # the model masks causally itself
    assert torch.equal(model(ids), before)
    assert [(len(m._forward_pre_hooks), len(m._forward_hooks)) for m in model.modules()] == hooks


def test_sdpa_model_zeroed_queries_read_as_uniform_and_a_leaky_head_shows_future_weight():
    torch.manual_seed(0)
    model = SDPADecoder(n_heads=4, zero_query_head=1, leaky_head=2)
    report = analyze_model(model, seq_len=24, batch_size=4, sections=["attention"])
    heads = {h["head"]: h for h in _heads(report, "h.0.")}
    assert set(heads) == {0, 1, 2, 3}
    assert heads[1]["normalised_entropy"] == pytest.approx(1.0, abs=1e-4)
    assert "uniform" in heads[1]["status"]
    assert heads[2]["future_weight_max"] > 0.3 and "LEAK" in heads[2]["status"]
    for h in (0, 1, 3):
        assert heads[h]["future_weight_max"] == pytest.approx(0.0, abs=1e-6)
    assert all(
        h["future_weight_max"] == pytest.approx(0.0, abs=1e-6) for h in _heads(report, "h.1.")
    )
    assert report["attention"].values["leaky_heads"] == 1
    assert any("LEAK" in line for line in report["attention"].summary)


def test_two_heads_with_the_same_queries_and_keys_read_as_duplicates():
    torch.manual_seed(0)
    model = SDPADecoder(d_model=32, n_heads=4)
    qkv, head_dim = model.h[0].attn.qkv, 8
    with torch.no_grad():
        for offset in (0, 32):  # the q rows, then the k rows
            qkv.weight[offset + head_dim : offset + 2 * head_dim] = qkv.weight[
                offset : offset + head_dim
            ]
            qkv.bias[offset + head_dim : offset + 2 * head_dim] = qkv.bias[
                offset : offset + head_dim
            ]
    report = analyze_model(model, seq_len=16, batch_size=2, sections=["attention"])
    layers = {layer["layer"]: layer for layer in report["attention"].values["layers"]}
    assert layers["h.0.attn"]["duplicate_pairs"] == [[0, 1]]
    assert layers["h.1.attn"]["duplicate_pairs"] == []
    assert [h["status"] for h in _heads(report, "h.0.")][:2] == ["duplicate", "duplicate"]


def test_a_head_pulled_to_the_first_token_reads_as_parked_there():
    torch.manual_seed(0)
    report = analyze_model(
        SDPADecoder(n_heads=4, sink_head=3), seq_len=16, batch_size=2, sections=["attention"]
    )
    heads = {h["head"]: h for h in _heads(report, "h.0.")}
    assert heads[3]["sink_share"] > 0.99 and "parked on first token" in heads[3]["status"]
    assert all(heads[h]["sink_share"] < 0.9 for h in (0, 1, 2))
    assert all(h["future_weight_max"] == 0.0 for h in heads.values())


def test_healthy_sdpa_heads_are_not_uniform():
    torch.manual_seed(0)
    report = analyze_model(SDPADecoder(n_heads=4), seq_len=24, batch_size=4, sections=["attention"])
    assert all(h["normalised_entropy"] < 1.0 - 1e-4 for h in _heads(report))
    assert report["attention"].values["leaky_heads"] == 0


def test_hf_style_sdpa_model_with_float_mask_and_grouped_heads():
    torch.manual_seed(0)
    report = analyze_model(
        HFStyleForCausalLM(heads=4, kv_heads=2, layers=2), seq_len=16, batch_size=2
    )
    assert all(section.status == "ok" for section in report.sections), report.to_text()
    layers = report["attention"].values["layers"]
    assert [layer["layer"] for layer in layers] == ["layers.0.self_attn", "layers.1.self_attn"]
    assert all(layer["heads"] == 4 for layer in layers)
    assert report["attention"].values["max_future_weight"] == pytest.approx(0.0, abs=1e-6)
    assert report["representations"].values["blocks_found_by"].startswith("nn.ModuleList 'layers'")


@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_real_transformers_models_with_sdpa_attention(family):
    transformers = pytest.importorskip(
        "transformers", reason="transformers is not installed (test dependency group)"
    )
    if family == "gpt2":
        config = transformers.GPT2Config(
            vocab_size=101, n_positions=32, n_embd=32, n_layer=2, n_head=2
        )
        model_class, heads = transformers.GPT2LMHeadModel, 2
    else:  # grouped-query attention: 4 query heads share 2 key/value heads
        config = transformers.LlamaConfig(
            vocab_size=101,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=32,
        )
        model_class, heads = transformers.LlamaForCausalLM, 4
    config._attn_implementation = "sdpa"
    torch.manual_seed(0)
    model = model_class(config)
    assert model.config._attn_implementation == "sdpa"
    report = analyze_model(
        model,
        {"vocab_size": 101, "max_seq_len": 32},
        seq_len=16,
        batch_size=2,
        sections=["attention"],
    )
    section = report["attention"]
    assert section.status == "ok", section.summary
    assert {layer["source"] for layer in section.values["layers"]} == {
        "scaled_dot_product_attention"
    }
    assert section.values["heads_total"] == 2 * heads
    assert section.values["leaky_heads"] == 0


def test_rnn_has_no_attention_and_every_other_section_runs():
    torch.manual_seed(0)
    report = analyze_model(GRULanguageModel(), seq_len=16, batch_size=4)
    assert report["attention"].status == "skipped"
    assert "no attention found" in report["attention"].summary[0]
    for name in SECTIONS[1:]:
        assert report[name].status == "ok", (name, report[name].summary)


def test_context_curve_of_a_four_token_model_is_flat_after_four():
    torch.manual_seed(0)
    report = analyze_model(WindowLM(window=4), seq_len=20, batch_size=16, sections=["context"])
    values = report["context"].values
    curve = dict(zip(values["k"], values["loss"]))
    assert all(abs(curve[k] - curve[4]) < 1e-4 for k in curve if k >= 4)
    assert abs(curve[3] - curve[4]) > 1e-3 and abs(curve[1] - curve[4]) > 1e-3


def test_attribution_states_its_baseline_and_is_complete():
    torch.manual_seed(0)
    report = analyze_model(
        SDPADecoder(), seq_len=12, batch_size=2, sections=["attribution"], attribution_steps=64
    )
    values = report["attribution"].values
    assert values["baseline"] == "zeros" and values["method"] == "integrated gradients"
    assert len(values["scores"]) == 11
    total = values["log_prob"] - values["log_prob_baseline"]
    assert abs(values["completeness_gap"]) < 0.05 * max(1.0, abs(total))


def test_attribution_of_a_window_model_is_zero_beyond_its_window():
    torch.manual_seed(0)
    report = analyze_model(WindowLM(window=4), seq_len=12, batch_size=2, sections=["attribution"])
    scores = report["attribution"].values["scores"]
    assert all(s == 0.0 for s in scores[:-4])
    assert any(s != 0.0 for s in scores[-4:])


def test_robustness_degrades_with_damage():
    torch.manual_seed(0)
    report = analyze_model(SDPADecoder(), seq_len=16, batch_size=4, sections=["robustness"])
    values = report["robustness"].values
    replaced = values["token_replacement"]
    assert replaced[0]["top1_kept"] == 1.0 and replaced[-1]["top1_kept"] < 1.0
    noise = values["embedding_noise"]
    assert noise[0]["top1_kept"] == 1.0 and noise[-1]["top1_kept"] < noise[1]["top1_kept"] + 1e-9


def test_representations_find_blocks_and_dead_units():
    torch.manual_seed(0)
    model = MHADecoder(n_layers=3)
    with torch.no_grad():
        model.blocks[0].mlp[0].bias[:10] = -100.0  # ten ReLU units that can never fire
    report = analyze_model(model, seq_len=16, batch_size=4, sections=["representations"])
    values = report["representations"].values
    assert values["blocks_found_by"] == "nn.ModuleList 'blocks' of MHABlock"
    assert [b["block"] for b in values["blocks"]] == ["blocks.0", "blocks.1", "blocks.2"]
    assert all(1.0 <= b["effective_rank"] <= 32 for b in values["blocks"])
    first = next(a for a in values["activations"] if a["activation"].startswith("blocks.0.mlp"))
    assert first["never_active"] >= 10
    assert {w["parameter"] for w in values["weights"]} >= {"tok_emb.weight", "head.weight"}


def test_analysis_leaves_the_model_as_it_found_it():
    model = SDPADecoder().train()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    analyze_model(model, seq_len=8, batch_size=2)
    assert torch.equal(torch.rand(1), expected_next)
    assert model.training and all(m.training for m in model.modules())
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    assert all(
        not m._forward_hooks and not m._forward_pre_hooks for m in model.modules()
    )  # no nn.MultiheadAttention


def test_texts_and_tokenizer_feed_the_windows():
    class CharTokenizer:
        def encode(self, text):
            return [ord(c) % 53 for c in text]

        def convert_ids_to_tokens(self, ids):
            return [chr(97 + i % 26) for i in ids]

    report = analyze_model(
        SDPADecoder(),
        texts=["hello world " * 20],
        tokenizer=CharTokenizer(),
        seq_len=16,
        batch_size=4,
        sections=["attribution"],
    )
    assert report.settings["windows"] == 4 and "from the given texts" in report.settings["inputs"]
    assert all(len(token) == 1 for token in report["attribution"].values["tokens"])


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"sections": ["attention", "vibes"]}, "unknown analysis section"),
        ({"seq_len": 999}, "exceeds the model's max_seq_len"),
        ({"texts": "abc"}, "need a tokenizer"),
        ({"input_ids": [[1, 2, 999]]}, "must lie in"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_bad_arguments_raise_one_line_errors(kwargs, fragment):
    with pytest.raises(ModelValidationError, match=fragment) as caught:
        analyze_model(SDPADecoder(), **kwargs)
    assert "\n" not in str(caught.value)


def test_report_renders_json_text_and_self_contained_html(tmp_path):
    torch.manual_seed(0)
    report = analyze_model(SDPADecoder(leaky_head=0), seq_len=12, batch_size=2)
    data = json.loads(report.to_json())
    assert [s["name"] for s in data["sections"]] == list(SECTIONS)
    assert "LEAK" in report.to_text()
    page = report.to_html(tmp_path / "report.html")
    assert (tmp_path / "report.html").read_text(encoding="utf-8") == page
    assert page.count("<svg") >= 5
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page and "<script" not in page


# --- a trained model against its untrained start ------------------------------------------------
PERIOD = 4


def _periodic_windows(
    count: int, length: int, vocab: int, generator: torch.Generator
) -> torch.Tensor:
    """Windows that repeat a random pattern of PERIOD tokens: predicting needs PERIOD tokens back."""
    pattern = torch.randint(0, vocab, (count, PERIOD), generator=generator)
    return pattern.repeat(1, length // PERIOD + 1)[:, :length]


def test_training_changes_effective_context_and_attention_entropy():
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    vocab, length = 23, 16
    model = SDPADecoder(vocab_size=vocab, d_model=32, n_heads=2, n_layers=1, max_seq_len=length)
    probe = _periodic_windows(16, length, vocab, generator)
    sections = ["attention", "context"]
    before = analyze_model(model, input_ids=probe, sections=sections)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(200):
        batch = _periodic_windows(16, length, vocab, generator)
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, vocab), batch[:, 1:].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = analyze_model(model, input_ids=probe, sections=sections)
    assert before["context"].values["effective_context"] <= 2
    assert after["context"].values["effective_context"] >= PERIOD
    assert (
        after["context"].values["context_benefit_nats"]
        > before["context"].values["context_benefit_nats"] + 1.0
    )
    assert (
        after["attention"].values["mean_normalised_entropy"]
        < before["attention"].values["mean_normalised_entropy"] - 0.1
    )


def test_bar_chart_draws_negative_values_left_of_zero():
    import re

    from model_adapter.analysis.html import render_figure
    from model_adapter.analysis.report import Figure

    svg = render_figure(Figure("bars", "scores", {"labels": ["neg", "pos"], "values": [-2.0, 1.0]}))
    (zero,) = [float(x) for x in re.findall(r'<line x1="([\d.]+)"', svg)]
    bars = [
        (float(x), float(w))
        for x, w in re.findall(r'<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', svg)
    ]
    (neg_x, neg_w), (pos_x, pos_w) = bars
    assert neg_x + neg_w == pytest.approx(zero, abs=0.2) and pos_x == pytest.approx(zero, abs=0.2)
    assert neg_w == pytest.approx(2 * pos_w, rel=0.01)


def test_notebooks_show_the_page_in_a_frame_that_keeps_its_styles_to_itself():
    import html

    report = analyze_model(SDPADecoder(), seq_len=8, batch_size=2, sections=["context"])
    shown = report._repr_html_()
    assert shown.startswith("<iframe srcdoc=") and "<style>" not in shown
    assert html.unescape(shown.split('srcdoc="', 1)[1].split('" title=', 1)[0]) == report.to_html()
