"""Tier 1 validation on hand-written models (good and deliberately broken) and builder exports.

Every broken model here breaks exactly one thing, and the test asserts that the matching check
flags it and names the culprit, so a validation that passes everything fails these tests.
"""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from model_adapter import ModelConfig, ModelValidationError, load_model, validate_model
from model_adapter.adapter import UniversalModelAdapter
from model_adapter.testing import write_builder_export
from model_adapter.validation import CHECKS, QUICK_CHECKS

VOCAB, D_MODEL, MAX_LEN = 211, 32, 24


def _config(**overrides) -> ModelConfig:
    values = dict(
        vocab_size=VOCAB, max_seq_len=MAX_LEN, d_model=D_MODEL, heads=2, layers=1, name="TinyLM"
    )
    values.update(overrides)
    return ModelConfig(**values)


class TinyLM(nn.Module):
    """A small, correct causal LM; subclasses each break one thing."""

    def __init__(self, vocab: int = VOCAB, max_len: int = MAX_LEN) -> None:
        super().__init__()
        self.tok = nn.Embedding(vocab, D_MODEL)
        self.pos = nn.Embedding(max_len, D_MODEL)
        self.attn = nn.MultiheadAttention(D_MODEL, 2, batch_first=True)
        self.norm = nn.LayerNorm(D_MODEL)
        self.head = nn.Linear(D_MODEL, vocab, bias=False)
        for weight in (self.tok.weight, self.pos.weight, self.head.weight):
            nn.init.normal_(weight, std=0.02)

    def embed(self, input_ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        return self.tok(input_ids) + self.pos(positions)

    def mix(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[1]
        mask = torch.ones(length, length, dtype=torch.bool, device=x.device).triu(1)
        out, _ = self.attn(x, x, x, attn_mask=mask, need_weights=False)
        return out

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        x = self.embed(input_ids)
        return self.head(self.norm(x + self.mix(x)))


class UnmaskedLM(TinyLM):
    """Calls nn.MultiheadAttention without a mask, like every builder export."""

    def mix(self, x):
        out, _ = self.attn(x, x, x, need_weights=False)
        return out


class HandRolledLeakyLM(TinyLM):
    """Attention written by hand without a mask: nothing the adapter can inject a mask into."""

    def mix(self, x):
        scores = x @ x.transpose(1, 2) / D_MODEL**0.5
        return scores.softmax(-1) @ x


class OffByOneMaskLM(TinyLM):
    """Masks attention, but lets every position see one token ahead: a subtle leak."""

    def mix(self, x):
        length = x.shape[1]
        mask = torch.ones(length, length, dtype=torch.bool, device=x.device).triu(2)
        out, _ = self.attn(x, x, x, attn_mask=mask, need_weights=False)
        return out


class DeadParameterLM(TinyLM):
    def __init__(self):
        super().__init__()
        self.never_called = nn.Linear(D_MODEL, D_MODEL)


class FrozenLM(TinyLM):
    def __init__(self):
        super().__init__()
        self.pos.weight.requires_grad_(False)


class NaNLM(TinyLM):
    def forward(self, input_ids):
        logits = super().forward(input_ids)
        return logits + torch.log(torch.zeros((), device=logits.device)) * 0  # -inf * 0 = NaN


class ZeroInitLM(TinyLM):
    def __init__(self):
        super().__init__()
        self.bottleneck = nn.Linear(D_MODEL, D_MODEL)
        nn.init.zeros_(self.bottleneck.weight)

    def forward(self, input_ids):
        x = self.embed(input_ids)
        x = x + self.mix(x)
        return self.head(self.norm(x + self.bottleneck(x)))


class HugeLogitsLM(TinyLM):
    def forward(self, input_ids):
        return super().forward(input_ids) * 1e4


class FixedBatchLM(TinyLM):
    """Hard-codes batch size 2 in a reshape: fine in training, broken for generation."""

    def forward(self, input_ids):
        x = self.embed(input_ids).reshape(2, -1, D_MODEL)
        return self.head(self.norm(x + self.mix(x)))


class WideOutputLM(TinyLM):
    """Its output layer has a name no config cross-check knows, and 45 columns too many."""

    def __init__(self):
        super().__init__()
        del self.head
        self.unembed = nn.Linear(D_MODEL, VOCAB + 45, bias=False)

    def forward(self, input_ids):
        x = self.embed(input_ids)
        return self.unembed(self.norm(x + self.mix(x)))


@pytest.fixture(scope="module")
def good_report():
    torch.manual_seed(0)
    return validate_model(TinyLM(), _config(), seq_len=16)


def test_correct_model_passes_every_check(good_report):
    assert [c.name for c in good_report.checks] == list(CHECKS)
    assert good_report.passed
    failed_or_warned = {c.name: c.message for c in good_report.checks if c.status != "passed"}
    assert failed_or_warned == {}


def test_report_serialises_to_strict_json(good_report):
    data = json.loads(good_report.to_json())
    assert data["passed"] is True
    assert data["settings"]["seq_len"] == 16
    assert {c["name"] for c in data["checks"]} == set(CHECKS)


def test_shape_robustness_probes_batch_one_odd_and_maximum_lengths(good_report):
    check = good_report["shape_robustness"]
    assert {"1x1", "1x7", "2x15", f"1x{MAX_LEN}"} <= set(check.values["shapes"])


def test_beyond_maximum_length_is_reported_clearly(good_report):
    check = good_report["shape_robustness"]
    assert check.values["beyond_max"] == "clear_error"
    assert str(MAX_LEN) in check.values["beyond_max_detail"]
    assert "index out of range" not in check.values["beyond_max_detail"]


def test_batch_size_hard_coded_in_model_fails_shape_robustness():
    report = validate_model(FixedBatchLM(), _config(), seq_len=16, quick=True)
    check = report["shape_robustness"]
    assert check.status == "failed"
    assert any(f.startswith("1x") for f in check.values["failures"])
    assert not report.passed


def test_unmasked_attention_fails_causal_leak_when_validated_raw():
    report = validate_model(UnmaskedLM(), _config(), seq_len=16, causal=False, quick=True)
    check = report["causal_leak"]
    assert check.status == "failed"
    assert check.values["leaks"] is True
    assert check.values["repair_fixes_it"] is True
    assert "causal=True" in check.hint and "--no-causal" in check.hint
    assert not report.passed


def test_unmasked_attention_passes_once_the_adapter_repairs_it():
    report = validate_model(UnmaskedLM(), _config(), seq_len=16, quick=True)
    check = report["causal_leak"]
    assert check.status == "passed"
    assert check.values["leaks"] is False
    assert check.values["raw_model_leaks"] is True
    assert "repairs it" in check.message


def test_leak_the_adapter_cannot_repair_fails_with_a_hint_to_mask_in_the_model():
    report = validate_model(HandRolledLeakyLM(), _config(), seq_len=16, quick=True)
    check = report["causal_leak"]
    assert check.status == "failed"
    assert check.values["affected_position"] >= 0
    assert "is_causal=True" in check.hint


def test_one_token_lookahead_is_caught():
    check = validate_model(OffByOneMaskLM(), _config(), seq_len=16, quick=True)["causal_leak"]
    assert check.status == "failed"
    assert check.values["affected_position"] == check.values["changed_token"] - 1


def test_adapter_is_validated_as_given():
    raw_adapter = UniversalModelAdapter(UnmaskedLM(), _config(), causal=False)
    assert validate_model(raw_adapter, quick=True, seq_len=16)["causal_leak"].status == "failed"
    repaired = UniversalModelAdapter(UnmaskedLM(), _config(), causal=True)
    assert validate_model(repaired, quick=True, seq_len=16)["causal_leak"].status == "passed"


def test_unused_parameter_is_named_in_a_gradient_warning():
    check = validate_model(DeadParameterLM(), _config(), seq_len=16, quick=True)["gradient_flow"]
    assert check.status == "warning"
    assert check.values["unused"] == ["never_called.weight", "never_called.bias"]
    assert "never_called.weight" in check.message


def test_frozen_parameter_is_listed_but_not_flagged():
    check = validate_model(FrozenLM(), _config(), seq_len=16, quick=True)["gradient_flow"]
    assert check.status == "passed"
    assert check.values["frozen"] == ["pos.weight"]
    assert "frozen: pos.weight" in check.message


def test_nan_logits_fail_numerical_stability_and_gradient_flow():
    report = validate_model(NaNLM(), _config(), seq_len=16, quick=True)
    assert report["numerical_stability"].status == "failed"
    assert "random" in report["numerical_stability"].values["non_finite_probes"]
    assert report["gradient_flow"].status == "failed"
    assert not report.passed


def test_huge_logits_fail_on_their_loss_on_random_targets():
    check = validate_model(HugeLogitsLM(), _config(), seq_len=16, quick=True)["numerical_stability"]
    assert check.status == "failed"
    assert check.values["max_abs_logit"] > 100
    assert check.values["loss_random_targets"] > 2 * check.values["ln_vocab"] + 50
    assert "x ln(vocab)" in check.message


class ConfidentLM(TinyLM):
    def forward(self, input_ids):
        return super().forward(input_ids) * 40


def test_confident_logits_warn_with_the_loss_ratio():
    check = validate_model(ConfidentLM(), _config(), seq_len=16, quick=True)["numerical_stability"]
    assert check.status == "warning"
    assert check.values["loss_over_ln_vocab"] > 2
    assert check.values["loss_random_targets"] - check.values["ln_vocab"] < 50


def test_all_zero_weight_matrix_is_flagged_by_name():
    check = validate_model(ZeroInitLM(), _config(), seq_len=16, quick=True)["parameter_init"]
    assert check.status == "warning"
    assert check.values["all_zero"] == ["bottleneck.weight"]
    stats = {layer["name"]: layer for layer in check.values["layers"]}
    assert stats["bottleneck.weight"]["zero_fraction"] == 1.0
    assert stats["head.weight"]["std"] == pytest.approx(0.02, rel=0.2)


def test_outlier_weights_are_flagged():
    model = TinyLM()
    with torch.no_grad():
        model.head.weight[0, 0] = 50.0
    check = validate_model(model, _config(), seq_len=16, quick=True)["parameter_init"]
    assert check.status == "warning"
    assert "head.weight" in check.values["outliers"]


def test_vocab_contract_compares_embedding_logits_and_config(good_report):
    check = good_report["vocab_contract"]
    assert (
        check.values["config_vocab_size"],
        check.values["embedding_rows"],
        check.values["logit_columns"],
    ) == (VOCAB, VOCAB, VOCAB)
    assert check.values["embedding"] == "tok"
    assert check.values["output"] == "head"


def test_logits_wider_than_config_vocab_fail_the_vocab_contract():
    report = validate_model(WideOutputLM(), _config(), seq_len=16, quick=True)
    check = report["vocab_contract"]
    assert check.status == "failed"
    assert str(VOCAB) in check.message and str(VOCAB + 45) in check.message
    assert not report.passed


def test_memory_footprint_counts_parameters_gradients_adamw_and_activations(good_report):
    check = good_report["memory_footprint"]
    n_params = sum(p.numel() for p in TinyLM().parameters())
    assert check.values["parameters"] == n_params
    assert check.values["parameters_mb"] * 2**20 == pytest.approx(n_params * 4)
    assert check.values["optimizer_adamw_mb"] == pytest.approx(2 * check.values["gradients_mb"])
    logits_bytes = 2 * 16 * VOCAB * 4
    assert check.values["activations_mb"] * 2**20 > logits_bytes
    assert check.values["activations_method"].startswith("estimated")


def test_inference_speed_reports_tokens_per_second_per_batch_size(good_report):
    check = good_report["inference_speed"]
    assert set(check.values["per_batch"]) == {"1", "2", "4"}
    for stats in check.values["per_batch"].values():
        assert stats["tokens_per_s"] > 0 and stats["runs"] >= 3


def test_quick_runs_the_cheap_subset():
    report = validate_model(TinyLM(), _config(), seq_len=8, quick=True)
    assert [c.name for c in report.checks] == list(QUICK_CHECKS)
    assert "memory_footprint" not in QUICK_CHECKS and "inference_speed" not in QUICK_CHECKS


def test_validation_leaves_mode_gradients_weights_and_rng_untouched():
    model = TinyLM().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    validate_model(model, _config(), seq_len=8, quick=True)
    assert model.training and all(m.training for m in model.modules())
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert torch.equal(rng, torch.get_rng_state())


def test_a_crashing_model_fails_checks_instead_of_raising():
    class Crashes(TinyLM):
        def forward(self, input_ids):
            raise RuntimeError("boom in the model")

    report = validate_model(Crashes(), _config(), seq_len=8, quick=True)
    assert not report.passed
    assert "boom in the model" in report["vocab_contract"].message


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"seq_len": 0}, "seq_len must be a positive integer"),
        ({"seq_len": MAX_LEN + 1}, f"exceeds the model's max_seq_len={MAX_LEN}"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
    ],
)
def test_bad_arguments_raise_model_validation_error(kwargs, match):
    with pytest.raises(ModelValidationError, match=match):
        validate_model(TinyLM(), _config(), **kwargs)


def test_non_module_is_refused_with_a_hint():
    with pytest.raises(ModelValidationError, match="load_model"):
        validate_model("model.py")


# -- builder exports ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "defects",
    [
        ("unmasked_attention",),
        ("unmasked_attention", "leaked_intermediates", "missing_output_module"),
    ],
)
def test_raw_builder_export_is_flagged_and_passes_once_repaired(tmp_path, defects):
    folder = write_builder_export(
        tmp_path / "export",
        vocab_size=301,
        d_model=32,
        n_heads=2,
        n_blocks=2,
        max_seq_len=20,
        defects=defects,
    )
    model, config = load_model(folder)

    raw = validate_model(model, config, causal=False, quick=True)
    assert raw["causal_leak"].status == "failed"
    assert "--no-causal" in raw["causal_leak"].hint

    repaired = validate_model(model, config, quick=True)
    assert repaired["causal_leak"].status == "passed"
    assert repaired["causal_leak"].values["raw_model_leaks"] is True
    assert repaired.passed, repaired.to_text()


def test_masked_builder_export_passes_full_validation(tmp_path):
    folder = write_builder_export(
        tmp_path / "export", vocab_size=157, d_model=32, n_heads=4, n_blocks=1, max_seq_len=16
    )
    model, config = load_model(folder)
    report = validate_model(model, config)
    assert report.passed, report.to_text()
    assert report["causal_leak"].values["raw_model_leaks"] is False
    assert report["vocab_contract"].values["embedding"] == "embedding_0_token"
