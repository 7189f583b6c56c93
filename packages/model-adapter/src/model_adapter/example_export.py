"""The small builder-style export shipped inside the package (README, demos, other packages' tests)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["example_export_path"]


def example_export_path() -> Path:
    """Folder holding the bundled example export's model.py + config.json.

    It is a real builder-style export (vocab_size 3001, d_model 128, 4 heads, 2 blocks,
    max_seq_len 128) with the defects real exports have: attention without a mask and
    intermediate outputs leaked into `forward`'s signature, so calling it directly fails and
    `UniversalModelAdapter` runs it through the graph executor.
    """
    return Path(__file__).resolve().parent / "examples" / "tiny_builder"
