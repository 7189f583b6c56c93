"""generate(): greedy and sampled continuations from a trained run folder, with their stop reasons."""

from __future__ import annotations

import pytest
import torch

from lightning_pipeline import (
    ConfigError,
    RunFolderError,
    generate,
    generate_samples,
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
    others = {
        generate(trained_run, "the", max_new_tokens=20, temperature=1.5, top_k=50, seed=s)
        for s in range(2, 6)
    }
    assert len(others | {a}) > 1


def test_top_k_of_one_is_greedy(trained_run):
    adapter, tokenizer = load_trained_model(trained_run)
    ids = torch.tensor([tokenizer("the quick", add_special_tokens=False)["input_ids"]])
    greedy = sample_tokens(adapter, ids, max_new_tokens=8, temperature=0)
    top1 = sample_tokens(adapter, ids, max_new_tokens=8, temperature=0.7, top_k=1, seed=0)
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
    ids = torch.tensor(
        [
            tokenizer(
                "the quick brown fox jumps over a lazy dog while seven wizards",
                add_special_tokens=False,
            )["input_ids"]
        ]
    )[:, : config.max_seq_len]
    with torch.no_grad():
        trained_loss = causal_lm_loss(adapter(ids), ids)
        fresh_loss = causal_lm_loss(fresh(ids), ids)
    assert trained_loss < fresh_loss - 0.5


def test_bad_arguments_and_folders_have_clear_errors(trained_run, tmp_path):
    with pytest.raises(ConfigError, match="temperature"):
        generate(trained_run, "x", temperature=-1)
    with pytest.raises(RunFolderError, match="not a run folder"):
        generate(tmp_path, "x")


def test_several_samples_are_reproducible_and_the_first_equals_a_single_sample(trained_run):
    three = generate_samples(
        trained_run, "the", max_new_tokens=15, temperature=1.2, top_p=0.9, num_samples=3, seed=4
    )
    again = generate_samples(
        trained_run, "the", max_new_tokens=15, temperature=1.2, top_p=0.9, num_samples=3, seed=4
    )
    one = generate_samples(
        trained_run, "the", max_new_tokens=15, temperature=1.2, top_p=0.9, seed=4
    )

    assert [s.token_ids for s in three] == [s.token_ids for s in again]
    assert len({tuple(s.token_ids) for s in three}) > 1
    assert one[0].token_ids == three[0].token_ids
    assert all(s.seed == 4 for s in three)


def test_unseeded_samples_report_the_seed_that_repeats_them(trained_run):
    first = generate_samples(trained_run, "the", max_new_tokens=10, temperature=1.0)[0]
    repeat = generate_samples(
        trained_run, "the", max_new_tokens=10, temperature=1.0, seed=first.seed
    )[0]
    assert repeat.token_ids == first.token_ids


def test_stop_string_cuts_the_text_and_is_reported(trained_run):
    free = generate_samples(trained_run, "the", max_new_tokens=30, temperature=0)[0]
    stop = free.text.strip()[:2]  # something the greedy continuation is known to contain

    sample = generate_samples(trained_run, "the", max_new_tokens=30, temperature=0, stop=stop)[0]

    assert stop not in sample.text and free.text.startswith(sample.text)
    assert sample.stop_reason == f"stop string {stop!r}"
    assert len(sample.token_ids) < len(free.token_ids) or free.stop_reason != "max_new_tokens"


@pytest.mark.parametrize(
    ("setting", "value", "fragment"),
    [
        ("top_p", 0.0, "top_p"),
        ("top_p", 1.5, "top_p"),
        ("repetition_penalty", 0.0, "repetition_penalty"),
        ("num_samples", 0, "num_samples"),
        ("max_new_tokens", 0, "max_new_tokens"),
        ("stop", [""], "stop string"),
    ],
)
def test_bad_sampling_settings_name_the_setting(trained_run, setting, value, fragment):
    with pytest.raises(ConfigError, match=fragment):
        generate_samples(trained_run, "x", **{setting: value})


def test_a_run_without_final_weights_loads_its_newest_valid_checkpoint(trained_run, tmp_path):
    import shutil

    from lightning_pipeline.checkpoint_io import load_checkpoint_file
    from lightning_pipeline.run_folder import RunFolder

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    shutil.rmtree(run / "final")
    newest = RunFolder(run).latest_valid_checkpoint()
    assert newest is not None
    expected = load_checkpoint_file(newest)["state_dict"]

    adapter, _ = load_trained_model(run)

    for name, value in adapter.state_dict().items():
        assert torch.equal(value, expected[f"adapter.{name}"]), name
