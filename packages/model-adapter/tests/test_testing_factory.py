"""write_builder_export writes the shapes and defects real exports have; ModelConfig forms."""

from __future__ import annotations

import json

import pytest
import torch

from model_adapter import ModelConfig, ModelLoadError, example_export_path, load_model
from model_adapter.config import normalize_config
from model_adapter.testing import write_builder_export


@pytest.mark.parametrize(
    ("defects", "error", "message"),
    [
        (("leaked_intermediates",), TypeError, "missing 3 required positional arguments"),
        (("empty_signature",), TypeError, "takes 1 positional argument"),
        (("missing_output_module",), AttributeError, "output_0"),
    ],
)
def test_defects_break_forward_like_real_exports(tmp_path, defects, error, message):
    model, _ = load_model(write_builder_export(tmp_path, n_blocks=1, defects=defects))

    with pytest.raises(error, match=message):
        model(torch.zeros(1, 4, dtype=torch.long))


def test_leaked_export_matches_the_documented_signature(tmp_path):
    source = (
        write_builder_export(tmp_path, defects=("leaked_intermediates",)) / "model.py"
    ).read_text()

    assert (
        "def forward(self, input_0_tokens, mhsa_0_output, residual_0_output, residual_1_output):"
        in source
    )
    assert "return output_0_logits" in source and "output_0_logits =" not in source


@pytest.mark.parametrize("architecture", ["gpt", "bert", "prenorm"])
def test_architectures_use_their_node_names(tmp_path, architecture):
    source = (
        write_builder_export(tmp_path, architecture=architecture, n_blocks=2) / "model.py"
    ).read_text()

    attention, ffn = ("attention", "mlp") if architecture == "bert" else ("mhsa", "ffn")
    assert f"# {attention}: {attention}_1" in source and f"# {ffn}: {ffn}_1" in source
    assert "# output: output_0" in source


def test_bad_factory_arguments(tmp_path):
    with pytest.raises(ValueError, match="unknown defects"):
        write_builder_export(tmp_path, defects=("typo",))
    with pytest.raises(ValueError, match="not divisible"):
        write_builder_export(tmp_path, d_model=30, n_heads=4)


def test_example_export_files_and_config():
    folder = example_export_path()
    config = json.loads((folder / "config.json").read_text())

    assert (folder / "model.py").is_file()
    assert [node["id"] for node in config["nodes"]][:2] == ["input_0", "embedding_0"]
    assert normalize_config(config)["vocab_size"] == 3001


def test_nodes_config_values():
    values = normalize_config(
        {
            "model_name": "M",
            "nodes": [
                {
                    "id": "input_0",
                    "type": "input",
                    "params": {"vocab_size": 32000, "max_seq_len": 256},
                },
                {"id": "embedding_0", "type": "embedding", "params": {"d_model": 64}},
                {"id": "mhsa_0", "type": "mhsa", "params": {"num_heads": 4}},
                {"id": "mhsa_1", "type": "mhsa", "params": {"num_heads": 4}},
            ],
        }
    )

    assert values == {
        "vocab_size": 32000,
        "max_seq_len": 256,
        "d_model": 64,
        "heads": 4,
        "layers": 2,
        "name": "M",
    }


def test_model_config_from_dict_forms():
    assert ModelConfig.from_dict({"vocab_size": 5, "name": "x"}) == ModelConfig(
        vocab_size=5, name="x"
    )
    flat = ModelConfig.from_dict(
        {"vocab_size": 50257, "d_model": 512, "nhead": 8, "num_layers": 6, "model_name": "C"}
    )
    assert (flat.heads, flat.layers, flat.name) == (8, 6, "C")
    with pytest.raises(ModelLoadError, match="no vocab_size"):
        ModelConfig.from_dict({"d_model": 4})
    with pytest.raises(ModelLoadError, match="vocab_size='many' is not an integer"):
        ModelConfig.from_dict({"vocab_size": "many"})
