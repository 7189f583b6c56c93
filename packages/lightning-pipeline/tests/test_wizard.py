"""SetupWizard driven headless: widgets filled and buttons pressed from Python, as a user would."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ipywidgets", reason="the [notebook] extra is not installed")

from lightning_pipeline import TrainingConfig
from lightning_pipeline.cli import build_parser, config_from_args
from lightning_pipeline.wizard import PRESETS, SetupWizard, WizardState


@pytest.fixture(scope="module")
def checked_state(tmp_path_factory: pytest.TempPathFactory) -> WizardState:
    """A state whose step 1 passed on a tiny builder export (the model is loaded and checked once)."""
    from model_adapter.testing import write_builder_export

    export = write_builder_export(
        tmp_path_factory.mktemp("wizard") / "export",
        vocab_size=300,
        d_model=32,
        n_heads=2,
        n_blocks=1,
        max_seq_len=32,
    )
    wizard = SetupWizard()
    _fill_model(wizard, export)
    assert wizard.next(), wizard.error_text
    return wizard.state


@pytest.fixture
def at_data_step(checked_state: WizardState) -> SetupWizard:
    """A wizard rebuilt from the checked state: on step 2, with the model's facts known."""
    return SetupWizard(state=copy.deepcopy(checked_state))


def _fill_model(wizard: SetupWizard, path: Path, *, repair: bool = True) -> None:
    wizard.model_choice.value = "path"
    wizard.model_source.value = str(path)
    wizard.repair_causal.value = repair


def _walk_to_training(wizard: SetupWizard, corpus: Path) -> None:
    assert wizard.step == 1
    wizard.data_choice.value = "file"
    wizard.data_source.value = str(corpus)
    assert wizard.next(), wizard.error_text
    assert wizard.next(), wizard.error_text  # tokenizer: auto


def test_five_steps_produce_the_cli_config(
    builder_export: Path, corpus: Path, tmp_path: Path
) -> None:
    received: list[TrainingConfig] = []
    wizard = SetupWizard(out=str(tmp_path / "run"), on_finish=received.append)
    _fill_model(wizard, builder_export)
    assert wizard.next(), wizard.error_text
    _walk_to_training(wizard, corpus)
    wizard.preset.value = "quick-check"
    wizard.fields["seq_len"].value = 32
    wizard.advanced_fields["schedule"].value = "linear"
    wizard.next_button.click()
    assert wizard.step == 4
    assert "max_steps" in wizard.summary.value
    wizard.next_button.click()

    expected = TrainingConfig(
        model=str(builder_export),
        data=str(corpus),
        out=str(tmp_path / "run"),
        max_steps=30,
        batch_size=4,
        seq_len=32,
        lr=1e-3,
        schedule="linear",
    )
    from_cli = config_from_args(
        build_parser().parse_args(
            [
                "train",
                "--model",
                str(builder_export),
                "--data",
                str(corpus),
                "--out",
                str(tmp_path / "run"),
                "--max-steps",
                "30",
                "--batch-size",
                "4",
                "--seq-len",
                "32",
                "--lr",
                "1e-3",
                "--schedule",
                "linear",
            ]
        )
    )
    assert wizard.config == expected == from_cli
    assert (
        wizard.config.changed_from_defaults() == from_cli.changed_from_defaults()
    )  # cadence derived in both
    assert received == [expected]
    assert wizard.state.confirmed and wizard.next_button.disabled
    assert TrainingConfig.from_json(wizard.config.to_json()) == expected


def test_bundled_example_is_the_default_model(tmp_path: Path) -> None:
    from model_adapter import example_export_path

    wizard = SetupWizard(out=str(tmp_path / "run"))
    assert wizard.next(), wizard.error_text
    assert wizard.state.model_config["vocab_size"] == 3001
    assert wizard.next(), wizard.error_text  # built-in example data
    assert "3001" in wizard.tokenizer_info.value  # the tokenizer step names the vocab it must fit
    assert wizard.state.model_path() == str(example_export_path())


def test_missing_model_folder_stays_on_step_one_with_the_reason(tmp_path: Path) -> None:
    wizard = SetupWizard()
    _fill_model(wizard, tmp_path / "nowhere")
    wizard.next_button.click()
    assert wizard.step == 0
    assert wizard.error_text.startswith("⚠ The model could not be loaded")
    assert "wizard-error" in wizard.model_error.value


def test_empty_model_source_is_refused(tmp_path: Path) -> None:
    wizard = SetupWizard()
    wizard.model_choice.value = "gist"
    assert not wizard.next()
    assert "No model source given" in wizard.error_text


def test_causal_leak_is_refused_unless_repaired(tmp_path: Path) -> None:
    from model_adapter.testing import write_builder_export

    export = write_builder_export(
        tmp_path / "leaky",
        vocab_size=300,
        d_model=32,
        n_heads=2,
        n_blocks=1,
        max_seq_len=32,
        defects=("unmasked_attention",),
    )
    wizard = SetupWizard()
    _fill_model(wizard, export, repair=False)
    assert not wizard.next()
    assert "causal" in wizard.error_text.lower()
    assert wizard.state.model_config is None
    wizard.repair_causal.value = True
    assert wizard.next(), wizard.error_text
    assert wizard.step == 1


@pytest.mark.parametrize(
    ("choice", "source", "message"),
    [
        ("file", "", "No dataset given"),
        ("file", "/definitely/not/here.txt", "does not exist"),
        ("hub", "not a name!", "is not a Hub dataset name"),
    ],
)
def test_dataset_step_rejects_bad_sources(
    at_data_step: SetupWizard, choice: str, source: str, message: str
) -> None:
    wizard = at_data_step
    wizard.data_choice.value = choice
    wizard.data_source.value = source
    assert not wizard.next()
    assert wizard.step == 1
    assert message in wizard.error_text


def test_dataset_step_rejects_unsupported_file_type(
    at_data_step: SetupWizard, tmp_path: Path
) -> None:
    data = tmp_path / "notes.docx"
    data.write_bytes(b"PK")
    wizard = at_data_step
    wizard.data_choice.value = "file"
    wizard.data_source.value = str(data)
    assert not wizard.next()
    assert "not a supported data file" in wizard.error_text


def test_hub_dataset_name_is_accepted_without_network(at_data_step: SetupWizard) -> None:
    wizard = at_data_step
    wizard.data_choice.value = "hub"
    wizard.data_source.value = "karpathy/tiny_shakespeare"
    assert wizard.next(), wizard.error_text
    assert wizard.state.data_value() == "karpathy/tiny_shakespeare"


def test_pretrained_tokenizer_needs_a_published_vocab_size(at_data_step: SetupWizard) -> None:
    wizard = at_data_step  # vocab 300: no published tokenizer has it
    assert wizard.next()
    wizard.tokenizer_strategy.value = "pretrained"
    assert not wizard.next()
    assert "No published tokenizer has exactly 300 tokens" in wizard.error_text
    wizard.tokenizer_strategy.value = "character"
    assert wizard.next(), wizard.error_text
    assert wizard.state.tokenizer_strategy == "character"


def test_presets_fit_the_sequence_length_to_the_model(
    at_data_step: SetupWizard, corpus: Path
) -> None:
    wizard = at_data_step
    _walk_to_training(wizard, corpus)
    assert (
        wizard.fields["seq_len"].value == 32
    )  # the default (128) is cut on arrival: max_seq_len is 32
    for name in PRESETS:
        wizard.preset.value = name
        assert PRESETS[name]["seq_len"] > 32
        assert wizard.fields["seq_len"].value == 32, name
        assert wizard.fields["max_steps"].value == PRESETS[name]["max_steps"]
    wizard.fields["seq_len"].value = 16  # a shorter length by hand is kept
    assert wizard.next(), wizard.error_text
    assert wizard.state.training["seq_len"] == 16


def test_sequence_longer_than_the_model_is_refused(at_data_step: SetupWizard, corpus: Path) -> None:
    wizard = at_data_step
    _walk_to_training(wizard, corpus)
    wizard.fields["seq_len"].value = 64  # the export's max_seq_len is 32
    assert not wizard.next()
    assert "longer than the model's max_seq_len 32" in wizard.error_text


def test_training_config_errors_show_inline(at_data_step: SetupWizard, corpus: Path) -> None:
    wizard = at_data_step
    _walk_to_training(wizard, corpus)
    wizard.fields["seq_len"].value = 32
    wizard.fields["lr"].value = 0.0
    assert not wizard.next()
    assert "lr=0.0 must be positive" in wizard.error_text
    wizard.fields["lr"].value = 3e-4
    assert wizard.next(), wizard.error_text
    assert wizard.error_text == ""


def test_derived_fields_follow_the_steps_until_the_user_edits_them(
    at_data_step: SetupWizard, corpus: Path
) -> None:
    wizard = at_data_step
    _walk_to_training(wizard, corpus)
    wizard.preset.value = "quick-check"
    wizard.advanced_fields["eval_every"].value = 5

    wizard.fields["max_steps"].value = 300

    assert (
        wizard.advanced_fields["warmup_steps"].value == TrainingConfig(max_steps=300).warmup_steps
    )
    assert wizard.advanced_fields["checkpoint_every"].value == 30
    assert wizard.advanced_fields["eval_every"].value == 5  # the user's own value stays


def test_preset_fills_fields_and_advanced_values_survive(
    at_data_step: SetupWizard, corpus: Path
) -> None:
    wizard = at_data_step
    _walk_to_training(wizard, corpus)
    wizard.advanced_fields["seed"].value = 7
    wizard.preset.value = "full"
    assert {k: wizard.fields[k].value for k in ("max_steps", "batch_size", "lr")} == {
        k: PRESETS["full"][k] for k in ("max_steps", "batch_size", "lr")
    }
    assert wizard.advanced_fields["seed"].value == 7


def test_back_keeps_choices_and_state_rebuilds_the_wizard(
    at_data_step: SetupWizard, corpus: Path
) -> None:
    wizard = at_data_step
    _walk_to_training(wizard, corpus)
    wizard.back_button.click()
    wizard.back_button.click()
    assert wizard.step == 1
    assert wizard.data_source.value == str(corpus)
    assert wizard.model_page.layout.display == "none" and wizard.data_page.layout.display is None

    rebuilt = SetupWizard(state=wizard.state)
    assert rebuilt.step == 1 and rebuilt.data_source.value == str(corpus)
    assert rebuilt.next(), rebuilt.error_text  # the checked model is kept; no reload needed
    assert rebuilt.step == 2


def test_state_to_config_is_the_training_config() -> None:
    state = WizardState(
        model_choice="path",
        model_source="export/",
        data_choice="hub",
        data_source="owner/data",
        text_column="content",
        out="runs/x",
    )
    config = state.to_config()
    assert (config.model, config.data, config.text_column, config.max_steps) == (
        "export/",
        "owner/data",
        "content",
        1000,
    )


def test_without_ipywidgets_the_error_names_the_extra() -> None:
    script = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'ipywidgets' or name.startswith('ipywidgets.'):\n"
        "            raise ImportError('No module named ipywidgets')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import lightning_pipeline.wizard as wizard\n"
        "try:\n"
        "    wizard.SetupWizard()\n"
        "except ImportError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert "pip install 'lightning-pipeline[notebook]'" in result.stdout
