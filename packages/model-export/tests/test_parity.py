import numpy as np
import pytest

from model_export import ParityError, default_parity_shapes, measure_parity
from model_export.parity import compare_logits


def test_compare_logits_flags_difference_beyond_atol_and_counts_top1():
    reference = np.zeros((1, 2, 3), dtype=np.float32)
    reference[0, :, 0] = 1.0
    candidate = reference.copy()
    candidate[0, 1, 2] = 2.0  # second position now prefers token 2

    max_abs, _, top1, passed = compare_logits(reference, candidate, atol=1e-4)

    assert max_abs == pytest.approx(2.0)
    assert top1 == pytest.approx(0.5)
    assert not passed


def test_compare_logits_accepts_differences_within_atol():
    reference = np.random.default_rng(0).normal(size=(2, 4, 5))
    _, _, top1, passed = compare_logits(reference, reference + 5e-5, atol=1e-4)
    assert passed and top1 == 1.0


def test_default_shapes_cover_batch_one_and_more_and_the_maximum_length():
    shapes = default_parity_shapes(64, example_seq_len=16)
    assert {b for b, _ in shapes} >= {1, 2, 3}
    assert (1, 64) in shapes and (1, 1) in shapes
    assert any(t not in (16, 64) for _, t in shapes)


def test_parity_failure_names_the_worst_shape():
    def reference(ids):
        return np.ones((*ids.shape, 7), dtype=np.float32)

    def frozen_at_length_8(ids):
        if ids.shape[1] != 8:
            raise ValueError(f"expected seq 8, got {ids.shape[1]}")
        return reference(ids)

    report = measure_parity(
        reference,
        frozen_at_length_8,
        vocab_size=7,
        shapes=[(1, 8), (2, 5)],
        fmt="onnx",
        exporter="test",
    )

    assert [s.passed for s in report.shapes] == [True, False]
    with pytest.raises(ParityError, match=r"worst shape batch=2 seq=5: ValueError: expected seq 8"):
        report.raise_if_failed()
