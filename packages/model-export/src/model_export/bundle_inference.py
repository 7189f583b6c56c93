"""Run an exported bundle with onnxruntime, tokenizers and numpy only (no torch).

This file is copied into every bundle as `inference.py`:

    python inference.py --prompt "To be, or not" --max-new-tokens 20
    python inference.py --ids 5 17 42 --max-new-tokens 8 --json
    python inference.py --model model.int8.onnx --prompt "Hello"

Greedy decoding, whole window every step (no KV cache), cropped to the model's context.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort

HERE = Path(__file__).resolve().parent


def load_context(bundle: Path) -> int | None:
    """The model's maximum sequence length from the bundle's config.json (None: no maximum)."""
    config = json.loads((bundle / "config.json").read_text(encoding="utf-8"))
    value = config.get("max_seq_len")
    return int(value) if value else None


def load_fixed_length(bundle: Path) -> int | None:
    """The ONNX graph's one input length when the bundle exported a fixed-length model."""
    config = json.loads((bundle / "config.json").read_text(encoding="utf-8"))
    value = (config.get("bundle") or {}).get("onnx_fixed_length")
    return int(value) if value else None


def generate(
    session: ort.InferenceSession, ids: list[int], new_tokens: int, context: int | None,
    fixed_length: int | None = None,
) -> list[int]:
    """Greedy decoding: append the argmax token `new_tokens` times.

    A fixed-length graph gets the last `fixed_length` ids, right-padded with id 0; the model is
    causal, so the logits of the real positions do not see the padding.
    """
    names = [i.name for i in session.get_inputs()]
    ids = list(ids)
    out: list[int] = []
    for _ in range(new_tokens):
        window_ids = ids[-(fixed_length or context):] if (fixed_length or context) else ids
        last = len(window_ids) - 1
        if fixed_length:
            window_ids = window_ids + [0] * (fixed_length - len(window_ids))
        window = np.asarray([window_ids], dtype=np.int64)
        feeds = {names[0]: window}
        if "attention_mask" in names:
            feeds["attention_mask"] = np.ones_like(window)
        logits = session.run(None, feeds)[0]
        token = int(logits[0, last].argmax())
        ids.append(token)
        out.append(token)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=HERE, help="bundle folder (default: this file's)")
    parser.add_argument("--model", default="model.onnx", help="ONNX file inside the bundle")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--prompt", help="text to continue (needs tokenizer.json in the bundle)")
    source.add_argument("--ids", type=int, nargs="+", help="prompt token ids")
    parser.add_argument("--max-new-tokens", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    tokenizer = None
    if (args.bundle / "tokenizer.json").is_file():
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(args.bundle / "tokenizer.json"))
    if args.prompt is not None:
        if tokenizer is None:
            print("this bundle has no tokenizer.json; pass --ids instead of --prompt", file=sys.stderr)
            return 2
        prompt_ids = tokenizer.encode(args.prompt).ids
    else:
        prompt_ids = args.ids
    if not prompt_ids:
        print("the prompt encodes to no tokens; give a longer prompt", file=sys.stderr)
        return 2

    session = ort.InferenceSession(str(args.bundle / args.model), providers=["CPUExecutionProvider"])
    fixed = load_fixed_length(args.bundle) if args.model == "model.onnx" else None
    generated = generate(session, prompt_ids, args.max_new_tokens, load_context(args.bundle), fixed)
    text = tokenizer.decode(generated) if tokenizer is not None else None
    if args.json:
        print(json.dumps({"prompt_ids": prompt_ids, "generated_ids": generated, "text": text}))
    else:
        print(text if text is not None else " ".join(map(str, generated)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
