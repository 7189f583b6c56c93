"""SetupWizard in a real browser: served by Voila on localhost, driven by Playwright + chromium.

Run by `nox -s wizard_browser` (it installs Voila and Playwright; the browser is Debian's
chromium, `apt-get install chromium`, never one downloaded by `playwright install`). A screenshot
of each of the five steps is written to `notebook_tests/artifacts/wizard_step_N.png`, and the
notebook Voila serves, executed with its outputs, to `notebook_tests/artifacts/wizard.executed.ipynb`
(that test needs no browser: `pytest notebook_tests/test_wizard_browser.py -k executed`).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
EXECUTED_COPY = ARTIFACTS / "wizard.executed.ipynb"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
START_TIMEOUT_S = 180


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def workspace(tmp_path: Path) -> dict[str, Path]:
    """A tiny builder export, a text file, and a notebook that shows the wizard and saves its result."""
    from model_adapter.testing import write_builder_export

    export = write_builder_export(
        tmp_path / "export", vocab_size=300, d_model=32, n_heads=2, n_blocks=1, max_seq_len=32
    )
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog.\n" * 200, encoding="utf-8")
    result = tmp_path / "config.json"
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    notebook.cells = [
        nbformat.v4.new_code_cell(
            "from pathlib import Path\n"
            "from lightning_pipeline.wizard import SetupWizard\n"
            f"wizard = SetupWizard(out={str(tmp_path / 'run')!r},\n"
            f"                     on_finish=lambda config: Path({str(result)!r}).write_text(config.to_json()))\n"
            "wizard\n"
        )
    ]
    nbformat.write(notebook, tmp_path / "wizard.ipynb")
    return {"dir": tmp_path, "export": export, "corpus": corpus, "result": result}


@pytest.fixture
def voila_url(workspace: dict[str, Path]) -> Iterator[str]:
    """Voila serving the wizard notebook on a free localhost port (stopped after the test)."""
    port = _free_port()
    log = (workspace["dir"] / "voila.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "voila",
            "wizard.ipynb",
            "--no-browser",
            f"--port={port}",
            "--Voila.ip=127.0.0.1",
        ],
        cwd=workspace["dir"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5):
                    break
            except urllib.error.HTTPError as error:  # the server answers, but the page failed
                raise RuntimeError(
                    f"Voila answered {error.code}: {(workspace['dir'] / 'voila.log').read_text()[-2000:]}"
                ) from None
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"Voila did not start: {(workspace['dir'] / 'voila.log').read_text()[-2000:]}"
                    ) from None
                time.sleep(1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def test_wizard_five_steps_in_chromium(voila_url: str, workspace: dict[str, Path]) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"no chromium at {CHROMIUM}: apt-get install -y chromium (or set CHROMIUM=/path/to/chromium)"
        )
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    for old in ARTIFACTS.glob("wizard_*.png"):  # this test's own screenshots of an earlier run
        old.unlink()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        page = browser.new_page(viewport={"width": 1000, "height": 900})
        page.set_default_timeout(120_000)  # a Tier 1 check on a loaded shared CPU takes seconds
        expect.set_options(timeout=120_000)
        page.goto(voila_url)
        page.wait_for_selector(".setup-wizard")
        header = page.locator(".wizard-steps")
        next_button = page.locator(".setup-wizard button", has_text="Next")

        def shoot(step: int) -> None:
            page.screenshot(path=str(ARTIFACTS / f"wizard_step_{step}.png"), full_page=True)

        def advance_to(step: int) -> None:
            """Press Next and wait for the step; when the wizard stays, fail with its inline errors."""
            next_button.click()
            try:
                expect(header).to_contain_text(f"Step {step} of 5")
            except AssertionError:
                page.screenshot(
                    path=str(ARTIFACTS / f"wizard_stuck_before_step_{step}.png"), full_page=True
                )
                errors = [
                    text for text in page.locator(".wizard-error").all_inner_texts() if text.strip()
                ]
                pytest.fail(
                    f"the wizard stayed on '{header.inner_text()}'; inline errors: {errors or 'none'}"
                )

        # 1. Model: an empty path is refused inline (the screenshot shows the message), then the
        #    tiny export passes its Tier 1 check.
        model = page.locator(".wizard-step-model")
        model.get_by_label("Folder or model.py path").check()
        next_button.click()
        expect(model.locator(".wizard-error")).to_contain_text("No model source given")
        shoot(1)
        model.locator(".widget-text input").fill(str(workspace["export"]))
        advance_to(2)

        # 2. Dataset: the text file.
        data = page.locator(".wizard-step-dataset")
        data.get_by_label("File or folder (upload, Drive, local)").check()
        data.locator(".widget-text input").first.fill(str(workspace["corpus"]))
        shoot(2)
        advance_to(3)

        # 3. Tokenizer: the page names the vocab size it must fit; pick character-level.
        tokenizer = page.locator(".wizard-step-tokenizer")
        expect(tokenizer).to_contain_text("Model vocab size: 300")
        tokenizer.locator("select").select_option(label="character")
        shoot(3)
        advance_to(4)

        # 4. Training: a preset (its sequence length cut to the model's 32), one field by hand,
        #    the advanced section opened. Typing waits for the preset's values to reach the page:
        #    a kernel update still in flight would overwrite what was typed.
        training = page.locator(".wizard-step-training")
        training.locator("select").first.select_option(label="Quick check (30 steps, CPU is fine)")
        steps = (
            training.locator(".widget-text")
            .filter(has_text=re.compile(r"^\s*Steps\s*$"))
            .locator("input")
        )
        seq_len = training.locator(".widget-text", has_text="Sequence len").locator("input")
        expect(steps).to_have_value("30")
        expect(seq_len).to_have_value("32")
        seq_len.fill("16")
        seq_len.press("Enter")
        training.get_by_text("Advanced").click()
        expect(
            training.locator(".widget-text", has_text="Warmup steps").locator("input")
        ).to_have_value("3")
        shoot(4)
        advance_to(5)

        # 5. Confirm: the summary lists the config; "Create config" hands it over.
        confirm = page.locator(".wizard-step-confirm")
        expect(confirm.locator(".wizard-summary")).to_contain_text("max_steps")
        page.locator(".setup-wizard button", has_text="Create config").click()
        expect(confirm.locator(".wizard-done")).to_contain_text("Config created")
        shoot(5)
        browser.close()

    config = json.loads(workspace["result"].read_text())
    assert config["model"] == str(workspace["export"])
    assert config["data"] == str(workspace["corpus"])
    assert (config["tokenizer_strategy"], config["max_steps"], config["seq_len"]) == (
        "character",
        30,
        16,
    )
    assert sorted(p.name for p in ARTIFACTS.glob("wizard_step_*.png")) == [
        f"wizard_step_{n}.png" for n in range(1, 6)
    ]


def test_wizard_notebook_executed_copy_kept(workspace: dict[str, Path]) -> None:
    """The notebook Voila serves, executed headless as Voila executes it (a python3 kernel, the
    widget state stored), is kept with its outputs next to the screenshots, for reading what the
    cell printed and showed after the session's temporary folder is gone."""
    from nbclient import NotebookClient

    notebook = nbformat.read(workspace["dir"] / "wizard.ipynb", as_version=4)
    NotebookClient(
        notebook,
        timeout=START_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(workspace["dir"])}},
        store_widget_state=True,
    ).execute()
    ARTIFACTS.mkdir(exist_ok=True)
    EXECUTED_COPY.unlink(missing_ok=True)
    nbformat.write(notebook, EXECUTED_COPY)

    kept = nbformat.read(EXECUTED_COPY, as_version=4)
    outputs = kept.cells[0].outputs
    assert [output.output_type for output in outputs if output.output_type == "error"] == []
    views = [
        output.data[WIDGET_VIEW] for output in outputs if WIDGET_VIEW in output.get("data", {})
    ]
    assert len(views) == 1, f"the wizard cell shows no widget: {outputs}"
    state = kept.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    assert views[0]["model_id"] in state  # the widget's state is stored, so the copy renders it
