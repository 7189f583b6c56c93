"""Shared tiny models and their exports.

ONNX export with the dynamo exporter takes seconds per model, so each model kind is exported
once per session (`onnx_export_of`) and every test that needs the artifact reads it.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

TESTS_DIR = Path(__file__).resolve().parent
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

from hand_written_models import GRULM, SDPATransformerLM  # noqa: E402

VOCAB = 211
CLI = Path(sys.executable).with_name("model-export")
MAX_LEN = 32

# Each kind the issue names: builder exports through the graph executor (fixed, broken and
# repaired, BERT-style encoder), a hand-written SDPA transformer and a GRU.
BUILDER_KINDS = {
    "builder_gpt_fixed": {"architecture": "gpt"},
    "builder_gpt_broken": {
        "architecture": "gpt",
        "defects": ("leaked_intermediates", "missing_output_module", "unmasked_attention"),
    },
    "builder_bert": {"architecture": "bert"},
}
MODEL_KINDS = [*BUILDER_KINDS, "sdpa", "gru"]


@pytest.fixture(autouse=True)
def _quiet_exporter_logs():
    for name in ("onnx_ir", "onnxscript"):
        logging.getLogger(name).setLevel(logging.WARNING)


def write_builder(directory: Path, kind: str, **overrides) -> Path:
    from model_adapter.testing import write_builder_export

    spec = {"vocab_size": VOCAB, "d_model": 32, "n_heads": 4, "n_blocks": 2, "max_seq_len": MAX_LEN}
    spec.update(BUILDER_KINDS[kind])
    spec.update(overrides)
    return write_builder_export(directory, **spec)


def make_model(kind: str, directory: Path) -> torch.nn.Module:
    """An eval-mode model of `kind` with seeded weights (builder kinds through the adapter)."""
    from model_adapter import UniversalModelAdapter, load_model

    torch.manual_seed(0)
    if kind in BUILDER_KINDS:
        model, config = load_model(write_builder(directory / kind, kind))
        return UniversalModelAdapter(model, config, causal=kind != "builder_bert").eval()
    if kind == "sdpa":
        return SDPATransformerLM(
            vocab_size=VOCAB, d_model=48, n_heads=4, n_layers=2, max_seq_len=MAX_LEN
        ).eval()
    if kind == "gru":
        return GRULM(vocab_size=VOCAB, d_model=40, n_layers=2).eval()
    raise ValueError(kind)


@pytest.fixture(scope="session")
def model_of(tmp_path_factory):
    cache: dict[str, torch.nn.Module] = {}
    root = tmp_path_factory.mktemp("models")

    def get(kind: str) -> torch.nn.Module:
        if kind not in cache:
            cache[kind] = make_model(kind, root)
        return cache[kind]

    return get


@pytest.fixture(scope="session")
def onnx_export_of(model_of, tmp_path_factory):
    """`kind -> (model, OnnxExport)`, exported once per session with the default settings."""
    from model_export import export_onnx

    cache: dict = {}
    root = tmp_path_factory.mktemp("onnx")

    def get(kind: str):
        if kind not in cache:
            model = model_of(kind)
            max_len = None if kind == "gru" else MAX_LEN
            cache[kind] = (
                model,
                export_onnx(model, root / f"{kind}.onnx", max_seq_len=max_len, vocab_size=VOCAB),
            )
        return cache[kind]

    return get


def run_cli(*args, timeout: int = 600, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`model-export ARGS` in a real subprocess, output captured."""
    return subprocess.run(
        [str(CLI), *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=cwd
    )


def run_inference(bundle: Path, *args, python: Path | str = sys.executable):
    """A bundle's own `inference.py ARGS` in a real subprocess run by `python`."""
    return subprocess.run(
        [str(python), str(bundle / "inference.py"), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def tiny_corpus() -> str:
    """Repetitive made-up text, enough for a small BPE and a held-out slice."""
    rng = np.random.default_rng(0)
    words = [
        "the",
        "king",
        "queen",
        "castle",
        "sword",
        "river",
        "night",
        "day",
        "speaks",
        "walks",
        "to",
        "and",
        "of",
        "a",
        "bright",
        "dark",
        "old",
        "young",
        "my",
        "lord",
    ]
    return "\n".join(" ".join(rng.choice(words, size=12)) for _ in range(400))


def train_tokenizer(directory: Path, vocab_size: int) -> Path:
    """A real byte-level BPE `tokenizers` model saved as tokenizer.json (+ config), ids < vocab_size."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<pad>", "<unk>", "<bos>", "<eos>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(tiny_corpus().splitlines(), trainer)
    assert tokenizer.get_vocab_size() <= vocab_size
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(directory / "tokenizer.json"))
    (directory / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "PreTrainedTokenizerFast",
                "bos_token": "<bos>",
                "eos_token": "<eos>",
                "pad_token": "<pad>",
                "unk_token": "<unk>",
            }
        )
    )
    return directory


def write_run_folder(
    directory: Path,
    *,
    kind: str = "builder_gpt_broken",
    vocab_size: int = 300,
    with_weights: bool = True,
) -> Path:
    """A training run folder laid out as the run-folder contract says (lightning-pipeline writes these)."""
    from safetensors.torch import save_model

    from model_adapter import UniversalModelAdapter, load_model

    export = write_builder(directory / "model", kind, vocab_size=vocab_size)
    model, config = load_model(export)
    torch.manual_seed(1)
    adapter = UniversalModelAdapter(model, config)
    train_tokenizer(directory / "tokenizer", vocab_size)
    if with_weights:
        (directory / "final").mkdir(parents=True)
        save_model(adapter.model, str(directory / "final" / "model.safetensors"))
    run = {
        "format_version": 1,
        "status": "completed",
        "config": {
            "learning_rate": 0.0003,
            "batch_size": 8,
            "max_steps": 120,
            "seq_len": 32,
            "seed": 1234,
        },
        "model_config": config.to_dict(),
        "versions": {"lightning-pipeline": "0.1.0", "model-adapter": "0.1.0"},
        "metrics": {"val_loss": 4.25, "val_perplexity": 70.1, "train_tokens": 30720},
        "data": {"source": "tiny-made-up-corpus", "num_train_tokens": 30720},
    }
    (directory / "run.json").write_text(json.dumps(run, indent=2))
    return directory
