import logging

import numpy as np
import onnx
import pytest
import torch
from conftest import MAX_LEN, MODEL_KINDS, VOCAB
from hand_written_models import DataDependentLM, LengthBakedLM

from model_export import ParityError, export_onnx, onnx_session


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_onnx_export_matches_pytorch_over_every_shape(kind, onnx_export_of):
    _, result = onnx_export_of(kind)

    report = result.parity
    assert report.passed, report.summary()
    assert result.exporter == "dynamo"
    seen = {(s.batch, s.seq_len) for s in report.shapes}
    assert any(b == 1 for b, _ in seen) and any(b > 1 for b, _ in seen)
    longest = max(t for _, t in seen)
    assert longest == (MAX_LEN if kind != "gru" else 128)
    assert all(s.max_abs_diff <= 1e-4 and s.top1_agreement == 1.0 for s in report.shapes)


@pytest.mark.parametrize("kind", ["builder_gpt_fixed", "sdpa", "gru"])
def test_onnx_graph_has_symbolic_batch_and_sequence_axes_and_current_opset(kind, onnx_export_of):
    _, result = onnx_export_of(kind)
    model = onnx.load(str(result.path))

    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param != "" for d in dims] == [True, True]
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 18


@pytest.mark.parametrize("kind", ["builder_gpt_broken", "builder_gpt_fixed", "sdpa"])
def test_exported_causal_models_keep_their_causal_mask_at_new_lengths(kind, onnx_export_of):
    _, result = onnx_export_of(kind)
    session = onnx_session(result.path)
    ids = np.random.default_rng(3).integers(0, VOCAB, size=(2, 23), dtype=np.int64)
    changed = ids.copy()
    changed[:, -1] = (changed[:, -1] + 1) % VOCAB

    before = session.run(None, {"input_ids": ids})[0]
    after = session.run(None, {"input_ids": changed})[0]

    np.testing.assert_allclose(before[:, :-1], after[:, :-1], atol=1e-5)
    assert not np.allclose(before[:, -1], after[:, -1])


def test_bidirectional_model_sees_the_future_in_onnx(onnx_export_of):
    # The converse of the causal test: proves that test can tell the two apart.
    _, result = onnx_export_of("builder_bert")
    session = onnx_session(result.path)
    ids = np.random.default_rng(3).integers(0, VOCAB, size=(1, 23), dtype=np.int64)
    changed = ids.copy()
    changed[:, -1] = (changed[:, -1] + 1) % VOCAB

    before = session.run(None, {"input_ids": ids})[0]
    after = session.run(None, {"input_ids": changed})[0]
    assert not np.allclose(before[:, 0], after[:, 0])


def test_falls_back_to_torchscript_exporter_and_logs_why(tmp_path, caplog):
    torch.manual_seed(0)
    with caplog.at_level(logging.WARNING, logger="model_export"):
        result = export_onnx(DataDependentLM(VOCAB), tmp_path / "m.onnx", max_seq_len=MAX_LEN)

    assert result.exporter == "torchscript"
    assert result.fallback_reason.startswith("dynamo exporter failed")
    assert result.parity.passed
    assert "dynamo exporter failed" in caplog.text
    assert result.path.is_file()


def test_length_baked_into_the_graph_fails_parity_naming_the_shape(tmp_path):
    torch.manual_seed(0)
    with pytest.raises(ParityError, match=r"worst shape batch=\d+ seq=\d+") as info:
        export_onnx(LengthBakedLM(VOCAB, MAX_LEN), tmp_path / "m.onnx", example_seq_len=12)

    report = info.value.report
    by_length = {s.seq_len: s.passed for s in report.shapes}
    assert by_length[12] is True  # right at the traced length...
    assert by_length[MAX_LEN] is False  # ...wrong everywhere else
    assert not (tmp_path / "m.onnx").exists()  # nothing failed is left at the target path
