"""Models written the popular ways nobody on the project chose: layouts, state, config objects, files."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn

from model_adapter import ModelLoadError, UniversalModelAdapter, load_model, validate_model
from model_adapter.sources import install_hint, source_files
from model_adapter.testing_styles import STYLES, write_model_style

VOCAB = 53


@pytest.fixture
def style_folder(tmp_path):
    def write(style: str, **kwargs):
        return write_model_style(
            tmp_path / style, style, vocab_size=VOCAB, max_seq_len=32, **kwargs
        )

    return write


@pytest.mark.parametrize("style", STYLES)
def test_every_style_loads_runs_and_passes_quick_validation(style_folder, style):
    model, config = load_model(style_folder(style))
    adapter = UniversalModelAdapter(model, config).eval()

    logits = adapter(torch.randint(0, VOCAB, (2, 7)))
    report = validate_model(model, config, quick=True, seq_len=16)

    assert config.vocab_size == VOCAB
    assert logits.shape == (2, 7, VOCAB)
    assert report.passed, report.to_text()
    assert report["batch_independence"].status == "passed"


@pytest.mark.parametrize("style", ["sequence_first", "lstm"])
def test_sequence_first_models_are_detected_and_transposed(style_folder, style, caplog):
    model, config = load_model(style_folder(style))
    ids = torch.randint(0, VOCAB, (3, 6))

    with caplog.at_level("WARNING", logger="model_adapter.adapter"):
        adapter = UniversalModelAdapter(model, config).eval()
        UniversalModelAdapter(
            model, config
        )  # a second adapter over the same model says nothing new

    assert adapter.sequence_first
    assert sum("sequence-first" in r.getMessage() for r in caplog.records) == 1
    with torch.no_grad():
        own = model(ids.t(), *((model.init_hidden(3),) if style == "lstm" else ()))[
            0 if style == "lstm" else slice(None)
        ]
        expected = own.reshape(6, 3, VOCAB).transpose(0, 1)
        assert torch.allclose(adapter(ids), expected, atol=1e-5)
    assert "sequence-first" in adapter.describe()


class CountingLM(nn.Module):
    """A batch-first model that counts its forward calls (nothing in it can read [T, B])."""

    def __init__(self, vocab_size=29, d=8):
        super().__init__()
        self.embed, self.head = nn.Embedding(vocab_size, d), nn.Linear(d, vocab_size)
        self.calls = 0

    def forward(self, input_ids):
        self.calls += 1
        return self.head(self.embed(input_ids))


class CumulativeMeanLM(CountingLM):
    """Hand-written sequence-first: a running mean over dim 0 of a [T, B] input, no torch RNN/MHA."""

    def forward(self, src):
        self.calls += 1
        x = self.embed(src)
        steps = torch.arange(1, src.shape[0] + 1, device=src.device).view(-1, 1, 1)
        return self.head(x.cumsum(0) / steps)


def test_building_an_adapter_runs_no_forward_and_the_first_call_probes_once():
    model = CountingLM()

    adapter = UniversalModelAdapter(model)
    built = model.calls
    adapter(torch.randint(0, 29, (2, 5)))
    first = model.calls
    UniversalModelAdapter(model)(torch.randint(0, 29, (2, 5)))  # the layout is remembered

    assert built == 0
    assert first > 1 and not adapter.sequence_first
    assert model.calls == first + 1


def test_a_hand_written_sequence_first_model_is_detected_on_the_first_call(caplog):
    model = CumulativeMeanLM()
    ids = torch.randint(0, 29, (3, 6))

    with caplog.at_level("WARNING", logger="model_adapter.adapter"):
        adapter = UniversalModelAdapter(model).eval()
        built = model.calls
        with torch.no_grad():
            logits = adapter(ids)
            expected = model(ids.t()).transpose(0, 1)

    assert built == 0
    assert adapter.sequence_first and torch.allclose(logits, expected)
    assert sum("sequence-first" in r.getMessage() for r in caplog.records) == 1


def test_an_explicit_layout_is_never_probed():
    model = CumulativeMeanLM()
    adapter = UniversalModelAdapter(model, sequence_first=False)

    adapter(torch.randint(0, 29, (2, 4)))

    assert model.calls == 1 and not adapter.sequence_first


def test_an_export_before_any_eager_call_runs_no_probe_inside_the_trace():
    model = CountingLM()
    adapter = UniversalModelAdapter(model).eval()
    ids = torch.randint(0, 29, (2, 5))

    program = torch.export.export(adapter, (ids,))  # a probe here would meet fake tensors

    assert torch.equal(program.module()(ids), model(ids))
    assert not adapter.sequence_first  # probed eagerly, outside the trace


def test_hugging_face_models_are_never_probed():
    transformers = pytest.importorskip("transformers")
    model = transformers.GPT2LMHeadModel(
        transformers.GPT2Config(vocab_size=31, n_positions=16, n_embd=16, n_layer=1, n_head=2)
    )
    calls = []
    model.register_forward_hook(lambda *_: calls.append(1))

    adapter = UniversalModelAdapter(model)
    adapter(torch.randint(0, 31, (2, 5)))

    assert len(calls) == 1 and not adapter.sequence_first


def test_batch_first_models_stay_batch_first(style_folder):
    model, config = load_model(style_folder("multi_file"))
    assert not UniversalModelAdapter(model, config).sequence_first


def test_a_misread_sequence_first_model_fails_batch_independence_not_causality(style_folder):
    model, config = load_model(style_folder("sequence_first"))
    misread = UniversalModelAdapter(model, config, sequence_first=False)

    report = validate_model(misread, quick=True, seq_len=8)

    check = report["batch_independence"]
    assert check.status == "failed" and check.values["independent"] is False
    assert "mixes sequences of a batch" in check.message and "batch_first=False" in check.hint
    causal = report["causal_leak"]
    assert "not attention" in causal.message and "causal mask" not in causal.message


def test_recurrent_state_comes_from_init_hidden_and_is_discarded(style_folder):
    model, config = load_model(style_folder("lstm"))
    adapter = UniversalModelAdapter(model, config).eval()
    ids = torch.randint(0, VOCAB, (2, 5))

    first, second = adapter(ids), adapter(ids)

    assert torch.equal(first, second)  # every call starts from a fresh state
    assert "state: hidden = model.init_hidden(batch)" in adapter.describe()


STATE_DEFAULT_SOURCE = """
import torch.nn as nn


class GRULM(nn.Module):
    def __init__(self, vocab_size=31, d=16):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d)
        self.rnn = nn.GRU(d, d, batch_first=True)
        self.head = nn.Linear(d, vocab_size)

    def forward(self, x, state=None):
        out, state = self.rnn(self.embed(x), state)
        return self.head(out), state
"""


def test_a_state_argument_with_a_default_is_left_at_it(write_model):
    model, config = load_model(write_model(STATE_DEFAULT_SOURCE))
    adapter = UniversalModelAdapter(model, config).eval()
    assert not adapter.sequence_first
    assert adapter(torch.randint(0, 31, (2, 4))).shape == (2, 4, 31)


def test_a_required_state_without_init_says_what_to_add(write_model):
    model, config = load_model(write_model(STATE_DEFAULT_SOURCE.replace("state=None", "state")))
    with pytest.raises(
        ModelLoadError, match=r"needs state besides the token ids.*init_hidden\(self, batch_size\)"
    ):
        UniversalModelAdapter(model, config)


def test_mingpt_cfgnode_config_comes_from_get_default_config(style_folder):
    model, config = load_model(style_folder("mingpt"))
    assert (config.vocab_size, config.max_seq_len, config.d_model, config.layers) == (
        VOCAB,
        32,
        32,
        1,
    )
    assert len(model.transformer.h) == 1


NAMESPACE_VARIANTS = {
    "argparse": ("import argparse\n", "args: argparse.Namespace"),
    "simple_namespace": ("from types import SimpleNamespace\n", "args: SimpleNamespace"),
    "unannotated": ("", "args"),
}


@pytest.mark.parametrize("variant", list(NAMESPACE_VARIANTS))
def test_namespace_configs_are_built_from_config_json(style_folder, variant):
    folder = style_folder("namespace")
    imports, parameter = NAMESPACE_VARIANTS[variant]
    source = (folder / "model.py").read_text()
    (folder / "model.py").write_text(
        imports + source.replace("def __init__(self, args)", f"def __init__(self, {parameter})")
    )

    _model, config = load_model(folder)

    assert (config.vocab_size, config.d_model) == (VOCAB, 32)


def test_a_dict_config_read_by_key_and_aliases_works(write_model):
    source = """
    import torch.nn as nn

    class DictConfigLM(nn.Module):
        def __init__(self, cfg):
            super().__init__()
            self.embed = nn.Embedding(cfg["vocab_size"], cfg.get("n_embd"))
            self.head = nn.Linear(cfg.n_embd, cfg["vocab_size"])

        def forward(self, idx):
            return self.head(self.embed(idx))
    """
    _model, config = load_model(write_model(source, {"vocab_size": 29, "d_model": 8}))
    assert (config.vocab_size, config.d_model) == (29, 8)


def test_a_config_class_imported_from_a_sibling_file(write_model, nanogpt_source):
    config_part, model_part = nanogpt_source.split("class CausalSelfAttention", 1)
    folder = write_model(
        "from gptconfig import GPTConfig\n"
        + config_part.split("@dataclass", 1)[0]
        + "class CausalSelfAttention"
        + model_part,
        {"vocab_size": 61, "n_layer": 1, "n_head": 2, "n_embd": 16, "block_size": 16},
    )
    (folder / "gptconfig.py").write_text(
        "from dataclasses import dataclass\n\n@dataclass" + config_part.split("@dataclass", 1)[1]
    )

    model, _config = load_model(folder)

    assert type(model.config).__name__ == "GPTConfig" and model.config.n_layer == 1


def test_an_unbuildable_config_class_says_what_to_add(write_model):
    source = """
    import torch.nn as nn

    class Settings:
        def __init__(self, *values):
            raise TypeError("takes positional values only")

    class SettingsLM(nn.Module):
        def __init__(self, settings: Settings):
            super().__init__()
            self.embed = nn.Embedding(10, 4)

        def forward(self, idx):
            return self.embed(idx)
    """
    with pytest.raises(
        ModelLoadError,
        match=r"cannot build Settings from config.json.*@dataclass.*get_default_config\(\)",
    ):
        load_model(write_model(source, {"vocab_size": 10}))


def test_source_files_follow_sibling_modules_and_local_packages(style_folder):
    folder = style_folder("multi_file")
    (folder / "unused.py").write_text("raise RuntimeError('never imported')\n")

    files = [p.relative_to(folder.resolve()).as_posix() for p in source_files(folder)]

    assert files[0] == "model.py"
    assert sorted(files) == [
        "blocks/__init__.py",
        "blocks/ffn.py",
        "blocks/norm.py",
        "layers.py",
        "model.py",
    ]


def test_two_model_folders_with_the_same_sibling_name_keep_their_own_code(write_model):
    source = """
    import torch.nn as nn
    from layers import WIDTH

    class SiblingLM(nn.Module):
        def __init__(self, vocab_size=11):
            super().__init__()
            self.embed = nn.Embedding(vocab_size, WIDTH)

        def forward(self, idx):
            return self.embed(idx)
    """
    widths = []
    for width in (4, 6):
        folder = write_model(source)
        (folder / "layers.py").write_text(f"WIDTH = {width}\n")
        widths.append(load_model(folder).config.d_model)
    assert widths == [4, 6]


@pytest.mark.parametrize(
    ("module", "command"),
    [
        ("sklearn.linear_model", "pip install scikit-learn"),
        ("yaml", "pip install pyyaml"),
        ("PIL", "pip install pillow"),
        ("cv2", "pip install opencv-python"),
        ("einops", "pip install einops"),
    ],
)
def test_install_hint_names_the_distribution(module, command):
    assert install_hint(module) == command


def test_a_missing_import_names_the_distribution_and_the_local_alternative(write_model):
    folder = write_model(
        "import yaml_is_not_here.sub\nimport torch.nn as nn\nclass M(nn.Module):\n    pass\n"
    )
    with pytest.raises(
        ModelLoadError,
        match=r"neither a file next to it \(yaml_is_not_here.py or a yaml_is_not_here/",
    ):
        load_model(folder)


def test_module_instance_reads_max_seq_len_off_a_position_table_named_pos(style_folder):
    model, _ = load_model(style_folder("tied"))
    assert load_model(model).config.max_seq_len == 32


def test_last_position_models_accept_non_contiguous_ids(write_model, nanogpt_source):
    model, config = load_model(
        write_model(nanogpt_source, {"vocab_size": 41, "block_size": 16, "n_embd": 16})
    )
    adapter = UniversalModelAdapter(model, config).eval()
    ids = torch.randint(0, 41, (8, 2)).t()  # [2, 8], not contiguous

    assert not ids.is_contiguous()
    assert adapter(ids).shape == (2, 8, 41)


def test_validate_json_stays_json_when_the_model_prints(style_folder):
    folder = style_folder("mingpt")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "model_adapter.cli",
            "validate",
            str(folder),
            "--json",
            "--quick",
            "--seq-len",
            "8",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["model_name"] == "GPT"
    assert "number of parameters" in result.stderr


def test_testing_styles_reject_an_unknown_style(tmp_path):
    with pytest.raises(ValueError, match="choose one of"):
        write_model_style(tmp_path, textwrap.dedent("nope"))
