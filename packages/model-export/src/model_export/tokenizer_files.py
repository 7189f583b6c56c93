"""Which files of a tokenizer folder a bundle carries: data, never code.

A `save_pretrained` folder may hold Python (`tokenization_*.py`) that `transformers` runs when
`tokenizer_config.json` has an `auto_map` and the caller passes `trust_remote_code=True`. A
bundle is handed to other people, so it carries only the files that describe the tokenizer
(JSON, vocabularies, merges, sentencepiece models) and refuses a tokenizer that needs code.
"""

from __future__ import annotations

import json
from pathlib import Path

from model_export.errors import ExportSourceError

# File kinds a tokenizer's data lives in (tokenizer.json, tokenizer_config.json,
# special_tokens_map.json, vocab.json/.txt, merges.txt, *.model, chat_template.jinja).
DATA_SUFFIXES = frozenset({".json", ".txt", ".model", ".jinja"})


def check_no_remote_code(tokenizer_dir: Path) -> None:
    """Raise `ExportSourceError` (one line) when the tokenizer needs code to load."""
    reasons = sorted(p.name for p in tokenizer_dir.iterdir() if p.suffix in (".py", ".pyc", ".so"))
    config = tokenizer_dir / "tokenizer_config.json"
    if config.is_file():
        try:
            data = json.loads(config.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ExportSourceError(
                f"{config} is not valid JSON ({exc}); save the tokenizer again"
            ) from exc
        if isinstance(data, dict) and data.get("auto_map"):
            reasons.insert(0, "auto_map in tokenizer_config.json")
    if reasons:
        raise ExportSourceError(
            f"the tokenizer in {tokenizer_dir} needs remote code ({', '.join(reasons)}); a bundle carries data only: "
            "pass a tokenizer that loads without trust_remote_code (e.g. PreTrainedTokenizerFast.save_pretrained)"
        )


def tokenizer_data_files(tokenizer_dir: Path, reserved: frozenset[str] = frozenset()) -> list[Path]:
    """The tokenizer's data files (see `DATA_SUFFIXES`), except names in `reserved`; checks for code first."""
    check_no_remote_code(tokenizer_dir)
    return [
        item
        for item in sorted(tokenizer_dir.iterdir())
        if item.is_file()
        and item.suffix in DATA_SUFFIXES
        and item.name not in reserved
        and not item.name.startswith(".")
    ]
