"""Other libraries' advice stays out of the user's log while we export; their levels come back."""

from __future__ import annotations

import importlib.util
import logging
import subprocess
import sys
import textwrap

import pytest

from model_export._quiet_logs import quiet_logs


def test_levels_are_raised_in_the_block_and_restored_after_an_error() -> None:
    root, onnx = logging.getLogger(), logging.getLogger("torch.onnx")
    before = (root.level, onnx.level)

    with pytest.raises(RuntimeError), quiet_logs("", "torch.onnx"):
        assert (root.level, onnx.level) == (logging.ERROR, logging.ERROR)
        raise RuntimeError("an export failed")

    assert (root.level, onnx.level) == before


@pytest.mark.skipif(importlib.util.find_spec("torchvision") is not None,
                    reason="torch logs the skipped torchvision operators only when torchvision is absent")
def test_first_onnx_export_in_a_process_logs_no_torchvision_advice(tmp_path) -> None:
    # A fresh process: torch logs the advice once per process, when the dynamo exporter first
    # builds its operator registry.
    script = textwrap.dedent(
        f"""
        import logging, sys, torch
        from model_export import export_onnx

        class LM(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.embed, self.head = torch.nn.Embedding(50, 8), torch.nn.Linear(8, 50)
            def forward(self, input_ids):
                return self.head(self.embed(input_ids))

        result = export_onnx(LM().eval(), {str(tmp_path / "m.onnx")!r}, vocab_size=50, max_seq_len=16)
        print(result.exporter, logging.getLogger("torch.onnx").level)
        """
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)

    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split() == ["dynamo", "0"]  # exported by dynamo; the logger's level is back to unset
    assert "torchvision" not in run.stderr
