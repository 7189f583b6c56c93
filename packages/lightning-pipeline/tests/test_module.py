"""LanguageModelingModule: loss, parameter groups, schedules, a real Lightning fit on a tiny LM."""

from __future__ import annotations

import math

import pytest
import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader

from lightning_pipeline.module import (
    IGNORE_INDEX,
    LanguageModelingModule,
    causal_lm_loss,
    lr_lambda_for,
    parameter_groups,
)


def test_loss_predicts_the_next_token_not_the_current_one():
    vocab = 5
    labels = torch.tensor([[1, 2, 3, 4]])
    # logits that put all mass on the *next* label at each position
    logits = torch.full((1, 4, vocab), -30.0)
    for t in range(3):
        logits[0, t, labels[0, t + 1]] = 30.0
    assert causal_lm_loss(logits, labels).item() < 1e-6
    # the same logits scored against the unshifted labels would be terrible
    unshifted = nn.functional.cross_entropy(logits[0], labels[0])
    assert unshifted.item() > 10


def test_loss_ignores_minus_100_but_keeps_eos_equal_to_pad():
    eos = 0  # pad == eos, as with many tokenizers
    logits = torch.randn(1, 4, 6)
    labels = torch.tensor([[3, eos, 2, IGNORE_INDEX]])
    loss = causal_lm_loss(logits, labels)
    # targets: eos (pos 0->1) and 2 (pos 1->2); the -100 at position 3 is dropped
    expected = nn.functional.cross_entropy(logits[0, :2], torch.tensor([eos, 2]))
    assert torch.allclose(loss, expected)


def test_label_smoothing_changes_the_loss():
    logits = torch.randn(2, 6, 7)
    labels = torch.randint(0, 7, (2, 6))
    assert not torch.allclose(
        causal_lm_loss(logits, labels), causal_lm_loss(logits, labels, label_smoothing=0.1)
    )


def test_no_weight_decay_on_norms_biases_and_embeddings(tiny_lm):
    model = tiny_lm()
    groups = parameter_groups(model, weight_decay=0.1)
    decayed = {id(p) for g in groups if g["weight_decay"] > 0 for p in g["params"]}
    assert decayed == {id(model.head.weight)}
    everything = {id(p) for g in groups for p in g["params"]}
    assert everything == {id(p) for p in model.parameters()}


def test_tied_weights_are_listed_once(tiny_lm):
    model = tiny_lm()
    model.head.weight = model.embed.weight
    groups = parameter_groups(model, weight_decay=0.1)
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("schedule", ["cosine", "linear", "constant"])
def test_schedule_warms_up_then_decays(schedule):
    factor = lr_lambda_for(schedule, warmup_steps=10, total_steps=100, min_lr_ratio=0.1)
    assert factor(0) == pytest.approx(0.1)
    assert factor(9) == pytest.approx(1.0)
    if schedule == "constant":
        assert factor(99) == pytest.approx(1.0)
    else:
        assert factor(10) == pytest.approx(1.0)
        assert factor(100) == pytest.approx(0.1)
        assert factor(55) < 1.0
    if schedule == "cosine":
        assert factor(55) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))


def _batches(vocab: int, n: int = 64, seq: int = 12) -> list[dict[str, torch.Tensor]]:
    # a deterministic "count up" language: token t+1 follows token t
    rows = []
    for i in range(n):
        ids = (torch.arange(seq) + i) % vocab
        rows.append(
            {
                "input_ids": ids,
                "attention_mask": torch.ones(seq, dtype=torch.long),
                "labels": ids.clone(),
            }
        )
    return rows


def test_fit_lowers_validation_loss_and_logs_perplexity(tmp_path, tiny_lm):
    pl.seed_everything(0)
    vocab = 20
    module = LanguageModelingModule(tiny_lm(vocab), lr=3e-2, warmup_steps=2, total_steps=40)
    data = _batches(vocab)
    train = DataLoader(data, batch_size=8, shuffle=True)
    val = DataLoader(data[:16], batch_size=8)
    trainer = pl.Trainer(
        max_steps=40,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        default_root_dir=tmp_path,
        accelerator="cpu",
        enable_model_summary=False,
    )
    before = trainer.validate(module, val, verbose=False)[0]
    trainer.fit(module, train, val)
    after = trainer.validate(module, val, verbose=False)[0]
    assert after["val_loss"] < before["val_loss"] - 1.0
    assert after["val_perplexity"] == pytest.approx(math.exp(after["val_loss"]), rel=1e-4)


def test_validation_loss_is_token_weighted_over_batches(tmp_path, tiny_lm):
    vocab = 11
    module = LanguageModelingModule(tiny_lm(vocab))
    module.eval()
    full = {
        "input_ids": torch.randint(0, vocab, (3, 8)),
        "attention_mask": torch.ones(3, 8, dtype=torch.long),
    }
    full["labels"] = full["input_ids"].clone()
    full["labels"][2, 3:] = IGNORE_INDEX  # the last row has fewer real targets
    # two uneven batches: mean of batch means would differ from the token-weighted mean
    batches = [{k: v[:2] for k, v in full.items()}, {k: v[2:] for k, v in full.items()}]
    trainer = pl.Trainer(
        logger=False,
        enable_progress_bar=False,
        accelerator="cpu",
        default_root_dir=tmp_path,
        enable_model_summary=False,
    )
    result = trainer.validate(module, DataLoader(batches, batch_size=None), verbose=False)[0]
    with torch.no_grad():
        expected = causal_lm_loss(module(full["input_ids"]), full["labels"]).item()
    assert result["val_loss"] == pytest.approx(expected, rel=1e-5)


def test_checkpoint_rng_state_loads_with_weights_only(tmp_path, tiny_lm):
    import numpy as np

    module = LanguageModelingModule(tiny_lm())
    checkpoint: dict = {}
    np.random.seed(3)
    module.on_save_checkpoint(checkpoint)
    expected = np.random.rand()
    torch.save(checkpoint, tmp_path / "c.pt")
    loaded = torch.load(tmp_path / "c.pt", weights_only=True)
    np.random.seed(99)
    module.on_load_checkpoint(loaded)
    assert np.random.rand() == expected
