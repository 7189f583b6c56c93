"""The sampling specification on plain numpy logits: each filter, the draw, and the stops."""

from __future__ import annotations

import numpy as np
import pytest

from lightning_pipeline.sampling import (
    STOP_EOS,
    STOP_LENGTH,
    SamplingSettings,
    choose_token,
    next_token_probabilities,
    sample_continuations,
)

LOGITS = np.log(np.array([0.05, 0.1, 0.4, 0.3, 0.15]))


def test_temperature_zero_is_argmax_and_draws_nothing():
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    assert choose_token(LOGITS, [], SamplingSettings(temperature=0), rng) == 2
    assert rng.bit_generator.state == state


def test_top_k_keeps_only_the_k_most_likely():
    probs = next_token_probabilities(LOGITS, [], SamplingSettings(top_k=2))
    assert np.count_nonzero(probs) == 2 and probs[2] > probs[3] > 0
    assert probs.sum() == pytest.approx(1.0)


def test_top_p_keeps_the_smallest_set_reaching_the_mass():
    probs = next_token_probabilities(LOGITS, [], SamplingSettings(top_k=None, top_p=0.6))
    assert set(np.flatnonzero(probs)) == {2, 3}  # 0.4 + 0.3 >= 0.6; 0.4 alone is not


def test_repetition_penalty_lowers_tokens_already_in_the_context():
    plain = next_token_probabilities(LOGITS, [2], SamplingSettings(top_k=None))
    penalised = next_token_probabilities(
        LOGITS, [2], SamplingSettings(top_k=None, repetition_penalty=2.0)
    )
    assert penalised[2] < plain[2]


def test_draws_follow_the_distribution_and_repeat_with_the_seed():
    settings = SamplingSettings(top_k=None)
    draws = [
        choose_token(LOGITS, [], settings, rng)
        for rng in [np.random.default_rng(1)]
        for _ in range(4000)
    ]
    again = [
        choose_token(LOGITS, [], settings, rng)
        for rng in [np.random.default_rng(1)]
        for _ in range(4000)
    ]
    assert draws == again
    assert np.bincount(draws, minlength=5) / 4000 == pytest.approx(np.exp(LOGITS), abs=0.03)


def _counting_model(eos_after: int):
    """Logits that pick token (length of the window) until `eos_after` tokens, then eos (id 0)."""

    def logits_fn(ids: np.ndarray) -> np.ndarray:
        logits = np.full(10, -5.0)
        logits[0 if ids.shape[1] >= eos_after else 1 + ids.shape[1] % 9] = 5.0
        return logits

    return logits_fn


def test_end_of_text_stops_the_sample_and_is_not_kept():
    sample = sample_continuations(
        _counting_model(4),
        [3],
        SamplingSettings(temperature=0, max_new_tokens=20),
        decode=lambda ids: " ".join(map(str, ids)),
        eos_token_id=0,
        max_seq_len=None,
    )[0]
    assert (
        sample.stop_reason == STOP_EOS and 0 not in sample.token_ids and len(sample.token_ids) == 3
    )


def test_without_stop_at_eos_it_runs_to_max_new_tokens_and_crops_the_window():
    windows = []

    def logits_fn(ids):
        windows.append(ids.shape[1])
        return _counting_model(2)(ids)

    sample = sample_continuations(
        logits_fn,
        [3],
        SamplingSettings(temperature=0, max_new_tokens=6, stop_at_eos=False),
        decode=str,
        eos_token_id=0,
        max_seq_len=4,
    )[0]
    assert sample.stop_reason == STOP_LENGTH and len(sample.token_ids) == 6
    assert max(windows) == 4
