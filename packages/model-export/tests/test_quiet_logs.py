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
    onnx = logging.getLogger("torch.onnx")
    before = (onnx.level, list(logging.getLogger().filters))

    with pytest.raises(RuntimeError), quiet_logs("torch.onnx"):
        assert onnx.level == logging.ERROR
        raise RuntimeError("an export failed")

    assert (onnx.level, list(logging.getLogger().filters)) == before


def test_only_the_named_library_is_quieted_on_the_root_logger(caplog) -> None:
    # onnxruntime's quantizer calls logging.warning() itself, from its own source files: those
    # records go; the user's own root-logger warnings in the same block stay.
    import onnxruntime.quantization.quant_utils as quant_utils

    library_record = logging.LogRecord(
        "root", logging.WARNING, quant_utils.__file__, 1, "advice", None, None
    )
    with caplog.at_level(logging.INFO), quiet_logs("onnxruntime"):
        logging.warning("the user's own warning")
        logging.getLogger().handle(library_record)
        logging.error("an error still gets through")
    messages = [record.getMessage() for record in caplog.records]
    assert messages == ["the user's own warning", "an error still gets through"]
    assert logging.getLogger().level != logging.ERROR  # the root logger's level was never raised


@pytest.mark.skipif(
    importlib.util.find_spec("torchvision") is not None,
    reason="torch logs the skipped torchvision operators only when torchvision is absent",
)
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
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )

    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split() == [
        "dynamo",
        "0",
    ]  # exported by dynamo; the logger's level is back to unset
    assert "torchvision" not in run.stderr
