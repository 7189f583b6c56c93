"""UniversalModelAdapter: one (input_ids, attention_mask) -> logits contract for every model style."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.overrides import TorchFunctionMode

from model_adapter import (
    ModelConfig,
    ModelLoadError,
    ModelValidationError,
    UniversalModelAdapter,
    example_export_path,
    load_model,
)
from model_adapter.testing import write_builder_export


def _earliest_logits_change(
    adapter: nn.Module, vocab_size: int, length: int = 10, changed_from: int = 6
) -> float:
    """Max change of the logits before `changed_from` when the tokens from there on change."""
    torch.manual_seed(1)
    ids = torch.randint(0, vocab_size, (2, length))
    changed = ids.clone()
    changed[:, changed_from:] = (changed[:, changed_from:] + 1) % vocab_size
    adapter.eval()
    with torch.no_grad():
        return (
            (adapter(ids)[:, :changed_from] - adapter(changed)[:, :changed_from]).abs().max().item()
        )


# --- builder exports -------------------------------------------------------------------------


def test_example_export_runs_through_the_graph_and_is_causal():
    model, config = load_model(example_export_path())
    adapter = UniversalModelAdapter(model, config)

    adapter.eval()
    with torch.no_grad():
        logits = adapter(torch.randint(0, 3001, (2, 16)))

    assert adapter.strategy == "graph"
    assert logits.shape == (2, 16, 3001)
    assert adapter.vocab_size == 3001 and adapter.max_seq_len == 128 and adapter.causal
    assert _earliest_logits_change(adapter, 3001) == 0.0
    assert _earliest_logits_change(UniversalModelAdapter(model, config, causal=False), 3001) > 1e-4


@pytest.mark.parametrize(
    "defect", ["leaked_intermediates", "empty_signature", "missing_output_module"]
)
def test_broken_builder_exports_train(tmp_path, defect):
    model, config = load_model(
        write_builder_export(tmp_path, vocab_size=517, defects=(defect, "unmasked_attention"))
    )
    adapter = UniversalModelAdapter(model, config)
    ids = torch.randint(0, 517, (2, 12))

    logits = adapter(ids)
    loss = nn.functional.cross_entropy(logits[:, :-1].reshape(-1, 517), ids[:, 1:].reshape(-1))
    loss.backward()

    assert adapter.strategy == "graph"
    assert all(p.grad is not None for p in model.parameters())


def test_working_builder_export_uses_the_graph_after_agreeing_with_forward(tmp_path):
    model, config = load_model(
        write_builder_export(tmp_path, vocab_size=517, defects=("unmasked_attention",))
    )

    adapter = UniversalModelAdapter(model, config)

    assert adapter.strategy == "graph"
    assert _earliest_logits_change(adapter, 517) == 0.0


def test_builder_graph_that_disagrees_with_working_forward_falls_back_to_forward(tmp_path):
    folder = write_builder_export(tmp_path, vocab_size=517, defects=("unmasked_attention",))
    source = (folder / "model.py").read_text()
    source = source.replace(
        "embedding_0_x = self.embedding_0_dropout(embedding_0_x)",
        "embedding_0_x = self.embedding_0_dropout(embedding_0_x) * 2.0",
    )
    (folder / "model.py").write_text(source)
    model, config = load_model(folder)

    adapter = UniversalModelAdapter(model, config).eval()
    ids = torch.randint(0, 517, (1, 9))

    assert adapter.strategy == "forward"
    with torch.no_grad():
        assert torch.equal(
            UniversalModelAdapter(model, config, causal=False).eval()(ids), model(ids)
        )
    assert _earliest_logits_change(adapter, 517) == 0.0  # causal mask injected through the hooks


def test_key_padding_reaches_the_graph(tmp_path):
    model, config = load_model(
        write_builder_export(tmp_path, vocab_size=517, defects=("unmasked_attention",))
    )
    adapter = UniversalModelAdapter(model, config, causal=False).eval()
    ids = torch.randint(0, 517, (1, 8))
    mask = torch.tensor([[1, 1, 1, 1, 1, 0, 0, 0]])
    changed = ids.clone()
    changed[0, 5:] = (changed[0, 5:] + 1) % 517

    with torch.no_grad():
        diff = (adapter(ids, mask)[0, :5] - adapter(changed, mask)[0, :5]).abs().max().item()
        unmasked_diff = (adapter(ids)[0, :5] - adapter(changed)[0, :5]).abs().max().item()

    assert diff == 0.0
    assert unmasked_diff > 1e-4


# --- hand-written models ---------------------------------------------------------------------


def test_nanogpt_style_returns_logits_for_every_position(write_model, nanogpt_source):
    model, config = load_model(
        write_model(
            nanogpt_source,
            {"vocab_size": 211, "block_size": 16, "n_layer": 1, "n_head": 2, "n_embd": 16},
        )
    )
    adapter = UniversalModelAdapter(model, config).eval()
    ids = torch.randint(0, 211, (2, 10))

    with torch.no_grad():
        logits = adapter(ids)
        full, _ = model(ids, targets=ids)

    assert adapter.strategy == "forward"
    assert logits.shape == (2, 10, 211)
    assert torch.equal(logits, full)
    assert _earliest_logits_change(adapter, 211) == 0.0


class CrossEntropyCalls(TorchFunctionMode):
    """Counts `F.cross_entropy` calls made while active (torch's own function-mode dispatch)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.calls += func is F.cross_entropy
        return func(*args, **(kwargs or {}))


def _training_step_gradients(adapter, ids):
    """The gradients of one next-token loss on `ids`, and how many cross-entropies were computed."""
    adapter.zero_grad(set_to_none=True)
    with CrossEntropyCalls() as counted:
        logits = adapter(ids)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))
    loss.backward()
    return {name: p.grad.clone() for name, p in adapter.named_parameters()}, counted.calls


def test_a_nanogpt_style_model_computes_no_discarded_loss_and_gradients_stay_identical(
    write_model, nanogpt_source
):
    model, config = load_model(
        write_model(
            nanogpt_source, {"vocab_size": 97, "block_size": 16, "n_layer": 1, "n_embd": 16}
        )
    )
    adapter = UniversalModelAdapter(model, config, sequence_first=False).train()
    ids = torch.randint(0, 97, (3, 12))
    adapter(ids)  # finds the last-position output and the module that returns the logits

    shortcut, shortcut_losses = _training_step_gradients(adapter, ids)
    adapter._logits_shortcut.enabled = False
    full, full_losses = _training_step_gradients(adapter, ids)

    assert (shortcut_losses, full_losses) == (1, 2)  # ours alone; ours and the model's own
    assert shortcut.keys() == full.keys()
    assert all(torch.equal(shortcut[name], full[name]) for name in full)


def test_the_shortcut_is_off_when_the_logits_are_changed_after_the_last_module(
    write_model, nanogpt_source
):
    scaled = nanogpt_source.replace("logits = self.lm_head(x)", "logits = self.lm_head(x) / 2.0")
    assert scaled != nanogpt_source
    model, config = load_model(write_model(scaled, {"vocab_size": 97, "block_size": 16}))
    adapter = UniversalModelAdapter(model, config, sequence_first=False)
    ids = torch.randint(0, 97, (2, 8))
    adapter(ids)

    _, losses = _training_step_gradients(adapter, ids)
    with torch.no_grad():
        expected, _ = model(ids, targets=ids)

    assert losses == 2  # the model's own loss is computed: nothing stops the forward early
    assert torch.equal(adapter(ids), expected)


def test_unmasked_multihead_attention_gets_a_causal_mask(write_model, unmasked_mha_source):
    model, config = load_model(write_model(unmasked_mha_source, {"vocab_size": 301}))

    repaired = UniversalModelAdapter(model, config, causal=True)
    raw = UniversalModelAdapter(model, config, causal=False)

    assert _earliest_logits_change(repaired, 301) == 0.0
    assert _earliest_logits_change(raw, 301) > 1e-4


def test_causal_hooks_act_only_inside_the_adapter(write_model, unmasked_mha_source):
    model, config = load_model(write_model(unmasked_mha_source, {"vocab_size": 301}))
    UniversalModelAdapter(model, config, causal=True)
    UniversalModelAdapter(model, config, causal=True)  # a second adapter adds no second hook

    model.eval()
    ids = torch.randint(0, 301, (1, 8))
    changed = ids.clone()
    changed[0, 6:] = (changed[0, 6:] + 1) % 301
    with torch.no_grad():
        direct_diff = (model(ids)[0, :6] - model(changed)[0, :6]).abs().max().item()

    assert direct_diff > 1e-4
    assert len(model.attn._forward_pre_hooks) == 1


def test_sequence_first_multihead_attention_gets_causal_and_padding_masks(
    write_model, unmasked_mha_source
):
    model, config = load_model(
        write_model(unmasked_mha_source, {"vocab_size": 301, "batch_first": False})
    )
    adapter = UniversalModelAdapter(model, config).eval()
    ids = torch.randint(0, 301, (2, 8))
    mask = torch.ones(2, 8, dtype=torch.long)
    mask[1, :3] = 0  # left padding
    changed = ids.clone()
    changed[1, :3] = (changed[1, :3] + 1) % 301  # change only padded tokens

    assert _earliest_logits_change(adapter, 301) == 0.0
    with torch.no_grad():
        a, b = adapter(ids, mask), adapter(changed, mask)
    assert torch.isfinite(a).all()
    assert (a[1, 3:] - b[1, 3:]).abs().max().item() == 0.0  # real tokens ignore the padding


def test_deepcopy_keeps_the_repair(write_model, unmasked_mha_source):
    model, config = load_model(write_model(unmasked_mha_source, {"vocab_size": 301}))
    adapter = copy.deepcopy(UniversalModelAdapter(model, config))

    assert _earliest_logits_change(adapter, 301) == 0.0


def test_dict_output_and_attention_mask_passed_through(write_model, dict_output_source):
    model, config = load_model(write_model(dict_output_source))
    adapter = UniversalModelAdapter(model, config).eval()
    ids = torch.randint(0, 211, (2, 5))
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])

    with torch.no_grad():
        logits = adapter(ids, mask)

    assert torch.equal(logits, model(ids, attention_mask=mask)["logits"])


def test_keyword_only_forward(write_model, keyword_only_source):
    model, config = load_model(write_model(keyword_only_source, {"vocab_size": 99}))
    adapter = UniversalModelAdapter(model, config)

    assert adapter(torch.randint(0, 99, (3, 4))).shape == (3, 4, 99)


class _TupleLM(nn.Module):
    def __init__(self, vocab_size: int = 64):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, 8)
        self.head = nn.Linear(8, vocab_size)

    def forward(self, x, labels=None, cache=None):
        hidden = self.embed(x)
        return self.head(hidden), hidden


class _ObjectOutput:
    def __init__(self, logits):
        self.logits = logits


class _ObjectLM(_TupleLM):
    def forward(self, input_ids, past_key_values=None, use_cache=True):
        return _ObjectOutput(self.head(self.embed(input_ids)))


class _PositionalOnlyLM(_TupleLM):
    def forward(self, seq, /):
        return self.head(self.embed(seq))


@pytest.mark.parametrize("cls", [_TupleLM, _ObjectLM, _PositionalOnlyLM])
def test_output_and_input_styles(cls):
    model = cls()
    adapter = UniversalModelAdapter(model)
    ids = torch.randint(0, 64, (2, 6))

    logits = adapter(ids)

    assert logits.shape == (2, 6, 64)
    assert torch.equal(logits, model.head(model.embed(ids)))


def test_vocab_mismatch_between_config_and_output_is_an_error():
    with pytest.raises(ModelLoadError, match=r"vocab_size=70.*64"):
        UniversalModelAdapter(_TupleLM(64), ModelConfig(vocab_size=70))


def test_wrong_output_shape_is_an_error():
    class Pooled(_TupleLM):
        def forward(self, x):
            return self.head(self.embed(x)).mean(dim=1)

    with pytest.raises(
        ModelValidationError, match=r"logits of shape \(2, 64\).*\[batch, seq, vocab_size\]"
    ):
        UniversalModelAdapter(Pooled())(torch.zeros(2, 3, dtype=torch.long))


def test_output_without_logits_is_an_error():
    class Nothing(_TupleLM):
        def forward(self, x):
            return "no tensor"

    with pytest.raises(ModelValidationError, match="holds no logits"):
        UniversalModelAdapter(Nothing())(torch.zeros(2, 3, dtype=torch.long))


def test_forward_needing_unknown_arguments_is_an_error():
    class NeedsMemory(_TupleLM):
        def forward(self, x, memory):
            return self.head(self.embed(x))

    with pytest.raises(ModelLoadError, match="needs memory besides the token ids"):
        UniversalModelAdapter(NeedsMemory())


def test_too_long_and_badly_shaped_inputs(tmp_path):
    model, config = load_model(write_builder_export(tmp_path, max_seq_len=8))
    adapter = UniversalModelAdapter(model, config)

    with pytest.raises(
        ModelValidationError, match="sequence length 9 exceeds the model's max_seq_len 8"
    ):
        adapter(torch.zeros(1, 9, dtype=torch.long))
    with pytest.raises(ModelValidationError, match="input_ids must be \\[batch, seq\\]"):
        adapter(torch.zeros(9, dtype=torch.long))
    with pytest.raises(ModelValidationError, match="attention_mask has shape"):
        adapter(torch.zeros(1, 4, dtype=torch.long), torch.ones(1, 5))


def test_state_dict_is_the_user_module(tmp_path):
    model, config = load_model(write_builder_export(tmp_path))
    adapter = UniversalModelAdapter(model, config)

    assert adapter.model is model
    assert set(adapter.model.state_dict()) == set(model.state_dict())


# --- Hugging Face models (optional: model-adapter does not depend on transformers) ------------


def test_hugging_face_gpt2_with_padding():
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(
        transformers.GPT2Config(vocab_size=517, n_positions=32, n_embd=32, n_layer=1, n_head=2)
    )
    _, config = load_model(model)
    adapter = UniversalModelAdapter(model, config).eval()
    ids = torch.randint(0, 517, (2, 7))
    mask = torch.tensor([[1, 1, 1, 1, 1, 0, 0], [1] * 7])

    with torch.no_grad():
        logits = adapter(ids, mask)
        expected = model(input_ids=ids, attention_mask=mask).logits

    assert config.vocab_size == 517 and config.max_seq_len == 32
    assert torch.equal(logits, expected)


HF_CUSTOM_SOURCE = """
import torch.nn as nn
from transformers import PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import CausalLMOutput


class TinyHFConfig(PretrainedConfig):
    model_type = "tiny-hf-test"

    def __init__(self, vocab_size=100, hidden_size=16, **kwargs):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        super().__init__(**kwargs)


class TinyHFModel(PreTrainedModel):
    config_class = TinyHFConfig

    def __init__(self, config: TinyHFConfig):
        super().__init__(config)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, labels=None, past_key_values=None, use_cache=None):
        return CausalLMOutput(logits=self.lm_head(self.embed_tokens(input_ids)))
"""


def test_hugging_face_pretrained_model_subclass_from_model_py(write_model):
    pytest.importorskip("transformers")
    folder = write_model(HF_CUSTOM_SOURCE, {"vocab_size": 333, "hidden_size": 8})

    model, config = load_model(folder)
    logits = UniversalModelAdapter(model, config)(torch.randint(0, 333, (2, 5)))

    assert type(model).__name__ == "TinyHFModel"
    assert (config.vocab_size, config.d_model) == (333, 8)
    assert logits.shape == (2, 5, 333)


def test_causal_flag_can_be_switched_on_an_existing_adapter(tmp_path):
    model, config = load_model(
        write_builder_export(tmp_path, vocab_size=517, defects=("unmasked_attention",))
    )
    adapter = UniversalModelAdapter(model, config, causal=False)

    leaking = _earliest_logits_change(adapter, 517)
    adapter.causal = True

    assert leaking > 1e-4
    assert _earliest_logits_change(adapter, 517) == 0.0


def test_deepcopy_of_a_graph_adapter_runs_its_own_copy(tmp_path):
    model, config = load_model(write_builder_export(tmp_path, defects=("empty_signature",)))
    adapter = UniversalModelAdapter(model, config)

    clone = copy.deepcopy(adapter)
    with torch.no_grad():
        clone.model.output_0.weight.zero_()

    assert clone.executor.model is clone.model
    assert clone(torch.zeros(1, 3, dtype=torch.long)).abs().max().item() == 0.0
    assert adapter(torch.zeros(1, 3, dtype=torch.long)).abs().max().item() > 0.0


@pytest.mark.parametrize("strategy_fixture", ["builder", "mha"])
def test_torch_export_keeps_the_repairs(
    tmp_path, write_model, unmasked_mha_source, strategy_fixture
):
    if strategy_fixture == "builder":
        model, config = load_model(
            write_builder_export(
                tmp_path, vocab_size=301, defects=("leaked_intermediates", "unmasked_attention")
            )
        )
    else:
        model, config = load_model(write_model(unmasked_mha_source, {"vocab_size": 301}))
    adapter = UniversalModelAdapter(model, config).eval()
    ids = torch.randint(0, 301, (2, 8))

    exported = torch.export.export(adapter, (ids,)).module()
    changed = ids.clone()
    changed[:, 5:] = (changed[:, 5:] + 1) % 301

    with torch.no_grad():
        assert (exported(ids) - adapter(ids)).abs().max().item() <= 1e-5
        assert (exported(ids)[:, :5] - exported(changed)[:, :5]).abs().max().item() == 0.0


def test_importing_the_package_imports_no_optional_library():
    import subprocess
    import sys

    code = "import sys, model_adapter; print(sorted(m for m in ('transformers', 'lightning', 'pytorch_lightning') if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]"


KEY_PADDING_SOURCE = """
import torch
import torch.nn as nn


class EncoderLM(nn.Module):
    def __init__(self, vocab_size=97, d_model=16):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model)
        layer = nn.TransformerEncoderLayer(d_model, 2, 32, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)
        self.out = nn.Linear(d_model, vocab_size)

    def forward(self, src, src_key_padding_mask=None, mask=None):
        hidden = self.encoder(self.embed(src), mask=mask, src_key_padding_mask=src_key_padding_mask)
        return self.out(hidden)
"""


def test_key_padding_mask_parameter_gets_the_inverted_mask(write_model):
    model, config = load_model(write_model(KEY_PADDING_SOURCE))
    adapter = UniversalModelAdapter(model, config, causal=False).eval()
    ids = torch.randint(0, 97, (2, 6))
    mask = torch.tensor([[1, 1, 1, 1, 0, 0], [1] * 6])

    with torch.no_grad():
        got = adapter(ids, mask)
        expected = model(ids, src_key_padding_mask=mask == 0)

    assert adapter.inspector.attention_mask_name == "src_key_padding_mask"
    assert torch.equal(got, expected)
    assert config.vocab_size == 97  # read off the top-level `out` projection and embedding


def test_transformer_encoder_becomes_causal_also_on_its_inference_fast_path(write_model):
    model, config = load_model(write_model(KEY_PADDING_SOURCE))

    assert _earliest_logits_change(UniversalModelAdapter(model, config, causal=False), 97) > 1e-4
    assert _earliest_logits_change(UniversalModelAdapter(model, config, causal=True), 97) == 0.0


def test_inner_projection_named_out_is_not_taken_for_the_vocab_projection(write_model):
    source = """
    import torch.nn as nn

    class Attn(nn.Module):
        def __init__(self):
            super().__init__()
            self.out = nn.Linear(16, 16)

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(50, 16)
            self.attn = Attn()
            self.lm_head = nn.Linear(16, 50)

        def forward(self, x):
            return self.lm_head(self.attn.out(self.embed(x)))
    """
    model, config = load_model(write_model(source, {"vocab_size": 50}))

    assert config.vocab_size == 50
    assert UniversalModelAdapter(model, config)(torch.zeros(1, 3, dtype=torch.long)).shape == (
        1,
        3,
        50,
    )
