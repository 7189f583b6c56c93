"""A Hugging Face style model card (README.md with YAML front matter) from recorded facts only.

Everything on the card comes from the model, its config, the run folder's run.json and the
export's own measurements. A fact nobody recorded is written as "unknown" / "not recorded":
a card that invents a dataset or a licence is worse than one that admits the gap.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

UNKNOWN = "unknown"
NOT_RECORDED = "not recorded"


@dataclass
class ModelFacts:
    """What the card states about the model. None means unknown."""

    name: str
    parameters: int | None = None
    layers: int | None = None
    d_model: int | None = None
    heads: int | None = None
    vocab_size: int | None = None
    max_seq_len: int | None = None
    architecture: str | None = None
    source: str | None = None
    weights: str | None = None


@dataclass
class CardInputs:
    """Everything the card generator reads; build it with :func:`card_inputs`."""

    facts: ModelFacts
    license: str | None = None
    tokenizer: dict[str, Any] | None = None
    run: dict[str, Any] | None = None
    formats: dict[str, dict] = field(default_factory=dict)
    generation: dict | None = None
    quantization: dict[str, dict] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    inference: dict | None = None  # {"format", "model"}: what inference.py runs
    left_out: dict[str, str] = field(default_factory=dict)  # format -> why it is not in the bundle
    causality: dict | None = None  # {"causal", "detail"}: a masked LM is not a text generator
    base_dir: str | None = None  # the bundle folder: absolute paths are shown relative to it


def _yaml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid YAML scalar


def _or(value: Any, missing: str = UNKNOWN) -> str:
    if value is None or value == "" or value == {}:
        return missing
    if isinstance(value, bool):  # before int: True is an int and would print as "1"
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _front_matter(inputs: CardInputs) -> str:
    run = inputs.run or {}
    data = run.get("data") or {}
    metrics = run.get("metrics") or {}
    task = "text-generation" if _is_causal(inputs) else "fill-mask"
    tags = [task, "custom-architecture", "model-export"]
    tags += [fmt for fmt, info in inputs.formats.items() if info.get("passed")]
    if inputs.quantization.get("int8", {}).get("status") == "accepted":
        tags.append("int8")
    library = "onnxruntime" if "onnx" in inputs.formats or not inputs.formats else "pytorch"
    lines = ["---", f"license: {_yaml_str(inputs.license or UNKNOWN)}", f"library_name: {library}"]
    lines.append(f"pipeline_tag: {task}")
    lines.append("tags:")
    lines += [f"  - {_yaml_str(t)}" for t in tags]
    dataset = _relative_path(data.get("source"), inputs.base_dir)
    if isinstance(dataset, str) and dataset:
        lines += ["datasets:", f"  - {_yaml_str(dataset)}"]
    else:
        lines.append("datasets: []  # not recorded")
    names = [
        m for m in ("val_loss", "val_perplexity", "val_bits_per_byte") if metrics.get(m) is not None
    ]
    names += [f"{fmt}_parity_max_abs_diff" for fmt in inputs.formats] or [
        "onnx_parity_max_abs_diff"
    ]
    lines.append("metrics:")
    lines += [f"  - {_yaml_str(n)}" for n in names]
    lines.append("---")
    return "\n".join(lines)


def _is_causal(inputs: CardInputs) -> bool:
    return bool((inputs.causality or {}).get("causal", True))


def _use(inputs: CardInputs) -> str:
    """The card's intended-use line: text generation, or fill-mask for a model that is not causal."""
    if _is_causal(inputs):
        return (
            "- Intended use: research and experimentation with a small custom language model; text "
            "generation from a prompt.\n"
        )
    return (
        "- This model is **not causal** (a masked LM: "
        f"{(inputs.causality or {}).get('detail') or 'later tokens change earlier logits'}), so it "
        "does not generate text: `inference.py` predicts the tokens at masked positions "
        "(fill-mask). Intended use: research and experimentation.\n"
    )


def _architecture(facts: ModelFacts) -> str:
    rows = [
        ("Parameters", _or(facts.parameters)),
        ("Layers (blocks)", _or(facts.layers)),
        ("Width (d_model)", _or(facts.d_model)),
        ("Attention heads", _or(facts.heads)),
        ("Vocabulary", _or(facts.vocab_size)),
        (
            "Context (max sequence length)",
            _or(facts.max_seq_len, "unknown (no fixed maximum recorded)"),
        ),
        ("Architecture", _or(facts.architecture)),
        ("Source", _or(facts.source)),
        ("Weights", _or(facts.weights)),
    ]
    return "| | |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)


def _tokenizer(tokenizer: dict | None) -> str:
    if not tokenizer:
        return (
            "Tokenizer: not recorded. No tokenizer was given to the export, so the bundle holds "
            "none; feed token ids directly (`inference.py --ids ...`)."
        )
    rows = "\n".join(f"| {k} | {_or(v)} |" for k, v in tokenizer.items())
    return "| | |\n|---|---|\n" + rows


def _relative_path(value: Any, base_dir: str | None) -> Any:
    """An absolute path (in run.json's config) shown relative to the bundle folder."""
    if base_dir and isinstance(value, str) and os.path.isabs(value):
        return os.path.relpath(value, base_dir)
    return value


def _training(run: dict | None, base_dir: str | None = None) -> str:
    if not run:
        return "Training data and hyper-parameters: not recorded (the export was not made from a run folder)."
    data = run.get("data") or {}
    parts = [
        f"- Run status: {_or(run.get('status'), NOT_RECORDED)}",
        f"- Data source: {_or(_relative_path(data.get('source'), base_dir), NOT_RECORDED)}",
        f"- Training tokens: {_or(data.get('num_train_tokens') or (run.get('metrics') or {}).get('train_tokens'), NOT_RECORDED)}",
    ]
    config = run.get("config") or {}
    if config:
        note = " (paths relative to this bundle's folder)" if base_dir else ""
        parts.append(f"\n| Hyper-parameter{note} | Value |\n|---|---|")
        parts += [
            f"| {k} | {_or(json.dumps(v) if isinstance(v, (dict, list)) else _relative_path(v, base_dir))} |"
            for k, v in sorted(config.items())
        ]
    else:
        parts.append("- Hyper-parameters: not recorded")
    versions = run.get("versions") or {}
    if versions:
        parts.append(
            "\nPackage versions at training time: "
            + ", ".join(f"{k} {v}" for k, v in sorted(versions.items()))
        )
    return "\n".join(parts)


def _metrics(run: dict | None) -> str:
    metrics = (run or {}).get("metrics") or {}
    if not metrics:
        return "Evaluation metrics: not recorded."
    return "| Metric | Value |\n|---|---|\n" + "\n".join(
        f"| {k} | {_or(v, NOT_RECORDED)} |" for k, v in sorted(metrics.items())
    )


def _analysis_link(files: list[str]) -> str:
    """A pointer to the run's Tier 2 analysis page when the bundle carries one."""
    if "analysis.html" not in files:
        return ""
    return (
        "\n\nInside the trained model (attention maps, context use, attribution, robustness, "
        "representations; `model-adapter analyze`): [analysis.html](analysis.html)."
    )


def _parity(formats: dict[str, dict], generation: dict | None, left_out: dict[str, str]) -> str:
    if not formats:
        return "No format was exported."
    out = [f"**{fmt}** — not in this bundle: {reason}\n" for fmt, reason in left_out.items()]
    for fmt, info in formats.items():
        parity = info.get("parity") or {}
        out.append(
            f"**{fmt}** — exporter: `{info.get('exporter')}`"
            + (f" (fallback: {info['fallback_reason']})" if info.get("fallback_reason") else "")
            + (
                f"; fixed input length {info['fixed_length']} (inference.py right-pads shorter prompts "
                "and keeps the last tokens of longer ones)"
                if info.get("fixed_length")
                else ""
            )
            + f"; tolerance atol {parity.get('atol', UNKNOWN)}; "
            + ("passed" if parity.get("passed") else "FAILED")
        )
        out.append("")
        out.append(
            "| shape (batch x seq) | max abs diff | max rel diff | top-1 agreement | passed |"
        )
        out.append("|---|---|---|---|---|")
        for s in parity.get("shapes", []):
            out.append(
                f"| {s['batch']}x{s['seq_len']} | {s['max_abs_diff']:.2e} | {s['max_rel_diff']:.2e} "
                f"| {s['top1_agreement']:.2%} | {'yes' if s['passed'] else 'no'} |"
            )
        out.append("")
    if generation:
        state = (
            "identical"
            if generation.get("passed")
            else f"differ from token {generation.get('first_mismatch')}"
        )
        runtime = {"onnx": "the ONNX model in onnxruntime", "torchscript": "the TorchScript file"}
        out.append(
            f"Greedy generation: {len(generation.get('reference_tokens', []))} tokens from "
            f"{runtime.get(generation.get('runtime', 'onnx'), 'the torch.export program')} "
            f"(what inference.py runs) and from PyTorch are {state}."
        )
    return "\n".join(out)


def _quantization(quantization: dict[str, dict], base_dir: str | None = None) -> str:
    if not quantization:
        return "No quantization was requested."
    out = [
        "| kind | status | size ratio (fp32/q) | latency ratio (q/fp32) | top-1 agreement | perplexity change | eval data |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind, q in quantization.items():
        status = q["status"] + (f" ({q['reason']})" if q.get("reason") else "")

        def fmt(key: str, spec: str, q=q) -> str:
            return format(q[key], spec) if q.get(key) is not None else "n/a"

        out.append(
            f"| {kind} | {status} | {fmt('size_ratio', '.2f')}x | {fmt('latency_ratio', '.2f')}x | "
            f"{fmt('top1_agreement', '.2%')} | {fmt('perplexity_change', '+.2%')} | {_relative_path(q.get('eval_source'), base_dir) or 'n/a'} |"
        )
    out.append("\nRejected or skipped models are not in the bundle.")
    return "\n".join(out)


def _loading(files: list[str], inference: dict | None = None, causal: bool = True) -> str:
    model = (inference or {}).get("model", "model.onnx")
    needs = "onnxruntime" if model.endswith(".onnx") else "torch"
    run = (
        'Generate text: `python inference.py --prompt "Hello" --max-new-tokens 20`'
        if causal
        else 'Fill masked tokens: `python inference.py --prompt "the [MASK] speaks"` (the tokenizer\'s '
        "mask token; `--ids ... --mask-id N` without one)"
    )
    blocks = [f"{run} runs `{model}` (needs only {needs}, tokenizers and numpy)."]
    if "model.onnx" in files:
        blocks.append(
            "ONNX (onnxruntime only, no torch):\n\n```python\nimport numpy as np, onnxruntime as ort\n"
            'session = ort.InferenceSession("model.onnx")\n'
            'logits = session.run(None, {"input_ids": np.array([[1, 2, 3]], dtype=np.int64)})[0]\n```'
        )
    if "model.int8.onnx" in files:
        blocks.append(
            "int8 ONNX: the same code with `model.int8.onnx` (`python inference.py --model model.int8.onnx`)."
        )
    if "model.torchscript.pt" in files:
        blocks.append(
            'TorchScript:\n\n```python\nimport torch\nmodel = torch.jit.load("model.torchscript.pt")\n'
            "logits = model(torch.tensor([[1, 2, 3]]))\n```"
        )
    if "model.pt2" in files:
        blocks.append(
            'torch.export program:\n\n```python\nimport torch\nmodel = torch.export.load("model.pt2").module()\n'
            "logits = model(torch.tensor([[1, 2, 3]]))\n```"
        )
    if "tokenizer.json" in files:
        blocks.append(
            'Tokenizer:\n\n```python\nfrom tokenizers import Tokenizer\ntok = Tokenizer.from_file("tokenizer.json")\n```\n\n'
            'or `transformers.AutoTokenizer.from_pretrained(".")`.'
        )
    return "\n\n".join(blocks)


def render_model_card(inputs: CardInputs) -> str:
    """The README.md text of a bundle."""
    facts = inputs.facts
    context = _or(facts.max_seq_len, "no fixed maximum recorded")
    sections = [
        _front_matter(inputs),
        f"# {facts.name}",
        "A language model exported by `model-export`, with the evidence that every artifact "
        "matches the PyTorch model it came from.",
        "## Architecture\n\n" + _architecture(facts),
        "## Tokenizer\n\n" + _tokenizer(inputs.tokenizer),
        "## Training data and hyper-parameters\n\n" + _training(inputs.run, inputs.base_dir),
        "## Metrics\n\n" + _metrics(inputs.run) + _analysis_link(inputs.files),
        "## Export parity (PyTorch vs exported artifact)\n\n"
        + _parity(inputs.formats, inputs.generation, inputs.left_out),
        "## Quantization\n\n" + _quantization(inputs.quantization, inputs.base_dir),
        "## Intended use and limitations\n\n"
        + _use(inputs)
        + f"- Inputs longer than the context ({context} tokens) must be cropped by the caller.\n"
        "- The model was not evaluated for safety, bias or factual accuracy; do not use its output "
        "for decisions about people.\n"
        "- Parity numbers above compare the artifacts with the PyTorch model on random token ids; "
        "they say nothing about the model's quality, only that the export preserved it.",
        "## How to load each format\n\n"
        + _loading(inputs.files, inputs.inference, _is_causal(inputs)),
    ]
    return "\n\n".join(sections) + "\n"
