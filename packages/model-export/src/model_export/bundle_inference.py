"""Run an exported bundle: onnxruntime, tokenizers and numpy (torch only for a torch-only bundle).

This file is copied into every bundle as `inference.py`:

    python inference.py --prompt "ROMEO:" --max-new-tokens 60 --temperature 0.8 --seed 1
    python inference.py --prompt "To be" --num-samples 3 --top-p 0.9 --stop "\n\n"
    python inference.py --ids 5 17 42 --max-new-tokens 8 --temperature 0 --json
    python inference.py --model model.int8.onnx --prompt "Hello"
    python inference.py --model model.torchscript.pt --prompt "Hello"

It runs the model file config.json names (`bundle.inference_model`; `model.onnx` when absent):
an `.onnx` file with onnxruntime, a TorchScript `.pt` or a `torch.export` `.pt2` file with
torch (a bundle whose model has no ONNX export that works at every length ships without ONNX).

The prompt is echoed, then the continuation; a line on stderr says why each sample stopped
(end-of-text, a stop string, or --max-new-tokens). Sampling follows the specification in the
block below, copied verbatim from lightning-pipeline's `sampling.py`: for the same seed and
settings, `lightning-pipeline generate` on the run folder gives the same tokens. The whole
window runs every step (no KV cache), cropped to the model's context.
"""

# ruff: noqa: I001  (the sampling block below is a verbatim copy, imports included)
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# ---- SAMPLING SPEC BEGIN (kept identical in model_export/bundle_inference.py) ----
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

STOP_EOS = "end-of-text"
STOP_STRING = "stop string"
STOP_LENGTH = "max_new_tokens"


@dataclass(frozen=True)
class SamplingSettings:
    """How to sample; the defaults are the CLI's and `inference.py`'s defaults.

    temperature 0 is greedy; top_k None or 0 and top_p 1.0 switch those filters off;
    repetition_penalty 1.0 is no penalty; seed None draws a fresh seed (reported in the result).
    """

    max_new_tokens: int = 50
    temperature: float = 1.0
    top_k: int | None = 50
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    num_samples: int = 1
    seed: int | None = None
    stop_at_eos: bool = True
    stop: tuple[str, ...] = field(default_factory=tuple)

    def problem(self) -> str | None:
        """One line naming the first bad setting and its fix, or None when all are valid."""
        if self.max_new_tokens < 1:
            return f"max_new_tokens={self.max_new_tokens} must be at least 1"
        if not self.temperature >= 0:
            return f"temperature={self.temperature} must be 0 (greedy) or positive"
        if self.top_k is not None and self.top_k < 0:
            return f"top_k={self.top_k} must be at least 1 (0 or None: no top-k filter)"
        if not 0 < self.top_p <= 1:
            return f"top_p={self.top_p} must be in (0, 1] (1.0: no top-p filter)"
        if not self.repetition_penalty > 0:
            return (
                f"repetition_penalty={self.repetition_penalty} must be positive (1.0: no penalty)"
            )
        if self.num_samples < 1:
            return f"num_samples={self.num_samples} must be at least 1"
        if self.seed is not None and self.seed < 0:
            return f"seed={self.seed} must be 0 or a positive integer"
        if any(not s for s in self.stop):
            return "a stop string is empty; give non-empty stop strings"
        return None


@dataclass
class Sample:
    """One continuation: the new token ids, their text, why it stopped and the seed used."""

    token_ids: list[int]
    text: str
    stop_reason: str
    seed: int


def next_token_probabilities(
    logits: np.ndarray, context: Sequence[int], settings: SamplingSettings
) -> np.ndarray:
    """The distribution the next token is drawn from (float64, sums to 1); see the module docstring."""
    scores = np.array(logits, dtype=np.float64).reshape(-1)
    if settings.repetition_penalty != 1.0 and len(context):
        seen = np.unique(np.asarray(context, dtype=np.int64))
        seen = seen[(seen >= 0) & (seen < scores.size)]
        values = scores[seen]
        scores[seen] = np.where(
            values > 0, values / settings.repetition_penalty, values * settings.repetition_penalty
        )
    if settings.temperature == 0:
        probs = np.zeros_like(scores)
        probs[int(np.argmax(scores))] = 1.0
        return probs
    scores = scores / settings.temperature
    if settings.top_k and settings.top_k < scores.size:
        kth = np.sort(scores)[-settings.top_k]
        scores = np.where(scores >= kth, scores, -np.inf)
    scores = scores - np.max(scores)
    probs = np.exp(scores)
    probs /= probs.sum()
    if settings.top_p < 1.0:
        order = np.argsort(-probs, kind="stable")
        cumulative = np.cumsum(probs[order])
        keep = int(np.searchsorted(cumulative, settings.top_p, side="left")) + 1
        mask = np.zeros(probs.size, dtype=bool)
        mask[order[:keep]] = True
        probs = np.where(mask, probs, 0.0)
        probs /= probs.sum()
    return probs


def choose_token(
    logits: np.ndarray, context: Sequence[int], settings: SamplingSettings, rng: np.random.Generator
) -> int:
    """The next token id: argmax at temperature 0 (no draw), else one uniform draw from `rng`."""
    probs = next_token_probabilities(logits, context, settings)
    if settings.temperature == 0:
        return int(np.argmax(probs))
    cumulative = np.cumsum(probs)
    u = rng.random() * cumulative[-1]
    return int(min(np.searchsorted(cumulative, u, side="right"), probs.size - 1))


def sample_continuations(
    logits_fn: Callable[[np.ndarray], np.ndarray],
    prompt_ids: Sequence[int],
    settings: SamplingSettings,
    *,
    decode: Callable[[list[int]], str],
    eos_token_id: int | None,
    max_seq_len: int | None,
) -> list[Sample]:
    """`settings.num_samples` continuations of `prompt_ids`.

    `logits_fn(ids[1, T] int64) -> logits[V]` for the last position; the window is cropped to
    the last `max_seq_len` tokens (no KV cache: the whole window runs every step). `decode(ids)`
    turns ids into text (special tokens skipped). A sample stops at end-of-text (the eos id is
    not kept), at the first stop string (the text is cut before it), or after max_new_tokens.
    """
    problem = settings.problem()
    if problem:
        raise ValueError(problem)
    seed = settings.seed if settings.seed is not None else secrets.randbits(32)
    streams = np.random.SeedSequence(seed).spawn(settings.num_samples)
    prompt = [int(t) for t in prompt_ids]
    prompt_text = decode(prompt)
    samples = []
    for stream in streams:
        rng = np.random.default_rng(stream)
        ids = list(prompt)
        new: list[int] = []
        reason, text = STOP_LENGTH, ""
        for _ in range(settings.max_new_tokens):
            window = ids[-max_seq_len:] if max_seq_len else ids
            logits = logits_fn(np.asarray([window], dtype=np.int64))
            token = choose_token(logits, ids, settings, rng)
            if settings.stop_at_eos and eos_token_id is not None and token == eos_token_id:
                reason = STOP_EOS
                break
            ids.append(token)
            new.append(token)
            text = continuation_text(decode, prompt, prompt_text, new)
            hit = _first_stop(text, settings.stop)
            if hit is not None:
                text, reason = text[: hit[0]], f"{STOP_STRING} {hit[1]!r}"
                break
        samples.append(Sample(new, text, reason, seed))
    return samples


def continuation_text(
    decode: Callable[[list[int]], str], prompt: list[int], prompt_text: str, new: list[int]
) -> str:
    """Text of the new tokens as they read after the prompt (a tokenizer may merge across the join)."""
    full = decode(prompt + new)
    return full[len(prompt_text) :] if full.startswith(prompt_text) else decode(new)


def _first_stop(text: str, stops: Sequence[str]) -> tuple[int, str] | None:
    """Where the earliest stop string starts in `text`, and which one it is."""
    found = [(i, s) for s in stops if (i := text.find(s)) >= 0]
    return min(found) if found else None


# ---- SAMPLING SPEC END ----

HERE = Path(__file__).resolve().parent


def load_context(bundle: Path) -> int | None:
    """The model's maximum sequence length from the bundle's config.json (None: no maximum)."""
    config = json.loads((bundle / "config.json").read_text(encoding="utf-8"))
    value = config.get("max_seq_len")
    return int(value) if value else None


def inference_model(bundle: Path) -> str:
    """The model file inference.py runs by default: config.json's choice, else model.onnx."""
    config = json.loads((bundle / "config.json").read_text(encoding="utf-8"))
    return str((config.get("bundle") or {}).get("inference_model") or "model.onnx")


def load_fixed_length(bundle: Path) -> int | None:
    """The ONNX graph's one input length when the bundle exported a fixed-length model."""
    config = json.loads((bundle / "config.json").read_text(encoding="utf-8"))
    value = (config.get("bundle") or {}).get("onnx_fixed_length")
    return int(value) if value else None


def onnx_full_logits_fn(session) -> Callable[[np.ndarray], np.ndarray]:
    """`ids[B, T] -> float64 logits [B, T, V]` from an onnxruntime session."""
    names = [i.name for i in session.get_inputs()]

    def logits_fn(ids: np.ndarray) -> np.ndarray:
        feeds = {names[0]: ids}
        if "attention_mask" in names:
            feeds["attention_mask"] = np.ones_like(ids)
        return np.asarray(session.run(None, feeds)[0], dtype=np.float64)

    return logits_fn


def onnx_logits_fn(session, fixed_length: int | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """`ids[1, T] -> float64 logits of the last position` from an onnxruntime session.

    A fixed-length graph gets the window right-padded with id 0 to `fixed_length`; the model is
    causal, so the logits of the real positions do not see the padding.
    """
    full_logits = onnx_full_logits_fn(session)

    def logits_fn(window: np.ndarray) -> np.ndarray:
        last = window.shape[1] - 1
        if fixed_length and window.shape[1] < fixed_length:
            window = np.pad(window, ((0, 0), (0, fixed_length - window.shape[1])))
        return full_logits(window)[0, last]

    return logits_fn


def torch_logits_fn(path: Path) -> Callable[[np.ndarray], np.ndarray]:
    """`ids[B, T] -> float64 logits [B, T, V]` from a TorchScript `.pt` or `torch.export` `.pt2` file.

    The file may return the logits as a tensor, a tuple whose first item they are, a dict with
    "logits" or an object with `.logits` (a scripted model keeps its own return type).
    """
    import torch

    if path.suffix == ".pt2":
        model = torch.export.load(str(path)).module()
    else:
        model = torch.jit.load(str(path), map_location="cpu").eval()

    def logits_fn(ids: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = model(torch.from_numpy(np.asarray(ids, dtype=np.int64)))
        if isinstance(out, dict):
            out = out["logits"]
        elif isinstance(out, (tuple, list)):
            out = out[0]
        elif not isinstance(out, torch.Tensor):
            out = out.logits
        return out.detach().double().cpu().numpy()

    return logits_fn


def last_position(
    full_logits: Callable[[np.ndarray], np.ndarray],
) -> Callable[[np.ndarray], np.ndarray]:
    """`ids[1, T] -> logits of the last position` from a `[B, T, V]` logits function."""
    return lambda window: full_logits(window)[0, -1]


def special_tokens(bundle: Path) -> dict[str, tuple[str, int | None]]:
    """`{"bos_token": (text, id), ...}` of the bundle's tokenizer, read from its files."""
    tokenizer_json = bundle / "tokenizer.json"
    config_file = bundle / "tokenizer_config.json"
    if not tokenizer_json.is_file() or not config_file.is_file():
        return {}
    vocab = {
        t["content"]: t["id"]
        for t in json.loads(tokenizer_json.read_text(encoding="utf-8")).get("added_tokens", [])
    }
    found = {}
    for key, value in json.loads(config_file.read_text(encoding="utf-8")).items():
        value = value.get("content") if isinstance(value, dict) else value
        if key.endswith("_token") and isinstance(value, str):
            found[key] = (value, vocab.get(value))
    return found


def special_ids(bundle: Path) -> tuple[int | None, int | None]:
    """(bos id, eos id) of the bundle's tokenizer, read from its files (None when unknown)."""
    tokens = special_tokens(bundle)
    return tokens.get("bos_token", ("", None))[1], tokens.get("eos_token", ("", None))[1]


def load_causal(bundle: Path) -> bool:
    """False when the export found the model is not causal (a masked LM); older bundles: True."""
    config = json.loads((bundle / "config.json").read_text(encoding="utf-8"))
    return bool((config.get("bundle") or {}).get("causal", True))


def fill_masks(
    full_logits: Callable[[np.ndarray], np.ndarray],
    ids: list[int],
    mask_id: int,
    candidates: int,
) -> list[dict]:
    """For each position holding `mask_id`: the `candidates` most likely ids and probabilities.

    One run of the whole input: a masked LM sees both sides of every mask.
    """
    logits = np.asarray(full_logits(np.asarray([ids], dtype=np.int64))[0], dtype=np.float64)
    masks = []
    for position in [i for i, t in enumerate(ids) if t == mask_id]:
        scores = np.exp(logits[position] - logits[position].max())
        probs = scores / scores.sum()
        top = np.argsort(-probs, kind="stable")[:candidates]
        masks.append(
            {
                "position": position,
                "candidates": [{"id": int(i), "probability": float(probs[i])} for i in top],
            }
        )
    return masks


def run_fill_mask(args, full_logits, tokenizer, prompt_ids: list[int], context: int | None) -> int:
    """inference.py for a model that is not causal: predict the masked tokens, never generate."""
    mask_text, mask_id = special_tokens(args.bundle).get("mask_token", (None, None))
    mask_id = args.mask_id if args.mask_id is not None else mask_id
    if mask_id is None or mask_id not in prompt_ids:
        where = (
            f"put its mask token {mask_text} in --prompt"
            if mask_id is not None and mask_text and args.mask_id is None
            else "pass --mask-id N and put N among --ids"
        )
        print(
            "error: this bundle's model is not causal (a masked LM), so it does not generate text; "
            f"{where} to predict the token there",
            file=sys.stderr,
        )
        return 2
    if context and len(prompt_ids) > context:
        print(
            f"error: the prompt has {len(prompt_ids)} tokens, more than the model's {context}; "
            "give a shorter prompt",
            file=sys.stderr,
        )
        return 2
    masks = fill_masks(full_logits, prompt_ids, mask_id, args.candidates)
    filled = list(prompt_ids)
    for mask in masks:
        filled[mask["position"]] = mask["candidates"][0]["id"]
        for candidate in mask["candidates"]:
            candidate["token"] = tokenizer.id_to_token(candidate["id"]) if tokenizer else None
    text = tokenizer.decode(filled, skip_special_tokens=True) if tokenizer else None
    if args.json:
        print(
            json.dumps(
                {"prompt_ids": prompt_ids, "filled_ids": filled, "text": text, "masks": masks}
            )
        )
        return 0
    print(text if text is not None else " ".join(map(str, filled)))
    for mask in masks:
        shown = ", ".join(
            f"{c['token'] if c['token'] is not None else c['id']} {c['probability']:.1%}"
            for c in mask["candidates"]
        )
        print(f"position {mask['position']}: {shown}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--bundle", type=Path, default=HERE, help="bundle folder (default: this file's)"
    )
    parser.add_argument(
        "--model",
        default=None,
        help="model file inside the bundle (default: the one config.json names, else model.onnx); "
        ".onnx runs with onnxruntime, .pt (TorchScript) and .pt2 (torch.export) with torch",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--prompt", help="text to continue (needs tokenizer.json in the bundle); echoed"
    )
    source.add_argument("--ids", type=int, nargs="+", help="prompt token ids")
    parser.add_argument(
        "--max-new-tokens", type=int, default=50, help="tokens to add at most (default 50)"
    )
    parser.add_argument("--temperature", type=float, default=1.0, help="0 = greedy (default 1.0)")
    parser.add_argument(
        "--top-k", type=int, default=50, help="keep the k most likely tokens; 0 = all (default 50)"
    )
    parser.add_argument(
        "--top-p",
        type=float,
        default=1.0,
        help="keep the most likely tokens up to this mass (default 1.0 = all)",
    )
    parser.add_argument(
        "--repetition-penalty", type=float, default=1.0, help="> 1 discourages tokens already seen"
    )
    parser.add_argument(
        "--num-samples", type=int, default=1, help="independent continuations (default 1)"
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="makes sampling repeatable (default: a fresh seed, printed)",
    )
    parser.add_argument(
        "--stop",
        action="append",
        default=[],
        metavar="TEXT",
        help="stop when the continuation contains TEXT (repeatable); the text is cut before it",
    )
    parser.add_argument(
        "--no-stop-at-eos", action="store_true", help="keep going past the end-of-text token"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--mask-id",
        type=int,
        default=None,
        help="a masked LM's bundle: the id to predict (default: the tokenizer's mask token)",
    )
    parser.add_argument(
        "--candidates",
        type=int,
        default=5,
        help="a masked LM's bundle: candidates listed per masked position (default 5)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = SamplingSettings(
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_k=args.top_k or None,
        top_p=args.top_p,
        repetition_penalty=args.repetition_penalty,
        num_samples=args.num_samples,
        seed=args.seed,
        stop_at_eos=not args.no_stop_at_eos,
        stop=tuple(args.stop),
    )
    problem = settings.problem()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    model_name = args.model or inference_model(args.bundle)
    if not (args.bundle / model_name).is_file():
        print(
            f"error: {args.bundle / model_name} does not exist; pass --model with a model file of the bundle",
            file=sys.stderr,
        )
        return 2
    on_onnx = model_name.endswith(".onnx")
    try:
        if on_onnx:
            import onnxruntime as ort
        else:
            import torch  # noqa: F401  (a torch-only bundle: TorchScript or torch.export)
    except ImportError:
        needed = "onnxruntime" if on_onnx else "torch"
        print(
            f"error: inference.py needs {needed} to run {model_name}; install it with: pip install {needed}",
            file=sys.stderr,
        )
        return 2

    tokenizer = None
    if (args.bundle / "tokenizer.json").is_file():
        try:
            from tokenizers import Tokenizer
        except ImportError:
            print(
                "error: inference.py needs tokenizers; install it with: pip install tokenizers",
                file=sys.stderr,
            )
            return 2
        tokenizer = Tokenizer.from_file(str(args.bundle / "tokenizer.json"))
    bos_id, eos_id = special_ids(args.bundle)
    if args.prompt is not None:
        if tokenizer is None:
            print(
                "error: this bundle has no tokenizer.json; pass --ids instead of --prompt",
                file=sys.stderr,
            )
            return 2
        prompt_ids = tokenizer.encode(args.prompt, add_special_tokens=False).ids
        if not prompt_ids:
            start = bos_id if bos_id is not None else eos_id
            prompt_ids = [start] if start is not None else []
    else:
        prompt_ids = args.ids
    if not prompt_ids:
        print("error: the prompt encodes to no tokens; give a longer prompt", file=sys.stderr)
        return 2

    fixed = None
    if on_onnx:
        session = ort.InferenceSession(
            str(args.bundle / model_name), providers=["CPUExecutionProvider"]
        )
        fixed = load_fixed_length(args.bundle) if model_name == "model.onnx" else None
        logits_fn = onnx_logits_fn(session, fixed)
        full_logits = onnx_full_logits_fn(session)
    else:
        full_logits = torch_logits_fn(args.bundle / model_name)
        logits_fn = last_position(full_logits)
    if not load_causal(args.bundle):
        return run_fill_mask(
            args, full_logits, tokenizer, list(prompt_ids), load_context(args.bundle)
        )
    if tokenizer is not None:

        def decode(ids: list[int]) -> str:
            return tokenizer.decode(ids, skip_special_tokens=True)
    else:

        def decode(ids: list[int]) -> str:
            return " ".join(map(str, ids))

    samples = sample_continuations(
        logits_fn,
        prompt_ids,
        settings,
        decode=decode,
        eos_token_id=eos_id,
        max_seq_len=fixed or load_context(args.bundle),
    )
    prompt_text = args.prompt if args.prompt is not None else decode(prompt_ids)
    if args.json:
        print(
            json.dumps(
                {
                    "prompt_ids": prompt_ids,
                    "seed": samples[0].seed,
                    "generated_ids": samples[0].token_ids,
                    "text": samples[0].text if tokenizer is not None else None,
                    "samples": [
                        {"token_ids": s.token_ids, "text": s.text, "stop_reason": s.stop_reason}
                        for s in samples
                    ],
                }
            )
        )
        return 0
    for number, sample in enumerate(samples, 1):
        if len(samples) > 1:
            print(f"--- sample {number} of {len(samples)} ---")
        separator = "" if tokenizer is not None else " "
        print(prompt_text + separator + sample.text)
        print(
            f"[{len(sample.token_ids)} new tokens; stopped at {sample.stop_reason}]",
            file=sys.stderr,
        )
    if args.seed is None and args.temperature > 0:
        print(f"[seed {samples[0].seed}: pass --seed {samples[0].seed} to repeat]", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
