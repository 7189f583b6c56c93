"""ComputationalGraphExecutor: equal to a working forward, runs broken exports, never guesses."""

from __future__ import annotations

import textwrap

import pytest
import torch

from model_adapter import (
    ComputationalGraphExecutor,
    GraphResolutionError,
    ModelValidationError,
    example_export_path,
    load_model,
)
from model_adapter.graph import recover_graph
from model_adapter.testing import write_builder_export

ARCHITECTURES = ["gpt", "bert", "prenorm"]


def _load(tmp_path, **kwargs):
    torch.manual_seed(0)
    model, config = load_model(write_builder_export(tmp_path, **kwargs))
    return model.eval(), config


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize(
    ("n_blocks", "vocab_size", "d_model", "n_heads"),
    [(1, 517, 32, 2), (2, 1234, 48, 4), (3, 3001, 32, 4)],
)
def test_executor_equals_forward_on_working_export(
    tmp_path, architecture, n_blocks, vocab_size, d_model, n_heads
):
    model, _ = _load(
        tmp_path,
        architecture=architecture,
        n_blocks=n_blocks,
        vocab_size=vocab_size,
        d_model=d_model,
        n_heads=n_heads,
    )
    causal = architecture != "bert"  # the clean bert export is bidirectional by design
    ids = torch.randint(0, vocab_size, (2, 11))

    with torch.no_grad():
        expected = model(ids)
        got = ComputationalGraphExecutor(model, causal=causal)(ids)

    assert got.shape == (2, 11, vocab_size)
    assert (got - expected).abs().max().item() <= 1e-6


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_executor_without_causal_equals_unmasked_forward(tmp_path, architecture):
    model, _ = _load(
        tmp_path, architecture=architecture, n_blocks=2, defects=("unmasked_attention",)
    )
    ids = torch.randint(0, 517, (3, 9))

    with torch.no_grad():
        diff = (
            (ComputationalGraphExecutor(model, causal=False)(ids) - model(ids)).abs().max().item()
        )

    assert diff <= 1e-6


def test_key_padding_equals_the_bert_forward(tmp_path):
    model, _ = _load(tmp_path, architecture="bert", n_blocks=2)
    ids = torch.randint(0, 517, (2, 10))
    mask = torch.ones(2, 10, dtype=torch.long)
    mask[0, 6:] = 0

    with torch.no_grad():
        expected = model(ids, attention_mask=mask)
        got = ComputationalGraphExecutor(model, causal=False)(ids, mask)
        unpadded = ComputationalGraphExecutor(model, causal=False)(ids)

    assert (got - expected).abs().max().item() <= 1e-6
    assert (
        got[0, :6] - unpadded[0, :6]
    ).abs().max().item() > 1e-4  # padding really changed something


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize(
    "defect", ["leaked_intermediates", "empty_signature", "missing_output_module"]
)
@pytest.mark.parametrize(("n_blocks", "vocab_size"), [(1, 517), (3, 1234)])
def test_executor_runs_broken_exports_like_the_fixed_one(
    tmp_path, architecture, defect, n_blocks, vocab_size
):
    broken, _ = _load(
        tmp_path / "broken",
        architecture=architecture,
        n_blocks=n_blocks,
        vocab_size=vocab_size,
        defects=(defect, "unmasked_attention"),
    )
    fixed, _ = _load(
        tmp_path / "fixed",
        architecture=architecture,
        n_blocks=n_blocks,
        vocab_size=vocab_size,
        defects=("unmasked_attention",),
    )
    state = fixed.state_dict()
    if defect == "missing_output_module":
        state.pop("output_0.weight")
        fixed.output_0.weight = (
            fixed.embedding_0_token.weight
        )  # the natural repair: tied projection
    broken.load_state_dict(state)
    ids = torch.randint(0, vocab_size, (2, 7))

    with pytest.raises((TypeError, NameError, AttributeError)):
        broken(ids)
    with torch.no_grad():
        got = ComputationalGraphExecutor(broken, causal=False)(ids)
        expected = fixed(ids)

    assert got.shape == (2, 7, vocab_size)
    assert (got - expected).abs().max().item() <= 1e-6


def test_leaked_export_graph_follows_the_residual_rule(tmp_path):
    model, _ = _load(tmp_path, n_blocks=1, defects=("leaked_intermediates",))

    graph = recover_graph(model)

    assert [n.node_id for n in graph.nodes] == [
        "input_0",
        "embedding_0",
        "mhsa_0",
        "residual_0",
        "layernorm_0",
        "ffn_0",
        "residual_1",
        "layernorm_1",
        "output_0",
    ]
    assert graph.node("residual_0").inputs == ["mhsa_0", "embedding_0"]
    assert graph.node("residual_1").inputs == ["ffn_0", "layernorm_0"]


def test_causal_executor_makes_early_logits_independent_of_later_tokens(tmp_path):
    model, _ = _load(tmp_path, architecture="bert", n_blocks=2, defects=("unmasked_attention",))
    ids = torch.randint(0, 517, (1, 12))
    changed = ids.clone()
    changed[0, 8:] = (changed[0, 8:] + 1) % 517

    with torch.no_grad():
        causal = ComputationalGraphExecutor(model, causal=True)
        leak = ComputationalGraphExecutor(model, causal=False)
        causal_diff = (causal(ids)[0, :8] - causal(changed)[0, :8]).abs().max().item()
        leak_diff = (leak(ids)[0, :8] - leak(changed)[0, :8]).abs().max().item()

    assert causal_diff == 0.0
    assert leak_diff > 1e-4


def test_left_padding_with_causal_mask_gives_no_nan(tmp_path):
    model, _ = _load(tmp_path, n_blocks=1)
    ids = torch.randint(0, 517, (2, 6))
    mask = torch.tensor([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]])

    with torch.no_grad():
        logits = ComputationalGraphExecutor(model, causal=True)(ids, mask)

    assert torch.isfinite(logits).all()


def test_too_long_input_is_a_clear_error(tmp_path):
    model, _ = _load(tmp_path, max_seq_len=8)

    with pytest.raises(
        ModelValidationError, match="sequence length 9 exceeds the model's max_seq_len 8"
    ):
        ComputationalGraphExecutor(model)(torch.zeros(1, 9, dtype=torch.long))


def test_layer_errors_propagate_with_the_node_named(tmp_path):
    model, _ = _load(tmp_path)
    model.ffn_0[0] = torch.nn.Linear(7, 7)  # wrong width: a real bug, not something to paper over

    with pytest.raises(RuntimeError) as excinfo:
        ComputationalGraphExecutor(model)(torch.zeros(1, 4, dtype=torch.long))

    if hasattr(excinfo.value, "__notes__"):
        assert any("ffn_0" in note for note in excinfo.value.__notes__)


def _module_from_source(write_model, source: str):
    model, _ = load_model(
        write_model(textwrap.dedent(source)) / "model.py", config={"vocab_size": 50}
    )
    return model


def test_node_without_module_is_named(write_model):
    source = """
    import torch.nn as nn

    class Export(nn.Module):
        def __init__(self):
            super().__init__()
            # input: input_0
            # embedding: embedding_0
            self.embedding_0_token = nn.Embedding(50, 8)
            # conv: conv_0
            # output: output_0
            self.output_0 = nn.Linear(8, 50)

        def forward(self, input_0_tokens):
            return self.output_0(self.embedding_0_token(input_0_tokens))
    """
    model = _module_from_source(write_model, source)

    with pytest.raises(GraphResolutionError, match=r"node conv_0 .* has no module"):
        ComputationalGraphExecutor(model)


def test_untied_missing_output_without_embedding_is_named(write_model):
    source = """
    import torch.nn as nn

    class Export(nn.Module):
        def __init__(self):
            super().__init__()
            # input: input_0
            # embedding: embedding_0
            self.embedding_0 = nn.Linear(1, 8)
            # output: output_0

        def forward(self):
            pass
    """
    model, _ = load_model(
        write_model(textwrap.dedent(source)) / "model.py", config={"vocab_size": 8}
    )

    with pytest.raises(GraphResolutionError, match=r"node output_0 .* no token embedding to tie"):
        ComputationalGraphExecutor(model)


def test_model_without_markers_is_not_a_graph(write_model, dict_output_source):
    model, _ = load_model(write_model(dict_output_source))

    with pytest.raises(GraphResolutionError, match="no '# <type>: <node_id>' marker comments"):
        ComputationalGraphExecutor(model)


def test_class_without_source_is_a_clear_error():
    namespace: dict = {"nn": torch.nn}
    exec(
        "class Hidden(nn.Module):\n    def __init__(self):\n        super().__init__()\n", namespace
    )

    with pytest.raises(GraphResolutionError, match="cannot read the source of Hidden"):
        ComputationalGraphExecutor(namespace["Hidden"]())


def test_ordinary_comments_are_not_builder_markers(write_model, dict_output_source):
    from model_adapter.graph import has_builder_markers

    source = dict_output_source.replace(
        "super().__init__()", "super().__init__()\n        # TODO: fix_1"
    )
    model, _ = load_model(write_model(source))
    builder, _ = load_model(example_export_path())

    assert not has_builder_markers(model)
    assert has_builder_markers(builder)


def test_sequence_first_attention_modules_are_fed_sequence_first(tmp_path):
    first, _ = _load(tmp_path / "batch_first", n_blocks=2, defects=("leaked_intermediates",))
    folder = write_builder_export(
        tmp_path / "seq_first", n_blocks=2, defects=("leaked_intermediates",)
    )
    (folder / "model.py").write_text(
        (folder / "model.py").read_text().replace("batch_first=True", "batch_first=False")
    )
    seq_first, _ = load_model(folder)
    seq_first.load_state_dict(first.state_dict())
    seq_first.eval()
    ids = torch.randint(0, 517, (3, 7))

    with torch.no_grad():
        expected = ComputationalGraphExecutor(first)(ids)
        got = ComputationalGraphExecutor(seq_first)(ids)

    assert (got - expected).abs().max().item() <= 1e-6


@pytest.mark.parametrize(
    ("defects", "expected"),
    [
        ((), []),
        (
            ("unmasked_attention",),
            ["attention node mhsa_0 is called without an attention mask (not causal)"],
        ),
        (("empty_signature",), ["forward() takes no token input (empty signature)"]),
        (("missing_output_module",), ["output node output_0 has no module"]),
        (
            ("leaked_intermediates",),
            [
                "forward() takes intermediate outputs as arguments: mhsa_0_output, residual_0_output, residual_1_output",
                "forward() returns 'output_0_logits', which it never assigns",
            ],
        ),
    ],
)
def test_forward_problems_are_reported(tmp_path, defects, expected):
    model, _ = _load(tmp_path, n_blocks=1, defects=defects)

    assert recover_graph(model).forward_problems == expected
