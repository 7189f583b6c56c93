"""The deployable bundle: every artifact, the tokenizer, the card and the evidence, in one folder.

```
OUT/
  model.onnx              fp32, dynamic batch and sequence axes
  model.int8.onnx         only when the int8 model was accepted on held-out text
  model.torchscript.pt    TorchScript (trace or script)
  model.pt2               torch.export program
  tokenizer.json ...      the tokenizer's save_pretrained files, when one was given
  config.json             ModelConfig + what the bundle holds
  parity_report.json      every parity, generation and quantization measurement
  README.md               the model card
  inference.py            onnxruntime + tokenizers + numpy (torch for a bundle without ONNX)
```

The bundle is written into a temporary folder beside OUT and renamed at the end, so a failure
(an exporter, a parity check, a full disk) never leaves a half-written bundle behind and never
touches an existing folder.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from model_export.bundle_formats import FORMAT_FILES, FORMATS, ShippedFormats, export_formats
from model_export.causality import probe_causality
from model_export.errors import ExportSourceError, OutputFolderError, ParityError
from model_export.model_card import CardInputs, ModelFacts, render_model_card
from model_export.parity import DEFAULT_ATOL
from model_export.quantization import QuantizationThresholds

if TYPE_CHECKING:
    from model_export.generation import GenerationParity
    from model_export.sources import ExportSource

logger = logging.getLogger(__name__)

QUANTIZATIONS = ("int8", "fp16")
QUANTIZED_FILES = {"int8": "model.int8.onnx", "fp16": "model.fp16.onnx"}


@dataclass
class Bundle:
    """What :func:`build_bundle` wrote: the folder, its files and the full report."""

    path: Path
    files: list[str]
    report: dict[str, Any] = field(default_factory=dict)


def check_output_folder(out: Path) -> None:
    """Refuse a non-empty OUT or a parent we cannot write, before any work is done."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise OutputFolderError(
            f"output folder {out} exists and is not empty; choose a new --out folder"
        )
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        probe = tempfile.mkdtemp(dir=parent, prefix=f".{out.name}.probe-")
        os.rmdir(probe)
    except OSError as exc:
        raise OutputFolderError(
            f"cannot write into {parent} ({exc.strerror}); choose an --out folder you can write"
        ) from exc


def count_parameters(model: Any) -> int:
    """Distinct parameters (tied weights counted once)."""
    seen: set[int] = set()
    total = 0
    for p in model.parameters():
        if p.data_ptr() not in seen:
            seen.add(p.data_ptr())
            total += p.numel()
    return total


def tokenizer_facts(tokenizer_dir: Path | None) -> dict[str, Any] | None:
    """Type, size and special tokens read off tokenizer.json / tokenizer_config.json."""
    if tokenizer_dir is None:
        return None
    data = json.loads((tokenizer_dir / "tokenizer.json").read_text(encoding="utf-8"))
    vocab = (data.get("model") or {}).get("vocab")
    size = None
    if isinstance(vocab, (dict, list)):
        # Special tokens usually sit in the model's vocab *and* in added_tokens: count ids once.
        ids = set(vocab.values()) if isinstance(vocab, dict) else set(range(len(vocab)))
        ids |= {t.get("id") for t in data.get("added_tokens") or [] if isinstance(t, dict)}
        size = len(ids)
    facts: dict[str, Any] = {
        "type": (data.get("model") or {}).get("type"),
        "vocabulary size (tokenizer.json)": size,
        "pre-tokenizer": (data.get("pre_tokenizer") or {}).get("type"),
    }
    config_file = tokenizer_dir / "tokenizer_config.json"
    if config_file.is_file():
        config = json.loads(config_file.read_text(encoding="utf-8"))
        for key in ("bos_token", "eos_token", "pad_token", "unk_token"):
            value = config.get(key)
            facts[key] = value.get("content") if isinstance(value, dict) else value
    return facts


def encode_text(tokenizer_dir: Path, text: str) -> np.ndarray:
    """Token ids of `text` with the bundle's tokenizer (tokenizers only, no transformers)."""
    from tokenizers import Tokenizer

    return np.asarray(
        Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json")).encode(text).ids, dtype=np.int64
    )


def _current_umask() -> int:
    """The process umask (reading it means setting it; it is restored at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _shown_path(path: Path | str | None, bundle: Path) -> str | None:
    """A path as the card shows it: relative to the bundle folder, so no home directory leaks."""
    return os.path.relpath(path, bundle) if path else None


def _relative(info: dict, folder: Path) -> dict:
    info = dict(info)
    if info.get("path"):
        info["path"] = os.path.relpath(info["path"], folder)
    return info


def build_bundle(
    source: ExportSource,
    out: str | os.PathLike,
    *,
    formats: tuple[str, ...] | None = None,
    quantize: tuple[str, ...] = (),
    held_out_ids: np.ndarray | list[int] | None = None,
    held_out_source: str | None = None,
    thresholds: QuantizationThresholds | None = None,
    atol: float = DEFAULT_ATOL,
    generation_tokens: int = 16,
    license: str | None = None,
    fixed_length: int | None = None,
) -> Bundle:
    """Export `source` in every format, prove parity, quantize, and write the bundle to `out`.

    Args:
        source: from :func:`model_export.sources.load_source`.
        out: a folder that does not exist yet or is empty.
        formats: any of "onnx", "torchscript", "pt2". Named formats must each pass parity,
            otherwise nothing is written and the error names the format and the worst shape.
            None (the default) tries all three and leaves out, with a warning and the reason
            in the report, those that fail; see `model_export.bundle_formats` for the
            fallbacks when ONNX fails at some lengths (a bundle without ONNX, or a
            fixed-length ONNX).
        quantize: any of "int8", "fp16" (fp16 only on a GPU, otherwise recorded as skipped).
            A rejected quantized model is recorded in the report and card, not shipped.
        held_out_ids: token ids of held-out text for the quantization verdict; without them,
            random ids are used and the report says so.
        generation_tokens: greedy tokens compared between onnxruntime and PyTorch.
        license: the licence for the card's front matter ("unknown" when None).
        fixed_length: export ONNX at one shape `[1, fixed_length]` (see
            `model_export.fixed_length`), the fallback `model_export.bundle_formats` picks
            when ONNX fails at some lengths and no other format passes.
    """
    from model_export.quantization import quantize_fp16, quantize_int8
    from model_export.tokenizer_files import tokenizer_data_files

    out = Path(out).resolve()
    unknown = [f for f in formats or () if f not in FORMATS] + [
        q for q in quantize if q not in QUANTIZATIONS
    ]
    if unknown:
        raise ExportSourceError(
            f"unknown format or quantization {', '.join(unknown)}; choose from {FORMATS} / {QUANTIZATIONS}"
        )
    if quantize and formats and "onnx" not in formats:
        raise ExportSourceError("quantization works on the ONNX model; add onnx to --formats")
    check_output_folder(out)

    model, config = source.model, source.config
    max_seq_len = config.max_seq_len
    causality = probe_causality(model, config.vocab_size, max_seq_len)
    if not causality.causal:
        if fixed_length is not None:
            raise ExportSourceError(
                f"--fixed-length needs a causal model, and this one is not ({causality.detail}): "
                "right-padding would change its logits; drop --fixed-length"
            )
        logger.warning(
            "the model is not causal (%s): it is bundled as a masked LM, and inference.py predicts "
            "masked tokens instead of generating text",
            causality.detail,
        )
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.partial-"))
    staging.chmod(
        0o777 & ~_current_umask()
    )  # mkdtemp makes it 0700; the bundle gets the user's umask
    try:
        report: dict[str, Any] = {
            "format_version": 1,
            "model": config.to_dict(),
            "formats": {},
            "quantization": {},
            "causality": causality.to_dict(),
        }
        shipped = export_formats(
            source,
            staging,
            formats=formats,
            atol=atol,
            fixed_length=fixed_length,
            causal=causality.causal,
        )
        fixed_length = shipped.fixed_length
        report["formats"] = shipped.entries
        report["inference"] = {"format": shipped.inference, "model": shipped.inference_file}
        if shipped.left_out:
            report["left_out"] = shipped.left_out
        if causality.causal:  # a masked LM does not generate: its parity is the per-shape one
            report["generation"] = _generation_parity(
                source, staging, shipped, generation_tokens
            ).to_dict()
            report["generation"]["runtime"] = shipped.inference

        if quantize:
            if held_out_ids is None:
                held_out_ids = np.random.default_rng(1).integers(0, config.vocab_size, size=1024)
                held_out_source = "random token ids (no held-out text given; pass --eval-text)"
            eval_len = min(64, max_seq_len or 64)
            for kind in quantize:
                skip = (
                    "the bundle has no ONNX model (it fails at some lengths; see left_out)"
                    if "onnx" not in shipped.entries
                    else "the ONNX model has a fixed input length; quantization needs a dynamic one"
                    if fixed_length is not None
                    else None
                )
                if skip:
                    report["quantization"][kind] = {
                        "kind": kind,
                        "status": "skipped",
                        "path": None,
                        "reason": skip,
                    }
                    continue
                fn = quantize_int8 if kind == "int8" else quantize_fp16
                q = fn(
                    staging / FORMAT_FILES["onnx"],
                    staging / QUANTIZED_FILES[kind],
                    held_out_ids,
                    seq_len=eval_len,
                    thresholds=thresholds,
                    eval_source=held_out_source or "held-out token ids",
                )
                report["quantization"][kind] = _relative(q.to_dict(), staging)

        if source.tokenizer_dir is not None:
            reserved = frozenset({"config.json", "README.md", "parity_report.json", "inference.py"})
            for item in tokenizer_data_files(
                source.tokenizer_dir, reserved
            ):  # data only, never code
                if not (staging / item.name).exists():
                    shutil.copy2(item, staging / item.name)
        if source.kind == "run" and source.export_dir is not None:
            analysis = (
                source.export_dir.parent / "analysis.html"
            )  # the run's Tier 2 report, when one was made
            if analysis.is_file():
                shutil.copy2(analysis, staging / "analysis.html")
        bundle_config = {
            **config.to_dict(),
            "bundle": {
                "formats": {f: FORMAT_FILES[f] for f in report["formats"]},
                "quantized": {
                    k: QUANTIZED_FILES[k]
                    for k, q in report["quantization"].items()
                    if q["status"] == "accepted"
                },
                "inference_model": shipped.inference_file,
                "causal": causality.causal,
                "inputs": ["input_ids"],
                "outputs": ["logits"],
                **({"onnx_fixed_length": fixed_length} if fixed_length is not None else {}),
            },
        }
        (staging / "config.json").write_text(
            json.dumps(bundle_config, indent=2) + "\n", encoding="utf-8"
        )
        report["source"] = {
            "kind": source.kind,
            "export_dir": str(source.export_dir) if source.export_dir else None,
            "weights": str(source.weights) if source.weights else None,
            "tokenizer_dir": str(source.tokenizer_dir) if source.tokenizer_dir else None,
        }
        report["versions"] = _versions()
        (staging / "parity_report.json").write_text(
            json.dumps(report, indent=2) + "\n", encoding="utf-8"
        )
        shutil.copy2(Path(__file__).with_name("bundle_inference.py"), staging / "inference.py")
        files = [*sorted(p.name for p in staging.iterdir()), "README.md"]
        facts = ModelFacts(
            name=config.name,
            parameters=count_parameters(model),
            layers=config.layers,
            d_model=config.d_model,
            heads=config.heads,
            vocab_size=config.vocab_size,
            max_seq_len=config.max_seq_len,
            architecture=type(getattr(model, "model", model)).__name__,
            source=None if source.kind == "module" else _shown_path(source.export_dir, out),
            weights=_shown_path(source.weights, out)
            if source.weights
            else "none given: freshly initialised",
        )
        card = render_model_card(
            CardInputs(
                facts=facts,
                license=license,
                tokenizer=tokenizer_facts(source.tokenizer_dir),
                run=source.run,
                formats=report["formats"],
                generation=report.get("generation"),
                quantization=report["quantization"],
                files=files,
                inference=report["inference"],
                causality=report["causality"],
                left_out=report.get("left_out", {}),
                base_dir=str(out),
            )
        )
        (staging / "README.md").write_text(card, encoding="utf-8")
        if out.exists():
            out.rmdir()  # empty, checked above
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Bundle(out, sorted(p.name for p in out.iterdir()), report)


def _generation_parity(
    source: ExportSource, staging: Path, shipped: ShippedFormats, new_tokens: int
) -> GenerationParity:
    """Greedy generation through the model file inference.py runs, the way it runs it, vs PyTorch.

    Raises :class:`ParityError` when the tokens differ: logits within tolerance can still flip
    a near-tie, and then every later token differs.
    """
    from model_export.bundle_inference import torch_logits_fn
    from model_export.generation import check_generation_parity

    config = source.config
    context = shipped.fixed_length or config.max_seq_len
    prompt = np.random.default_rng(0).integers(0, config.vocab_size, size=min(4, context or 4))
    path = staging / shipped.inference_file
    runtime: Any = str(path)
    if shipped.fixed_length is not None:
        from model_export.fixed_length import fixed_length_logits_fn
        from model_export.onnx_export import onnx_session

        runtime = fixed_length_logits_fn(onnx_session(path), shipped.fixed_length)
    elif shipped.inference != "onnx":
        runtime = torch_logits_fn(path)
    generation = check_generation_parity(
        source.model, runtime, prompt.tolist(), new_tokens=new_tokens, max_seq_len=context
    )
    if not generation.passed:
        raise ParityError(
            f"greedy generation differs between {shipped.inference_file} and PyTorch from token "
            f"{generation.first_mismatch} (prompt {generation.prompt}); the export is not trustworthy"
        )
    return generation


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("model-export", "model-adapter", "torch", "onnx", "onnxruntime", "onnxscript"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found
