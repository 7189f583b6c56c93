"""load_model: sources, config forms, constructor filling, cross-checks and every error message."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from model_adapter import (
    ModelAdapterError,
    ModelConfig,
    ModelLoadError,
    example_export_path,
    load_model,
)
from model_adapter.testing import write_builder_export

SIMPLE_MODEL = """
import torch.nn as nn


class TinyLM(nn.Module):
    def __init__(self, vocab_size, d_model=16, max_seq_len=24):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab_size, d_model)
        self.position_embedding = nn.Embedding(max_seq_len, d_model)
        self.lm_head = nn.Linear(d_model, vocab_size)

    def forward(self, input_ids):
        return self.lm_head(self.token_embedding(input_ids))
"""


def test_error_hierarchy():
    for error in (ModelLoadError,):
        assert issubclass(error, ModelAdapterError)
    assert issubclass(ModelAdapterError, Exception)


@pytest.mark.parametrize("config_form", ["flat", "nodes"])
@pytest.mark.parametrize("constructor", ["fixed", "kwargs"])
def test_builder_export_folder_loads_with_both_config_forms(tmp_path, config_form, constructor):
    folder = write_builder_export(
        tmp_path,
        vocab_size=1234,
        d_model=48,
        n_heads=3,
        n_blocks=3,
        max_seq_len=40,
        config_form=config_form,
        constructor=constructor,
    )

    model, config = load_model(folder)

    assert isinstance(model, nn.Module)
    assert config == ModelConfig(
        vocab_size=1234,
        max_seq_len=40,
        d_model=48,
        heads=3,
        layers=3,
        name="CustomTransformer",
        source=str(folder),
    )


def test_kwargs_constructor_is_filled_from_config(tmp_path):
    folder = write_builder_export(tmp_path, vocab_size=517, d_model=32, constructor="kwargs")
    config = json.loads((folder / "config.json").read_text())
    config.update(vocab_size=600, nhead=4)  # differs from the constructor defaults
    (folder / "config.json").write_text(json.dumps(config))

    model, loaded = load_model(folder)

    assert model.embedding_0_token.num_embeddings == 600
    assert model.mhsa_0.num_heads == 4
    assert loaded.vocab_size == 600 and loaded.heads == 4


@pytest.mark.parametrize(
    ("spelling", "value"),
    [("max_seq_len", 24), ("seq_length", 24), ("n_heads", 4), ("num_heads", 4), ("nhead", 4)],
)
def test_flat_config_spellings(write_model, spelling, value):
    folder = write_model(SIMPLE_MODEL, {"vocab_size": 300, spelling: value})

    _, config = load_model(folder)

    field = "max_seq_len" if spelling in ("max_seq_len", "seq_length") else "heads"
    assert getattr(config, field) == value


def test_lone_model_file_reads_vocab_off_the_model(write_model):
    folder = write_model(
        SIMPLE_MODEL.replace("def __init__(self, vocab_size,", "def __init__(self, vocab_size=777,")
    )

    _, config = load_model(folder / "model.py")

    assert config.vocab_size == 777
    assert config.max_seq_len == 24 and config.d_model == 16


def test_missing_vocab_size_is_read_off_the_model(tmp_path):
    folder = write_builder_export(tmp_path, vocab_size=3001)
    config = json.loads((folder / "config.json").read_text())
    del config["vocab_size"]
    (folder / "config.json").write_text(json.dumps(config))

    _, loaded = load_model(folder)

    assert loaded.vocab_size == 3001


def test_nn_module_instance(tmp_path):
    model, _ = load_model(write_builder_export(tmp_path, vocab_size=211))

    same, config = load_model(model)

    assert same is model
    assert config.vocab_size == 211 and config.max_seq_len == 32


def test_model_config_override_and_round_trip(write_model):
    folder = write_model(SIMPLE_MODEL, {"vocab_size": 100})

    _, config = load_model(folder, config={"vocab_size": 55, "d_model": 16})

    assert config.vocab_size == 55
    assert ModelConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"vocab_size": 999}, ["999", "300", "token_embedding"]),
        ({"vocab_size": 300, "max_seq_len": 64}, ["64", "24", "position_embedding"]),
        ({"vocab_size": 300, "d_model": 32}, ["32", "16"]),
    ],
)
def test_config_conflict_with_model_names_both_values(write_model, config, named):
    fixed_sizes = SIMPLE_MODEL.replace(
        "def __init__(self, vocab_size, d_model=16, max_seq_len=24):",
        "def __init__(self):\n        vocab_size, d_model, max_seq_len = 300, 16, 24",
    )
    folder = write_model(fixed_sizes, config)

    with pytest.raises(ModelLoadError) as excinfo:
        load_model(folder)

    message = str(excinfo.value)
    assert "\n" not in message
    for text in named:
        assert text in message


def test_output_projection_conflict_names_both_values(write_model):
    source = """
    import torch.nn as nn

    class Mismatched(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(300, 8)
            self.lm_head = nn.Linear(8, 301)

        def forward(self, input_ids):
            return self.lm_head(self.embed(input_ids))
    """
    folder = write_model(source, {"vocab_size": 300})

    with pytest.raises(ModelLoadError, match=r"vocab_size=300.*'lm_head' has 301"):
        load_model(folder)


def test_nanogpt_dataclass_constructor_filled_from_config(write_model, nanogpt_source):
    folder = write_model(
        nanogpt_source,
        {"vocab_size": 211, "block_size": 16, "n_layer": 1, "n_head": 2, "n_embd": 16},
    )

    model, config = load_model(folder)

    assert type(model).__name__ == "GPT"  # the only class no other class uses
    assert model.config.vocab_size == 211 and model.config.n_layer == 1
    assert (config.vocab_size, config.max_seq_len, config.d_model, config.heads) == (211, 16, 16, 2)


def test_model_name_picks_the_class(write_model):
    source = (
        SIMPLE_MODEL
        + """

class OtherLM(TinyLM):
    pass
"""
    )
    folder = write_model(source, {"vocab_size": 50})

    model, config = load_model(folder, model_name="OtherLM")

    assert type(model).__name__ == "OtherLM" and config.name == "OtherLM"


# --- error messages --------------------------------------------------------------------------


def _one_line_error(excinfo: pytest.ExceptionInfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    return message


def test_syntax_error_names_file_and_line(write_model):
    folder = write_model("import torch\n\nclass Broken(nn.Module)\n    pass\n")

    with pytest.raises(ModelLoadError) as excinfo:
        load_model(folder)

    message = _one_line_error(excinfo)
    assert "model.py:3" in message and "syntax error" in message


def test_no_nn_module_in_file(write_model):
    folder = write_model("class NotAModel:\n    pass\n", {"vocab_size": 10})

    with pytest.raises(ModelLoadError, match=r"defines no nn.Module subclass") as excinfo:
        load_model(folder)
    _one_line_error(excinfo)


def test_several_candidates_without_model_name(write_model):
    source = SIMPLE_MODEL + "\n\nclass SecondLM(nn.Module):\n    pass\n"
    folder = write_model(source, {"vocab_size": 10})

    with pytest.raises(
        ModelLoadError,
        match=r"several top-level nn.Module classes \(TinyLM, SecondLM\).*model_name",
    ):
        load_model(folder)


def test_unknown_model_name_lists_the_classes(write_model):
    folder = write_model(SIMPLE_MODEL, {"vocab_size": 10})

    with pytest.raises(ModelLoadError, match=r"no nn.Module class named 'Nope'.*TinyLM"):
        load_model(folder, model_name="Nope")


def test_wrong_config_model_name_falls_back_to_the_single_class(write_model):
    folder = write_model(SIMPLE_MODEL, {"vocab_size": 10, "model_name": "RenamedOnCanvas"})

    model, _ = load_model(folder)

    assert type(model).__name__ == "TinyLM"


def test_constructor_arguments_missing_from_config(write_model):
    folder = write_model(SIMPLE_MODEL, {"d_model": 16})

    with pytest.raises(
        ModelLoadError, match=r"TinyLM\(\.\.\.\) needs vocab_size, which config.json does not give"
    ) as excinfo:
        load_model(folder)
    _one_line_error(excinfo)


def test_missing_package_is_named(write_model):
    folder = write_model(
        "import flash_attn_not_installed_here\n" + SIMPLE_MODEL, {"vocab_size": 10}
    )

    with pytest.raises(
        ModelLoadError,
        match=r"'flash_attn_not_installed_here', which is neither a file next to it.*pip install flash_attn_not_installed_here",
    ):
        load_model(folder)


def test_config_json_not_json(write_model):
    folder = write_model(SIMPLE_MODEL, '{"vocab_size": 10,')

    with pytest.raises(ModelLoadError, match=r"config.json is not valid JSON \(line 1") as excinfo:
        load_model(folder)
    _one_line_error(excinfo)


def test_nonexistent_source(tmp_path):
    with pytest.raises(ModelLoadError, match="neither an existing file or folder"):
        load_model(tmp_path / "nowhere")


def test_folder_without_model_py(tmp_path):
    (tmp_path / "config.json").write_text("{}")

    with pytest.raises(ModelLoadError, match=r"has no model.py"):
        load_model(tmp_path)


def test_constructor_failure_is_wrapped_with_the_cause(write_model):
    source = SIMPLE_MODEL.replace(
        "super().__init__()", "super().__init__()\n        raise RuntimeError('boom')"
    )
    folder = write_model(source, {"vocab_size": 10})

    with pytest.raises(
        ModelLoadError, match=r"TinyLM\(vocab_size=10.*raised RuntimeError: boom"
    ) as excinfo:
        load_model(folder)
    assert isinstance(excinfo.value.__cause__, RuntimeError)


def test_example_export_loads_with_contract_sizes():
    model, config = load_model(example_export_path())

    assert (config.vocab_size, config.d_model, config.heads, config.layers, config.max_seq_len) == (
        3001,
        128,
        4,
        2,
        128,
    )
    with pytest.raises(TypeError, match="missing 5 required positional arguments"):
        model(torch.zeros(1, 4, dtype=torch.long))  # the real export defect, kept on purpose


def test_model_py_may_import_a_sibling_file(write_model):
    folder = write_model(
        "from layers import make_head\n"
        + SIMPLE_MODEL.replace(
            "self.lm_head = nn.Linear(d_model, vocab_size)",
            "self.lm_head = make_head(d_model, vocab_size)",
        ),
        {"vocab_size": 40},
    )
    (folder / "layers.py").write_text(
        "import torch.nn as nn\n\ndef make_head(d, v):\n    return nn.Linear(d, v)\n"
    )

    model, config = load_model(folder)

    assert config.vocab_size == 40 and model.lm_head.out_features == 40
