"""`SetupWizard`: the notebook's five-step form that produces the same `TrainingConfig` as the CLI.

The steps are the seed plan's: model (loaded and checked with Tier 1 validation), dataset,
tokenizer, training settings (a preset plus advanced fields) and confirmation. Each step checks
its inputs when the user presses Next and shows what is wrong under the fields; nothing moves on
until it is right. Everything the user chose lives in one `WizardState`, so the wizard can be
rebuilt from it (for instance after a runtime restart) and its result is an ordinary
`TrainingConfig` for `lightning_pipeline.train`.

Needs the `notebook` extra (ipywidgets 7 or 8)::

    pip install 'lightning-pipeline[notebook]'

Example (in a notebook)::

    from lightning_pipeline.wizard import SetupWizard
    wizard = SetupWizard(out="/content/drive/MyDrive/runs/first")
    wizard                      # shows the form; press Next through the five steps
    config = wizard.config      # the TrainingConfig, once the last step is confirmed
"""

from __future__ import annotations

import dataclasses
import html
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lightning_pipeline.config import SCHEDULES, TrainingConfig
from lightning_pipeline.errors import ConfigError, LightningPipelineError
from lightning_pipeline.model_check import fit_seq_len, quick_check

logger = logging.getLogger(__name__)

NOTEBOOK_EXTRA_HINT = "SetupWizard needs ipywidgets, which is not installed: pip install 'lightning-pipeline[notebook]'"
STEP_TITLES = ("Model", "Dataset", "Tokenizer", "Training", "Confirm")
DATA_SUFFIXES = (".txt", ".csv", ".jsonl", ".json", ".parquet")
TOKENIZER_STRATEGIES = ("auto", "pretrained", "bpe", "character")
_HUB_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")

# Presets fill the main training fields; warmup and the eval / checkpoint cadence are derived
# from max_steps by TrainingConfig itself (the CLI's policy too), unless the user changes them.
PRESETS: dict[str, dict[str, Any]] = {
    "quick-check": {"max_steps": 30, "batch_size": 4, "seq_len": 64, "lr": 1e-3},
    "small": {"max_steps": 1000, "batch_size": 16, "seq_len": 128, "lr": 3e-4},
    "full": {"max_steps": 5000, "batch_size": 32, "seq_len": 256, "lr": 3e-4},
}
# Advanced fields whose value TrainingConfig derives from max_steps when it is not set.
WIZARD_DERIVED_FIELDS = ("warmup_steps", "eval_every", "checkpoint_every")


def _source_picker(
    w: Any,
    what: str,
    options: list[tuple[str, str]],
    *,
    choice: str,
    source: str,
    placeholder: str,
) -> tuple[Any, Any]:
    """The radio buttons for where the model or data comes from, and the field for its path or name."""
    buttons = w.RadioButtons(options=options, value=choice, description=what)
    text = w.Text(
        value=source, placeholder=placeholder, description="Source", layout=w.Layout(width="520px")
    )
    return buttons, text


def _derived_for(max_steps: int) -> dict[str, int]:
    """What TrainingConfig derives for `max_steps` (the one place that policy lives)."""
    return TrainingConfig(max_steps=max(1, int(max_steps or 1))).derived_defaults()


PRESET_LABELS = {
    "quick-check": "Quick check (30 steps, CPU is fine)",
    "small": "Small (1,000 steps, a few minutes on a Colab GPU)",
    "full": "Full (5,000 steps)",
}


def _ipywidgets() -> Any:
    """ipywidgets, imported when a wizard is built so that the module itself imports without it."""
    try:
        import ipywidgets
    except ImportError as error:
        raise ImportError(NOTEBOOK_EXTRA_HINT) from error
    return ipywidgets


@dataclass
class WizardState:
    """Every choice made in the wizard: the one place its state lives (JSON-friendly values)."""

    step: int = 0
    model_choice: str = "example"  # "example" | "path" | "gist"
    model_source: str = ""
    repair_causal_leak: bool = True
    model_checked: str | None = None  # the source the current model facts were checked for
    model_config: dict[str, Any] | None = None  # ModelConfig.to_dict() of the checked model
    data_choice: str = "example"  # "example" | "hub" | "file"
    data_source: str = ""
    text_column: str = ""
    data_config_name: str = ""
    tokenizer_strategy: str = "auto"
    preset: str = "small"
    training: dict[str, Any] = field(default_factory=lambda: dict(PRESETS["small"]))
    out: str = "runs/run"
    confirmed: bool = False

    def model_path(self) -> str:
        """The `model` value of the config: the example's folder, a path or a Gist ID."""
        if self.model_choice == "example":
            from model_adapter import example_export_path

            return str(example_export_path())
        return self.model_source.strip()

    def data_value(self) -> str:
        return "example" if self.data_choice == "example" else self.data_source.strip()

    def to_config(self) -> TrainingConfig:
        """The `TrainingConfig` these choices describe (raises `ConfigError` when one cannot work)."""
        return TrainingConfig(
            model=self.model_path(),
            data=self.data_value(),
            out=self.out.strip(),
            text_column=self.text_column.strip() or None,
            data_config_name=self.data_config_name.strip() or None,
            tokenizer_strategy=self.tokenizer_strategy,
            repair_causal_leak=self.repair_causal_leak,
            **self.training,
        )


class SetupWizard:
    """Five steps with Back / Next, per-step validation and inline errors; result: a `TrainingConfig`.

    Args:
        state: choices to start from (a `WizardState`); a fresh one by default.
        out: the run folder to propose (on Colab, a folder on Drive).
        on_finish: called with the `TrainingConfig` when the last step is confirmed.

    The widgets are public attributes (`model_source`, `next_button`, ...) so that tests and
    scripts can fill and press them exactly as a user does.
    """

    def __init__(
        self,
        state: WizardState | None = None,
        *,
        out: str | None = None,
        on_finish: Callable[[TrainingConfig], None] | None = None,
    ) -> None:
        w = _ipywidgets()
        self._w = w
        self.state = state if state is not None else WizardState()
        if out is not None:
            self.state.out = out
        self.on_finish = on_finish
        self.config: TrainingConfig | None = None
        self._build_model_step(w)
        self._build_data_step(w)
        self._build_tokenizer_step(w)
        self._build_training_step(w)
        self._build_confirm_step(w)
        self.header = w.HTML()
        self.back_button = w.Button(description="Back", icon="arrow-left")
        self.next_button = w.Button(description="Next", icon="arrow-right", button_style="primary")
        self.back_button.on_click(lambda _: self.back())
        self.next_button.on_click(lambda _: self.next())
        self.pages = [
            self.model_page,
            self.data_page,
            self.tokenizer_page,
            self.training_page,
            self.confirm_page,
        ]
        self.errors = [
            self.model_error,
            self.data_error,
            self.tokenizer_error,
            self.training_error,
            self.confirm_error,
        ]
        self.widget = w.VBox(
            [self.header, *self.pages, w.HBox([self.back_button, self.next_button])]
        )
        self.widget.add_class("setup-wizard")
        for title, page in zip(
            STEP_TITLES, self.pages
        ):  # stable hooks for browser tests and styling
            page.add_class(f"wizard-step-{title.lower()}")
        labelled = [
            self.model_choice,
            self.model_source,
            self.data_choice,
            self.data_source,
            self.text_column,
            self.data_config_name,
            self.tokenizer_strategy,
            self.preset,
            self.out,
            *self.fields.values(),
            *self.advanced_fields.values(),
        ]
        for widget in (
            labelled
        ):  # room for the labels ("Sequence len", "Learning rate") in both ipywidgets 7 and 8
            widget.style.description_width = "130px"
        self._show(self.state.step)

    # ------------------------------------------------------------------ display and navigation
    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    @property
    def step(self) -> int:
        return self.state.step

    @property
    def error_text(self) -> str:
        """The current step's error message as plain text ('' when there is none)."""
        return re.sub(r"<[^>]+>", "", html.unescape(self.errors[self.state.step].value)).strip()

    def _show(self, step: int) -> None:
        self.state.step = step
        for index, page in enumerate(self.pages):
            page.layout.display = None if index == step else "none"
        steps = " · ".join(
            f"<b>{i + 1}. {title}</b>" if i == step else f"{i + 1}. {title}"
            for i, title in enumerate(STEP_TITLES)
        )
        self.header.value = (
            f"<div class='wizard-steps'>Step {step + 1} of {len(STEP_TITLES)}: {steps}</div>"
        )
        self.back_button.disabled = step == 0
        self.next_button.disabled = False
        if step == STEP_TITLES.index("Tokenizer"):
            self._describe_tokenizer()
        if step == STEP_TITLES.index("Training"):
            self._fit_seq_len_to_model()
        last = step == len(STEP_TITLES) - 1
        self.next_button.description = "Create config" if last else "Next"
        if last:
            self._fill_summary()

    def _set_error(self, step: int, message: str | None) -> None:
        self.errors[step].value = (
            ""
            if not message
            else f"<div class='wizard-error' style='color:#b00020'>&#9888; {html.escape(message)}</div>"
        )

    def back(self) -> None:
        """Go one step back (choices are kept)."""
        if self.state.step > 0:
            self._set_error(self.state.step, None)
            self._show(self.state.step - 1)

    def next(self) -> bool:
        """Validate the current step; move on (or finish) when it is right. Returns whether it was."""
        step = self.state.step
        validators = (
            self._check_model,
            self._check_data,
            self._check_tokenizer,
            self._check_training,
            self._finish,
        )
        message = validators[step]()
        self._set_error(step, message)
        if message:
            return False
        if step < len(STEP_TITLES) - 1:
            self._show(step + 1)
        return True

    # ------------------------------------------------------------------ step 1: model
    def _build_model_step(self, w: Any) -> None:
        self.model_choice, self.model_source = _source_picker(
            w,
            "Model",
            [
                ("Bundled example export", "example"),
                ("Folder or model.py path", "path"),
                ("GitHub Gist ID or URL", "gist"),
            ],
            choice=self.state.model_choice,
            source=self.state.model_source,
            placeholder="/content/my_export or a Gist ID",
        )
        self.repair_causal = w.Checkbox(
            value=self.state.repair_causal_leak,
            indent=False,
            description="Repair a causal leak (inject a causal mask)",
            layout=w.Layout(width="520px"),
        )
        self.model_report = w.HTML()
        self.model_error = w.HTML()
        self.model_page = w.VBox(
            [
                w.HTML(
                    "<h3>1. Model</h3><p>The model is loaded and checked (Tier 1) when you press Next.</p>"
                ),
                self.model_choice,
                self.model_source,
                self.repair_causal,
                self.model_error,
                self.model_report,
            ]
        )

    def _check_model(self) -> str | None:
        self.state.model_choice = self.model_choice.value
        self.state.model_source = self.model_source.value
        self.state.repair_causal_leak = bool(self.repair_causal.value)
        if self.state.model_choice != "example" and not self.state.model_source.strip():
            return "No model source given: type a folder path or a Gist ID, or choose the bundled example."
        source = self.state.model_path()
        key = f"{source}|{self.state.repair_causal_leak}"
        if self.state.model_checked == key and self.state.model_config is not None:
            return None
        self.state.model_checked, self.state.model_config = None, None
        from model_adapter import ModelAdapterError, load_model

        try:
            loaded = load_model(source)
            # The same quick check `train()` runs before training (short sequences keep it fast).
            report, problem = quick_check(
                loaded.model, loaded.config, repaired=self.state.repair_causal_leak
            )
        except ModelAdapterError as error:
            self.model_report.value = ""
            return f"The model could not be loaded: {error}"
        self.model_report.value = report._repr_html_()
        if problem is not None:
            return problem[:1].upper() + problem[1:]
        self.state.model_config = loaded.config.to_dict()
        self.state.model_checked = key
        return None

    # ------------------------------------------------------------------ step 2: dataset
    def _build_data_step(self, w: Any) -> None:
        self.data_choice, self.data_source = _source_picker(
            w,
            "Data",
            [
                ("Built-in example text (no download)", "example"),
                ("Hugging Face Hub dataset", "hub"),
                ("File or folder (upload, Drive, local)", "file"),
            ],
            choice=self.state.data_choice,
            source=self.state.data_source,
            placeholder="tiny_shakespeare or /content/drive/MyDrive/data.txt",
        )
        self.text_column = w.Text(
            value=self.state.text_column,
            placeholder="detected when empty",
            description="Text column",
        )
        self.data_config_name = w.Text(
            value=self.state.data_config_name,
            placeholder="Hub config (optional)",
            description="Config",
        )
        self.data_error = w.HTML()
        self.data_page = w.VBox(
            [
                w.HTML("<h3>2. Dataset</h3>"),
                self.data_choice,
                self.data_source,
                self.text_column,
                self.data_config_name,
                self.data_error,
            ]
        )

    def _check_data(self) -> str | None:
        self.state.data_choice = self.data_choice.value
        self.state.data_source = self.data_source.value
        self.state.text_column = self.text_column.value
        self.state.data_config_name = self.data_config_name.value
        source = self.state.data_source.strip()
        if self.state.data_choice == "example":
            return None
        if not source:
            return "No dataset given: type a Hub dataset name or a file path, or choose the built-in example."
        if self.state.data_choice == "hub":
            if not _HUB_NAME.match(source):
                return f"{source!r} is not a Hub dataset name; use 'name' or 'owner/name' (e.g. karpathy/tiny_shakespeare)."
            return None
        path = Path(source).expanduser()
        if not path.exists():
            return f"{path} does not exist; check the path (on Colab, mount Drive first) or upload the file."
        if path.is_file() and path.suffix.lower() not in DATA_SUFFIXES:
            return f"{path.name} is not a supported data file; use one of {', '.join(DATA_SUFFIXES)} or a folder of .txt files."
        return None

    # ------------------------------------------------------------------ step 3: tokenizer
    def _build_tokenizer_step(self, w: Any) -> None:
        self.tokenizer_strategy = w.Dropdown(
            options=list(TOKENIZER_STRATEGIES),
            value=self.state.tokenizer_strategy,
            description="Strategy",
        )
        self.tokenizer_info = w.HTML()
        self.tokenizer_error = w.HTML()
        self.tokenizer_strategy.observe(lambda _: self._describe_tokenizer(), names="value")
        self.tokenizer_page = w.VBox(
            [
                w.HTML(
                    "<h3>3. Tokenizer</h3><p>The tokenizer is built for the model's exact vocab size.</p>"
                ),
                self.tokenizer_strategy,
                self.tokenizer_info,
                self.tokenizer_error,
            ]
        )

    def _vocab_size(self) -> int | None:
        return (self.state.model_config or {}).get("vocab_size")

    def _describe_tokenizer(self) -> None:
        vocab = self._vocab_size()
        if vocab is None:
            self.tokenizer_info.value = ""
            return
        from adaptive_tokenizer import AdaptiveTokenizer

        choice = AdaptiveTokenizer.detect_strategy(vocab)
        self.tokenizer_info.value = (
            f"<p>Model vocab size: <b>{vocab}</b>. Automatic choice: <b>{choice.strategy.value}</b> "
            f"({html.escape(choice.reason)}).</p>"
        )

    def _check_tokenizer(self) -> str | None:
        self._describe_tokenizer()
        strategy = self.tokenizer_strategy.value
        self.state.tokenizer_strategy = strategy
        vocab = self._vocab_size()
        if vocab is None:
            return "The model has not been checked yet: go back to step 1 and press Next."
        from adaptive_tokenizer import AdaptiveTokenizer, Strategy

        automatic = AdaptiveTokenizer.detect_strategy(vocab).strategy
        if strategy == "pretrained" and automatic is not Strategy.PRETRAINED:
            return f"No published tokenizer has exactly {vocab} tokens; choose 'auto', 'bpe' or 'character'."
        if strategy == "bpe" and automatic is Strategy.CHARACTER and vocab < 260:
            return (
                f"vocab_size {vocab} is too small for byte-level BPE (256 bytes + 4 special tokens); "
                "choose 'character' or 'auto'."
            )
        return None

    # ------------------------------------------------------------------ step 4: training
    def _build_training_step(self, w: Any) -> None:
        steps = int(self.state.training.get("max_steps") or 1)
        values = {
            **dataclasses.asdict(TrainingConfig(max_steps=max(1, steps))),
            **self.state.training,
        }
        self.preset = w.Dropdown(
            options=[(PRESET_LABELS[k], k) for k in PRESETS],
            value=self.state.preset,
            description="Preset",
            layout=w.Layout(width="520px"),
        )
        self.fields: dict[str, Any] = {
            "max_steps": w.IntText(value=values["max_steps"], description="Steps"),
            "batch_size": w.IntText(value=values["batch_size"], description="Batch size"),
            "seq_len": w.IntText(value=values["seq_len"], description="Sequence len"),
            "lr": w.FloatText(value=values["lr"], description="Learning rate"),
        }
        self.advanced_fields: dict[str, Any] = {
            "warmup_steps": w.IntText(value=values["warmup_steps"], description="Warmup steps"),
            "schedule": w.Dropdown(
                options=list(SCHEDULES), value=values["schedule"], description="Schedule"
            ),
            "weight_decay": w.FloatText(value=values["weight_decay"], description="Weight decay"),
            "grad_clip": w.FloatText(
                value=values["grad_clip"] or 0.0, description="Grad clip (0: off)"
            ),
            "accumulate_grad_batches": w.IntText(
                value=values["accumulate_grad_batches"], description="Accumulate"
            ),
            "precision": w.Dropdown(
                options=["auto", "32", "bf16-mixed", "16-mixed"],
                value=values["precision"],
                description="Precision",
            ),
            "eval_every": w.IntText(value=values["eval_every"], description="Eval every"),
            "checkpoint_every": w.IntText(
                value=values["checkpoint_every"], description="Ckpt every"
            ),
            "keep_last": w.IntText(value=values["keep_last"], description="Keep last"),
            "seed": w.IntText(value=values["seed"], description="Seed"),
        }
        self.out = w.Text(
            value=self.state.out, description="Run folder", layout=w.Layout(width="520px")
        )
        self.preset.observe(lambda change: self.apply_preset(change["new"]), names="value")
        self.fields["max_steps"].observe(self._steps_changed, names="value")
        self.advanced = w.Accordion(children=[w.VBox(list(self.advanced_fields.values()))])
        self.advanced.set_title(0, "Advanced")
        self.advanced.selected_index = None
        self.training_error = w.HTML()
        self.training_page = w.VBox(
            [
                w.HTML("<h3>4. Training</h3>"),
                self.preset,
                *self.fields.values(),
                self.out,
                self.advanced,
                self.training_error,
            ]
        )

    def _steps_changed(self, change: dict[str, Any]) -> None:
        """Keep derived fields the user has not edited at TrainingConfig's value for the new step count."""
        old, new = _derived_for(change["old"]), _derived_for(change["new"])
        for key in WIZARD_DERIVED_FIELDS:
            if self.advanced_fields[key].value == old[key]:
                self.advanced_fields[key].value = new[key]

    def apply_preset(self, name: str) -> None:
        """Fill the main fields from a preset (warmup and cadence follow the step count).

        A preset's sequence length is cut to the model's `max_seq_len`, so picking "Small" for a
        model with a 64-token context gives a config that runs instead of an error on Next.
        """
        self.state.preset = name
        for key, value in PRESETS[name].items():
            widget = self.fields.get(key) or self.advanced_fields[key]
            widget.value = value
        self._fit_seq_len_to_model()

    @property
    def _model_max_seq_len(self) -> int | None:
        """The checked model's `max_seq_len` (None before step 1 passed, or when it has none)."""
        return (self.state.model_config or {}).get("max_seq_len")

    def _fit_seq_len_to_model(self) -> None:
        seq_len = self.fields["seq_len"].value
        self.fields["seq_len"].value = fit_seq_len(seq_len, self._model_max_seq_len)

    def _training_values(self) -> dict[str, Any]:
        values = {
            key: widget.value for key, widget in {**self.fields, **self.advanced_fields}.items()
        }
        values["grad_clip"] = float(values["grad_clip"]) or None
        derived = _derived_for(values["max_steps"])
        for (
            key
        ) in WIZARD_DERIVED_FIELDS:  # left as derived: the config derives it, as the CLI's does
            if values[key] == derived[key]:
                del values[key]
        return values

    def _check_training(self) -> str | None:
        values = self._training_values()
        self.state.training = values
        self.state.out = self.out.value
        if not self.state.out.strip():
            return "No run folder given: type where the run should be written (on Colab, a folder on Drive)."
        max_seq_len = self._model_max_seq_len
        if fit_seq_len(values["seq_len"], max_seq_len) != values["seq_len"]:
            return f"Sequence length {values['seq_len']} is longer than the model's max_seq_len {max_seq_len}; use {max_seq_len} or less."
        try:
            self.state.to_config()
        except ConfigError as error:
            return str(error)
        return None

    # ------------------------------------------------------------------ step 5: confirmation
    def _build_confirm_step(self, w: Any) -> None:
        self.summary = w.HTML()
        self.confirm_error = w.HTML()
        self.confirm_page = w.VBox(
            [
                w.HTML(
                    "<h3>5. Confirm</h3><p>Press <b>Create config</b>; the next notebook cell trains with it.</p>"
                ),
                self.summary,
                self.confirm_error,
            ]
        )

    def _fill_summary(self) -> None:
        try:
            text = self.state.to_config().to_text()
        except LightningPipelineError as error:
            text = f"(not valid yet: {error})"
        self.summary.value = f"<pre class='wizard-summary' style='font-family:monospace;line-height:1.25'>{html.escape(text)}</pre>"

    def _finish(self) -> str | None:
        try:
            config = self.state.to_config()
        except LightningPipelineError as error:
            return str(error)
        self.config = config
        self.state.confirmed = True
        self.summary.value += (
            "<p class='wizard-done' style='color:#1b5e20'>&#10004; Config created.</p>"
        )
        self.next_button.disabled = True
        logger.info("SetupWizard created the training config for %s", config.out)
        if self.on_finish is not None:
            self.on_finish(config)
        return None


__all__ = ["NOTEBOOK_EXTRA_HINT", "PRESETS", "STEP_TITLES", "SetupWizard", "WizardState"]
