"""generate(): greedy, temperature and top-k sampling from a trained run folder."""

from __future__ import annotations

import pytest
import torch

from lightning_pipeline import (
    ConfigError,
    RunFolderError,
    generate,
    load_trained_model,
    sample_tokens,
)


def test_greedy_generation_is_deterministic_and_extends_the_prompt(trained_run):
    first = generate(trained_run, "the quick", max_new_tokens=12, temperature=0)
    second = generate(trained_run, "the quick", max_new_tokens=12, temperature=0)
    assert first == second
    assert first.startswith("the quick") and len(first) > len("the quick")


def test_sampling_is_reproducible_with_a_seed_and_varies_without_one(trained_run):
    a = generate(trained_run, "the", max_new_tokens=20, temperature=1.5, top_k=50, seed=1)
    b = generate(trained_run, "the", max_new_tokens=20, temperature=1.5, top_k=50, seed=1)
    assert a == b
    others = {generate(trained_run, "the", max_new_tokens=20, temperature=1.5, top_k=50, seed=s) for s in range(2, 6)}
    assert len(others | {a}) > 1


def test_top_k_of_one_is_greedy(trained_run):
    adapter, tokenizer = load_trained_model(trained_run)
    ids = torch.tensor([tokenizer("the quick", add_special_tokens=False)["input_ids"]])
    greedy = sample_tokens(adapter, ids, max_new_tokens=8, temperature=0)
    top1 = sample_tokens(adapter, ids, max_new_tokens=8, temperature=0.7, top_k=1,
                         generator=torch.Generator().manual_seed(0))
    assert torch.equal(greedy, top1)


def test_context_longer_than_max_seq_len_is_cropped(trained_run):
    adapter, _ = load_trained_model(trained_run)
    ids = torch.randint(5, 300, (1, adapter.max_seq_len + 10))
    out = sample_tokens(adapter, ids, max_new_tokens=3, temperature=0)
    assert out.shape[1] <= ids.shape[1] + 3


def test_trained_weights_beat_the_untrained_model(trained_run):
    """The run's final weights are really loaded: they predict the corpus better than a fresh init."""
    from lightning_pipeline.module import causal_lm_loss
    from model_adapter import UniversalModelAdapter, load_model

    adapter, tokenizer = load_trained_model(trained_run)
    fresh_model, config = load_model(str(trained_run / "model"))
    fresh = UniversalModelAdapter(fresh_model, config).eval()
    ids = torch.tensor([tokenizer("the quick brown fox jumps over a lazy dog while seven wizards",
                                  add_special_tokens=False)["input_ids"]])[:, : config.max_seq_len]
    with torch.no_grad():
        trained_loss = causal_lm_loss(adapter(ids), ids)
        fresh_loss = causal_lm_loss(fresh(ids), ids)
    assert trained_loss < fresh_loss - 0.5


def test_bad_arguments_and_folders_have_clear_errors(trained_run, tmp_path):
    with pytest.raises(ConfigError, match="temperature"):
        generate(trained_run, "x", temperature=-1)
    with pytest.raises(RunFolderError, match="not a run folder"):
        generate(tmp_path, "x")
