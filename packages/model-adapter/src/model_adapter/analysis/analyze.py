"""`analyze_model`: Tier 2 analysis of any model the adapter runs.

Each section is one module of this subpackage with a `run(ctx, ...) -> SectionResult`; this
module prepares the probe windows (the user's texts through their tokenizer, given token ids,
or reproducible random ids), runs the chosen sections and gathers the report. Like Tier 1,
analysis leaves the model as it found it: train/eval flags, every `.grad` and the global RNG
are restored, and every hook it adds is removed.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from model_adapter._probe_setup import prepare_adapter, preserved_state, resolve_seq_len
from model_adapter.analysis.report import AnalysisReport, SectionResult

if TYPE_CHECKING:
    import torch
    from torch import nn

    from model_adapter.analysis.probe import AnalysisContext
    from model_adapter.config import ModelConfig

__all__ = ["DEFAULT_SEQ_LEN", "SECTIONS", "analyze_model"]

logger = logging.getLogger(__name__)

SECTIONS = ("attention", "context", "attribution", "robustness", "representations")
DEFAULT_SEQ_LEN = 128
DEFAULT_BATCH_SIZE = 16
_TITLES = {
    "attention": "Attention maps",
    "context": "Context use",
    "attribution": "Attribution (integrated gradients)",
    "robustness": "Robustness",
    "representations": "Representations and weights",
}


def analyze_model(
    model_or_adapter: nn.Module | str | os.PathLike[str],
    config: ModelConfig | None = None,
    *,
    texts: str | Iterable[str] | None = None,
    tokenizer: Any = None,
    input_ids: torch.Tensor | Sequence[Sequence[int]] | None = None,
    sections: Iterable[str] | None = None,
    seq_len: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    causal: bool = True,
    device: str | torch.device | None = None,
    seed: int = 0,
    run_dir: str | Path | None = None,
    target_position: int | None = None,
    context_mode: str = "shuffle",
    attribution_steps: int = 16,
) -> AnalysisReport:
    """Look inside a model: attention, context use, attribution, robustness, representations.

    `model_or_adapter` is the user's module (wrapped as `UniversalModelAdapter(model, config,
    causal=causal)`), an adapter (analysed as it is), or a path: a lightning-pipeline run folder
    (its final weights, and `run_dir` defaults to it) or anything `load_model` takes. The probe windows (`batch_size` windows
    of `seq_len` tokens, default min(max_seq_len, 128)) come from `input_ids` `[B, T]`, or from
    `texts` encoded with `tokenizer` (anything with `encode(text) -> ids`, e.g. a Hugging Face
    tokenizer), or else are random ids (structure only: context and robustness figures then
    describe sensitivity, not skill). `sections` picks from `SECTIONS` (default: all).
    `run_dir`, a lightning-pipeline run folder, adds how far each weight moved from the first
    checkpoint. `target_position` chooses the prediction attribution explains (default: the
    last). A section whose model call crashes is reported as failed; the others still run.

    Raises `ModelValidationError` for bad arguments (unknown section, empty or too-long input).

    Example:
        >>> from model_adapter import load_model, example_export_path
        >>> from model_adapter.analysis import analyze_model
        >>> model, config = load_model(example_export_path())
        >>> report = analyze_model(model, config, sections=["attention"], seq_len=16, batch_size=2)
        >>> report["attention"].status
        'ok'
    """

    from model_adapter.analysis.probe import AnalysisContext

    chosen = _check_sections(sections)
    if isinstance(model_or_adapter, (str, os.PathLike)):
        model_or_adapter, config, found_run = _load_path(Path(model_or_adapter), config)
        run_dir = run_dir if run_dir is not None else found_run
    adapter, resolved_device = prepare_adapter(
        model_or_adapter,
        config,
        causal,
        caller="analyze_model",
        batch_size=batch_size,
        device=device,
    )
    vocab_size = int(adapter.vocab_size)
    max_seq_len = getattr(adapter, "max_seq_len", None)
    length = resolve_seq_len(
        seq_len, max_seq_len, cap=DEFAULT_SEQ_LEN, fallback=DEFAULT_SEQ_LEN, minimum=2
    )
    ids, labels, note = _probe_windows(
        input_ids, texts, tokenizer, length, batch_size, vocab_size, max_seq_len, seed
    )
    ctx = AnalysisContext(
        adapter=adapter,
        input_ids=ids.to(resolved_device),
        vocab_size=vocab_size,
        device=resolved_device,
        seed=seed,
        token_labels=labels,
        inputs_note=note,
    )
    config_obj = getattr(adapter, "config", None)
    model_name = (
        getattr(config_obj, "name", None) or type(getattr(adapter, "model", adapter)).__name__
    )
    options: dict[str, dict[str, Any]] = {
        "context": {"mode": context_mode},
        "attribution": {"position": target_position, "steps": attribution_steps},
        "representations": {"run_dir": Path(run_dir) if run_dir is not None else None},
    }
    started = time.perf_counter()
    results = []
    with preserved_state(adapter, resolved_device, seed):
        for name in chosen:
            results.append(_run_section(name, ctx, options.get(name, {})))
    return AnalysisReport(
        model_name=model_name,
        sections=results,
        settings={
            "inputs": note,
            "windows": int(ids.shape[0]),
            "seq_len": int(ids.shape[1]),
            "vocab_size": vocab_size,
            "max_seq_len": max_seq_len,
            "causal": bool(getattr(adapter, "causal", causal)),
            "device": str(resolved_device),
            "seed": seed,
            "sections": list(chosen),
        },
        duration_s=time.perf_counter() - started,
    )


def _load_path(
    path: Path, config: ModelConfig | None
) -> tuple[nn.Module, ModelConfig | None, Path | None]:
    """(module, config, the run folder or None) for a run folder or anything load_model takes."""
    from model_adapter.analysis.run_weights import is_run_folder, load_run_model
    from model_adapter.loading import load_model

    if path.is_dir() and is_run_folder(path):
        model, run_config, weights = load_run_model(path)
        logger.info("run folder %s: weights from %s", path, weights)
        return model, config or run_config, path
    model, loaded_config = load_model(str(path))
    return model, config or loaded_config, None


def _check_sections(sections: Iterable[str] | None) -> tuple[str, ...]:
    from model_adapter.errors import ModelValidationError

    if sections is None:
        return SECTIONS
    chosen = tuple(dict.fromkeys([sections] if isinstance(sections, str) else sections))
    unknown = [name for name in chosen if name not in SECTIONS]
    if unknown or not chosen:
        raise ModelValidationError(
            f"unknown analysis section(s) {unknown or '(none given)'}; choose from {', '.join(SECTIONS)}"
        )
    return tuple(name for name in SECTIONS if name in chosen)


def _encode(tokenizer: Any, text: str) -> list[int]:
    from model_adapter.errors import ModelValidationError

    if hasattr(tokenizer, "encode"):
        encoded = tokenizer.encode(text)
    elif callable(tokenizer):
        encoded = tokenizer(text)
    else:
        raise ModelValidationError(
            f"tokenizer must have encode(text) or be callable, got {type(tokenizer).__name__}"
        )
    if isinstance(encoded, dict) or hasattr(encoded, "keys"):
        encoded = encoded["input_ids"]
    encoded = getattr(encoded, "ids", encoded)  # tokenizers.Encoding
    return [int(i) for i in encoded]


def _labels(tokenizer: Any, ids: list[int]) -> list[str] | None:
    """Each token as text (decoded one by one, spaces shown as a middle dot), or None."""
    decode = getattr(tokenizer, "decode", None)
    if callable(decode):
        return [str(decode([i])).replace(" ", "\u00b7").replace("\n", "\u21b5") for i in ids]
    convert = getattr(tokenizer, "convert_ids_to_tokens", None)
    if callable(convert):
        return [str(token) for token in convert(ids)]
    return None


def _probe_windows(
    input_ids: Any,
    texts: Any,
    tokenizer: Any,
    length: int,
    batch_size: int,
    vocab_size: int,
    max_seq_len: int | None,
    seed: int,
) -> tuple[torch.Tensor, list[str] | None, str]:
    """([B, T] ids, the first window's tokens as text or None, a note on where they came from)."""
    import torch

    from model_adapter.errors import ModelValidationError

    if input_ids is not None:
        ids = torch.as_tensor(input_ids, dtype=torch.long)
        if ids.dim() == 1:
            ids = ids.unsqueeze(0)
        if ids.dim() != 2 or ids.shape[1] < 2:
            raise ModelValidationError(
                f"input_ids must be [batch, seq] with seq >= 2, got shape {tuple(ids.shape)}"
            )
        if max_seq_len is not None and ids.shape[1] > max_seq_len:
            raise ModelValidationError(
                f"input_ids have {ids.shape[1]} tokens per row; the model takes at most {max_seq_len}"
            )
        if int(ids.min()) < 0 or int(ids.max()) >= vocab_size:
            raise ModelValidationError(
                f"input_ids must lie in [0, {vocab_size}); got ids up to {int(ids.max())}"
            )
        return (
            ids[:batch_size],
            None,
            f"{min(batch_size, ids.shape[0])} given window(s) of {ids.shape[1]} tokens",
        )
    if texts is not None:
        if tokenizer is None:
            raise ModelValidationError(
                "texts need a tokenizer (anything with encode(text) -> ids); pass tokenizer="
            )
        stream: list[int] = []
        for text in [texts] if isinstance(texts, str) else texts:
            stream.extend(_encode(tokenizer, text))
        if len(stream) < 4:
            raise ModelValidationError(
                f"the texts encode to {len(stream)} tokens; give at least 4 tokens of text"
            )
        if max(stream) >= vocab_size:
            raise ModelValidationError(
                f"the tokenizer produced id {max(stream)}, beyond the model's vocab_size {vocab_size}; use the model's own tokenizer"
            )
        length = min(length, len(stream))
        count = min(batch_size, len(stream) // length)
        ids = torch.tensor(stream[: count * length], dtype=torch.long).view(count, length)
        return (
            ids,
            _labels(tokenizer, ids[0].tolist()),
            f"{count} window(s) of {length} tokens from the given texts",
        )
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, vocab_size, (batch_size, length), generator=generator)
    return (
        ids,
        None,
        (
            f"{batch_size} random window(s) of {length} tokens (no texts given: context and robustness describe "
            "sensitivity, not skill)"
        ),
    )


def _run_section(name: str, ctx: AnalysisContext, options: dict[str, Any]) -> SectionResult:
    """One section; a model that crashes inside it fails that section only."""
    import importlib

    from model_adapter.errors import ModelAdapterError

    module_name = {"context": "context_use"}.get(name, name)
    module = importlib.import_module(f"model_adapter.analysis.{module_name}")
    started = time.perf_counter()
    try:
        result = module.run(ctx, **options)
    except ModelAdapterError as exc:
        result = SectionResult(name, _TITLES[name], "failed", [str(exc)])
    except Exception as exc:  # the model's crash is the finding; the traceback goes to the log
        logger.warning("analysis section %s: %s", name, type(exc).__name__, exc_info=True)
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        result = SectionResult(
            name,
            _TITLES[name],
            "failed",
            [
                f"{type(exc).__name__}: {first_line} (traceback logged at WARNING by model_adapter.analysis)"
            ],
        )
    result.duration_s = time.perf_counter() - started
    return result
