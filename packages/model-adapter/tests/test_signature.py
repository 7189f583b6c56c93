"""ModelSignatureInspector classifies every signature shape without calling the model."""

from __future__ import annotations

import pytest
from torch import nn

from model_adapter import ModelSignatureInspector


def _inspector(forward_source: str) -> ModelSignatureInspector:
    namespace: dict = {"nn": nn}
    exec(f"class M(nn.Module):\n    {forward_source}\n        return None\n", namespace)
    return ModelSignatureInspector(namespace["M"]())


@pytest.mark.parametrize("name", ["input_ids", "input_0_tokens", "tokens", "x", "idx"])
def test_known_token_names_are_the_token_input(name):
    inspector = _inspector(f"def forward(self, {name}, targets=None):")

    assert inspector.token_input == name
    assert inspector.is_simple_signature()
    assert inspector.get_required_params() == [name]
    assert not inspector.requires_intermediate_outputs()


def test_single_positional_parameter_with_any_name_is_the_token_input():
    inspector = _inspector("def forward(self, sequence):")

    assert inspector.token_input == "sequence"
    assert inspector.token_input_positional
    assert inspector.is_simple_signature()


def test_attention_mask_is_not_an_intermediate():
    inspector = _inspector("def forward(self, input_ids, attention_mask):")

    roles = {p.name: p.role for p in inspector.get_parameters()}
    assert roles == {"input_ids": "token_input", "attention_mask": "attention_mask"}
    assert not inspector.requires_intermediate_outputs()
    assert inspector.attention_mask_name == "attention_mask"
    assert not inspector.is_simple_signature()  # a required mask must be supplied


def test_leaked_builder_intermediates():
    inspector = _inspector(
        "def forward(self, input_0_tokens, mhsa_0_output, residual_0_output, residual_1_output):"
    )

    assert inspector.token_input == "input_0_tokens"
    assert inspector.requires_intermediate_outputs()
    assert not inspector.is_simple_signature()
    assert [p.role for p in inspector.get_parameters()][1:] == ["intermediate"] * 3


def test_empty_signature():
    inspector = _inspector("def forward(self, ):")

    assert inspector.is_empty
    assert inspector.token_input is None
    assert inspector.get_required_params() == []
    assert not inspector.is_simple_signature()
    assert not inspector.requires_intermediate_outputs()


def test_var_args_and_kwargs():
    inspector = _inspector("def forward(self, *args, **kwargs):")

    assert [p.role for p in inspector.get_parameters()] == ["var_positional", "var_keyword"]
    assert inspector.get_required_params() == []
    assert inspector.token_input is None and inspector.token_input_positional
    assert inspector.accepts("anything")


def test_keyword_only_parameters():
    inspector = _inspector(
        "def forward(self, *, input_ids, past_key_values=None, use_cache=False):"
    )

    assert inspector.token_input == "input_ids"
    assert not inspector.token_input_positional
    assert inspector.is_simple_signature()
    assert {p.name: p.kind for p in inspector.get_parameters()}["input_ids"] == "keyword_only"


def test_hf_style_signature():
    inspector = _inspector(
        "def forward(self, input_ids=None, attention_mask=None, past_key_values=None, labels=None, use_cache=None, **kwargs):"
    )

    assert inspector.token_input == "input_ids"
    assert inspector.attention_mask_name == "attention_mask"
    assert inspector.is_simple_signature()
    assert inspector.get_required_params() == []


def test_unknown_required_parameter_is_not_simple():
    inspector = _inspector("def forward(self, input_ids, memory):")

    assert {p.name: p.role for p in inspector.get_parameters()}["memory"] == "unknown_required"
    assert not inspector.is_simple_signature()
    assert not inspector.requires_intermediate_outputs()


def test_plain_function_and_unreadable_callable():
    assert ModelSignatureInspector(lambda idx: idx).token_input == "idx"
    unreadable = ModelSignatureInspector(print)  # builtins may have no signature
    assert isinstance(unreadable.get_parameters(), list)
    assert isinstance(unreadable.describe(), str)
