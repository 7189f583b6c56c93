import numpy as np
import pytest
import torch
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
    # 4.6x with onnxruntime 1.32; 2.0x with 1.19-1.24, whose shape-inference pre-processing fails
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


def _train_tied_gpt(folder, vocab: int, steps: int = 60):
    """The "tied" style GPT, trained briefly on a 24-token cycle (each token fixes the next).

    Its predictions are then confident, so top-1 agreement measures the quantization, not ties
    between near-equal logits of an untrained model.
    """
    from model_adapter import UniversalModelAdapter, load_model
    from model_adapter.testing_styles import write_model_style

    torch.manual_seed(0)
    model, config = load_model(write_model_style(folder, "tied", vocab_size=vocab, max_seq_len=32))
    adapter = UniversalModelAdapter(model, config)
    stream = np.tile(np.random.default_rng(3).permutation(vocab)[:24], 40)
    optimizer = torch.optim.AdamW(adapter.parameters(), lr=1e-2)
    starts = np.random.default_rng(4).integers(0, stream.size - 33, size=(steps, 8))
    for batch_starts in starts:
        window = torch.as_tensor(np.stack([stream[s : s + 33] for s in batch_starts]))
        logits = adapter(window[:, :-1])
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, vocab), window[:, 1:].reshape(-1)
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return adapter.eval(), stream


def _initializers_of_size(path, size: int) -> list:
    import onnx

    model = onnx.load(str(path))
    return [init for init in model.graph.initializer if int(np.prod(init.dims)) == size]


def test_int8_stores_a_tied_embedding_once_and_passes_the_agreement_gate(tmp_path):
    import onnx

    from model_export import export_onnx

    vocab, d_model = 512, 32
    adapter, stream = _train_tied_gpt(tmp_path / "export", vocab)
    fp32 = export_onnx(adapter, tmp_path / "m.onnx", max_seq_len=32, vocab_size=vocab)

    result = quantize_int8(fp32.path, tmp_path / "m.int8.onnx", stream, seq_len=32)

    assert result.status == "accepted", result.reason  # the default gate: >= 98% agreement
    assert result.top1_agreement >= QuantizationThresholds().min_top1_agreement
    # one int8 [V, D] matrix serves the lookup and the projection (a Transpose node feeds the
    # projection); no fp32 or second int8 copy of it is left in the file
    shared = _initializers_of_size(tmp_path / "m.int8.onnx", vocab * d_model)
    assert [(tuple(i.dims), i.data_type) for i in shared] == [
        ((vocab, d_model), onnx.TensorProto.INT8)
    ]
    assert len(_initializers_of_size(fp32.path, vocab * d_model)) == 1  # as in fp32
    readers = [
        node.op_type
        for node in onnx.load(str(tmp_path / "m.int8.onnx")).graph.node
        if shared[0].name in node.input
    ]
    assert sorted(readers) == ["Gather", "Transpose"]
    assert result.size_ratio >= 3.5  # issue 14's target for tied models


def test_an_untied_model_has_no_tied_pair_and_its_int8_file_is_untouched(onnx_export_of, tmp_path):
    import onnx

    from model_export.tied_int8 import find_tied_pairs, share_tied_int8

    _, fp32 = onnx_export_of("gru")
    assert find_tied_pairs(onnx.load(str(fp32.path))) == []
    lenient = QuantizationThresholds(min_top1_agreement=0.5, max_perplexity_increase=1.0)
    result = quantize_int8(
        fp32.path, tmp_path / "m.int8.onnx", HELD_OUT, seq_len=32, thresholds=lenient
    )
    before = (tmp_path / "m.int8.onnx").read_bytes()

    assert share_tied_int8(fp32.path, tmp_path / "m.int8.onnx") == 0
    assert (tmp_path / "m.int8.onnx").read_bytes() == before
    assert result.size_ratio > 1.8
