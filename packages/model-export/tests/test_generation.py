import numpy as np
import pytest
from conftest import VOCAB

from model_export import check_generation_parity
from model_export.onnx_export import onnx_logits_fn, onnx_session


@pytest.mark.parametrize("kind", ["builder_gpt_broken", "sdpa", "gru"])
def test_greedy_tokens_from_onnxruntime_equal_pytorch(kind, onnx_export_of):
    model, result = onnx_export_of(kind)

    parity = check_generation_parity(model, str(result.path), [5, 17, 42], new_tokens=40)

    assert parity.passed, parity
    assert len(parity.onnx_tokens) == 40
    assert parity.onnx_tokens == parity.reference_tokens


def test_generation_crops_to_the_model_context(onnx_export_of):
    model, result = onnx_export_of("builder_gpt_fixed")  # max_seq_len 32: 40 new tokens overflow it
    parity = check_generation_parity(model, str(result.path), [1, 2, 3], new_tokens=40)
    assert parity.passed


def test_a_diverging_runtime_is_reported_at_the_first_different_token(onnx_export_of):
    model, result = onnx_export_of("sdpa")
    real = onnx_logits_fn(onnx_session(result.path))
    calls = {"n": 0}

    def drifts_after_three_steps(ids: np.ndarray) -> np.ndarray:
        calls["n"] += 1
        logits = real(ids)
        if calls["n"] > 3:
            logits[..., (logits[0, -1].argmax() + 1) % VOCAB] += 1e3
        return logits

    parity = check_generation_parity(model, drifts_after_three_steps, [5, 17, 42], new_tokens=6)

    assert not parity.passed
    assert parity.first_mismatch == 3
