"""A model that sees the future (a masked LM) is bundled as one: said in one line, on the card,
and its inference.py predicts masked tokens instead of generating text."""

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli, run_inference, train_tokenizer

VOCAB = 320

BIDIRECTIONAL_MODEL = '''
import torch
import torch.nn as nn
import torch.nn.functional as F


class TinyMaskedLM(nn.Module):
    """BERT-style: attention without a mask, so every position sees every other one."""

    def __init__(self, vocab_size=320, d_model=32, max_seq_len=32):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Embedding(max_seq_len, d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.head = nn.Linear(d_model, vocab_size)

    def forward(self, input_ids):
        x = self.embed(input_ids) + self.pos(torch.arange(input_ids.shape[1], device=input_ids.device))
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        return self.head(x + F.scaled_dot_product_attention(q, k, v))
'''


def masked_tokenizer(directory: Path) -> Path:
    """The test BPE plus a `<mask>` special token named in tokenizer_config.json."""
    from tokenizers import Tokenizer

    train_tokenizer(directory, 300)
    tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
    tokenizer.add_special_tokens(["<mask>"])
    tokenizer.save(str(directory / "tokenizer.json"))
    config = json.loads((directory / "tokenizer_config.json").read_text())
    (directory / "tokenizer_config.json").write_text(json.dumps({**config, "mask_token": "<mask>"}))
    return directory


@pytest.fixture(scope="module")
def masked_bundle(tmp_path_factory):
    root = tmp_path_factory.mktemp("masked")
    export = root / "export"
    export.mkdir()
    (export / "model.py").write_text(BIDIRECTIONAL_MODEL)
    (export / "config.json").write_text(json.dumps({"vocab_size": VOCAB, "max_seq_len": 32}))
    tokenizer = masked_tokenizer(root / "tok")
    result = run_cli(
        export, "--tokenizer", tokenizer, "--out", root / "bundle", "--formats", "onnx"
    )
    return root / "bundle", result


def test_a_model_that_sees_the_future_is_bundled_as_a_masked_lm(masked_bundle):
    bundle, result = masked_bundle

    assert result.returncode == 0, result.stderr[-3000:]
    said = [line for line in result.stderr.splitlines() if "not causal" in line]
    assert len(said) == 1 and "predicts masked tokens instead of generating text" in said[0]
    report = json.loads((bundle / "parity_report.json").read_text())
    assert report["causality"]["causal"] is False
    assert report["causality"]["detail"].startswith("logits at position")
    assert report["formats"]["onnx"]["passed"] and "generation" not in report
    assert json.loads((bundle / "config.json").read_text())["bundle"]["causal"] is False
    card = (bundle / "README.md").read_text()
    assert "pipeline_tag: fill-mask" in card and "text-generation" not in card
    assert "This model is **not causal**" in card and "Fill masked tokens" in card


def test_the_masked_lm_bundle_predicts_the_masked_token(masked_bundle):
    import onnxruntime as ort
    from tokenizers import Tokenizer

    bundle, _ = masked_bundle

    result = run_inference(bundle, "--prompt", "the king <mask> to the queen", "--json")

    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    tokenizer = Tokenizer.from_file(str(bundle / "tokenizer.json"))
    mask_id = tokenizer.token_to_id("<mask>")
    position = answer["prompt_ids"].index(mask_id)
    [mask] = answer["masks"]
    assert mask["position"] == position and len(mask["candidates"]) == 5
    probabilities = [c["probability"] for c in mask["candidates"]]
    assert probabilities == sorted(probabilities, reverse=True) and 0 < sum(probabilities) <= 1
    session = ort.InferenceSession(str(bundle / "model.onnx"), providers=["CPUExecutionProvider"])
    logits = session.run(None, {"input_ids": np.array([answer["prompt_ids"]], dtype=np.int64)})[0]
    assert mask["candidates"][0]["id"] == int(logits[0, position].argmax())
    assert answer["filled_ids"][position] == mask["candidates"][0]["id"]
    assert mask["candidates"][0]["token"] == tokenizer.id_to_token(mask["candidates"][0]["id"])


def test_the_masked_lm_bundle_refuses_to_generate_in_one_line(masked_bundle):
    bundle, _ = masked_bundle

    result = run_inference(bundle, "--prompt", "the king speaks")

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: this bundle's model is not causal (a masked LM), so it does not generate text; "
        "put its mask token <mask> in --prompt to predict the token there"
    ]


def test_a_fixed_length_for_a_masked_lm_is_refused_before_any_export(tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    (export / "model.py").write_text(BIDIRECTIONAL_MODEL)
    (export / "config.json").write_text(json.dumps({"vocab_size": VOCAB, "max_seq_len": 32}))

    result = run_cli(export, "--out", tmp_path / "out", "--fixed-length", 16)

    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("model-export: error: --fixed-length needs a causal model")
    assert not (tmp_path / "out").exists()
