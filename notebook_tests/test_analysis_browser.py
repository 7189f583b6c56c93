"""The Tier 2 analysis report in a real browser: Debian's chromium renders its inline SVG charts.

Run by `nox -s analysis_browser` (needs `apt-get install chromium`; `CHROMIUM=/path` to use
another). The report of a tiny builder export is written as HTML, chromium takes a headless
screenshot of it and of the same page with its `<svg>` elements removed, and the test counts
the heat maps' ramp-coloured pixels in both: the charts must be what paints them. The screenshot is kept
in `notebook_tests/artifacts/analysis_report.png` (gitignored).
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
WINDOW = (1280, 1600)


def _screenshot(page: Path, png: Path) -> None:
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--window-size={WINDOW[0]},{WINDOW[1]}",
            f"--screenshot={png}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )


def _heat_map_pixels(png: Path) -> int:
    """Pixels on the heat maps' white-to-blue ramp (html.py's `_colour`), not text or borders."""
    from PIL import Image

    with Image.open(png) as image:
        rgb = image.convert("RGB")
        assert rgb.size == WINDOW
        count = 0
        for r, g, b in rgb.getdata():
            share = (255 - r) / 244
            if r < 248 and abs(g - (255 - share * 158)) <= 3 and abs(b - (255 - share * 91)) <= 3:
                count += 1
        return count


def test_analysis_report_renders_its_charts_in_chromium(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"no chromium at {CHROMIUM}: apt-get install -y chromium (or set CHROMIUM=/path/to/chromium)"
        )
    from model_adapter import load_model
    from model_adapter.analysis import analyze_model
    from model_adapter.testing import write_builder_export

    export = write_builder_export(
        tmp_path / "export", vocab_size=211, d_model=32, n_heads=2, n_blocks=2, max_seq_len=32
    )
    model, config = load_model(export)
    report = analyze_model(model, config, seq_len=24, batch_size=4)
    page = tmp_path / "report.html"
    report.to_html(page)
    html = page.read_text(encoding="utf-8")
    bare = tmp_path / "bare.html"
    bare.write_text(re.sub(r"<svg.*?</svg>", "", html, flags=re.S), encoding="utf-8")

    ARTIFACTS.mkdir(exist_ok=True)
    shot, bare_shot = ARTIFACTS / "analysis_report.png", tmp_path / "bare.png"
    _screenshot(page, shot)
    _screenshot(bare, bare_shot)

    charts, without = _heat_map_pixels(shot), _heat_map_pixels(bare_shot)
    assert charts > 20_000, (
        f"only {charts} heat-map pixels in {shot}: the SVG charts did not render"
    )
    assert without < charts / 20, (charts, without)
