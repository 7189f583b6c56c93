"""A model's own prints (in `__init__`, in `forward`) stay out of model-export's output."""

import json
import logging

from conftest import run_cli

from model_export._model_output import model_prints_to_log

CHATTY_MODEL = """
import torch
import torch.nn as nn
import torch.nn.functional as F


class ChattyLM(nn.Module):
    def __init__(self, vocab_size=37, d_model=16, max_seq_len=16):
        super().__init__()
        self.max_seq_len = max_seq_len
        self.embed = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Embedding(max_seq_len, d_model)
        self.head = nn.Linear(d_model, vocab_size)
        print("CHATTY init: %d parameters" % sum(p.numel() for p in self.parameters()))

    def forward(self, input_ids):
        print("CHATTY forward", tuple(input_ids.shape))
        t = input_ids.shape[1]
        x = self.embed(input_ids) + self.pos(torch.arange(t, device=input_ids.device))
        causal = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()
        att = (x @ x.transpose(1, 2)).masked_fill(~causal, float("-inf")).softmax(-1)
        return self.head(att @ x)
"""


def test_prints_inside_the_block_go_to_the_debug_log_line_by_line(caplog, capsys):
    with caplog.at_level(logging.DEBUG, logger="model_export.model_output"), model_prints_to_log():
        print("first\nsecond")
        print("third", end="")

    assert capsys.readouterr().out == ""
    assert [r.getMessage() for r in caplog.records] == [
        "model output: first",
        "model output: second",
        "model output: third",
    ]


def test_a_model_that_prints_does_not_write_into_the_cli_output(tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    (export / "model.py").write_text(CHATTY_MODEL)
    (export / "config.json").write_text(json.dumps({"vocab_size": 37, "max_seq_len": 16}))

    result = run_cli(export, "--out", tmp_path / "bundle", "--formats", "torchscript")

    assert result.returncode == 0, result.stderr[-3000:]
    assert "CHATTY" not in result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("torchscript  trace ") and lines[-1].startswith("bundle written to")
    assert len(lines) == 2
