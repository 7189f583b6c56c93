import numpy as np
import pytest
from conftest import VOCAB

from model_export import QuantizationThresholds, quantize_fp16, quantize_int8
from model_export.quantization import gpu_available, perplexity

HELD_OUT = np.random.default_rng(7).integers(0, VOCAB, size=600)


def test_perplexity_of_uniform_logits_is_the_vocabulary_size():
    windows = np.random.default_rng(0).integers(0, 50, size=(2, 9))
    assert perplexity(np.zeros((2, 9, 50)), windows) == pytest.approx(50.0)


def test_int8_is_smaller_and_measured_against_fp32(onnx_export_of, tmp_path):
    _, fp32 = onnx_export_of("sdpa")
    lenient = QuantizationThresholds(min_top1_agreement=0.5, max_perplexity_increase=1.0)

    result = quantize_int8(
        fp32.path, tmp_path / "m.int8.onnx", HELD_OUT, seq_len=32, thresholds=lenient
    )

    assert result.status == "accepted"
    assert (tmp_path / "m.int8.onnx").is_file()
    # 4.1x with onnxruntime 1.32; 2.0x with 1.19-1.24, whose shape-inference pre-processing fails
    # on this graph (logged, then skipped): weights are int8 either way, never the fp32 size.
    assert result.size_ratio > 1.8
    assert 0.5 <= result.top1_agreement <= 1.0
    assert result.latency_ratio > 0 and result.fp32_perplexity > 0 and result.perplexity > 0
    assert result.eval_tokens == 32 * min(16, 600 // 32)  # at most 16 windows


def test_int8_past_the_thresholds_is_rejected_and_deleted(onnx_export_of, tmp_path):
    _, fp32 = onnx_export_of("builder_gpt_fixed")
    strict = QuantizationThresholds(min_top1_agreement=1.01, max_perplexity_increase=-1.0)

    result = quantize_int8(
        fp32.path, tmp_path / "m.int8.onnx", HELD_OUT, seq_len=32, thresholds=strict
    )

    assert result.status == "rejected"
    assert "top-1 agreement" in result.reason and "perplexity change" in result.reason
    assert result.path is None and not (tmp_path / "m.int8.onnx").exists()


@pytest.mark.skipif(gpu_available(), reason="checks the CPU-only behaviour")
def test_fp16_is_skipped_without_a_gpu(onnx_export_of, tmp_path):
    _, fp32 = onnx_export_of("sdpa")
    result = quantize_fp16(fp32.path, tmp_path / "m.fp16.onnx", HELD_OUT)
    assert result.status == "skipped" and "GPU" in result.reason
    assert not (tmp_path / "m.fp16.onnx").exists()
