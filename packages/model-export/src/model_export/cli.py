"""`model-export SOURCE --out DIR`: argument parsing and printing only; the work is in `bundle`.

Exit status: 0 on success, 2 on bad input or a failed check (one line on stderr), a traceback
for anything unexpected (a bug).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from model_export._model_output import model_prints_to_log
from model_export.errors import ModelExportError

if TYPE_CHECKING:
    from model_export.bundle import Bundle

EPILOG = """SOURCE is one of:
  an export folder (model.py + config.json), optionally with --weights FILE
  a model.py file, optionally with --weights FILE
  a training run folder (run.json, model/, final/model.safetensors, tokenizer/)

examples:
  model-export runs/my-run --out bundles/my-run --quantize int8
  model-export my_export/ --weights trained.safetensors --tokenizer tok/ --out bundle/
"""


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="model-export",
        description="Export a language model to ONNX, TorchScript and torch.export with proven parity.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("source", type=Path, help="export folder, model.py or training run folder")
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        help="bundle folder to create (must not exist or be empty)",
    )
    parser.add_argument(
        "--weights", type=Path, help="weights for the export (.safetensors, .pt, .bin, .ckpt)"
    )
    parser.add_argument(
        "--tokenizer",
        type=Path,
        help="tokenizer folder (save_pretrained output with tokenizer.json)",
    )
    parser.add_argument(
        "--formats",
        type=_csv,
        default=None,
        help="comma-separated: onnx,torchscript,pt2; each must pass parity (default: every format "
        "that passes, the others left out with the reason; without ONNX that passes at every "
        "length, inference.py runs the .pt2 or TorchScript file)",
    )
    parser.add_argument(
        "--quantize", type=_csv, default=(), help="comma-separated: int8 (fp16 on a GPU)"
    )
    parser.add_argument(
        "--eval-text",
        type=Path,
        help="held-out text file for the quantization verdict (needs a tokenizer)",
    )
    parser.add_argument(
        "--min-top1",
        type=float,
        default=0.98,
        help="reject quantized models below this top-1 agreement",
    )
    parser.add_argument(
        "--max-ppl-increase",
        type=float,
        default=0.05,
        help="reject quantized models whose perplexity rises more than this (0.05 = 5%%)",
    )
    parser.add_argument("--atol", type=float, default=1e-4, help="fp32 parity tolerance on logits")
    parser.add_argument(
        "--fixed-length",
        type=int,
        default=None,
        metavar="N",
        help="export ONNX at one input length N (batch 1); inference.py pads/truncates to it. "
        "Used automatically when ONNX fails parity at some lengths and no other format passes",
    )
    parser.add_argument("--license", help="licence for the model card (default: unknown)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    return parser


def _build(args: argparse.Namespace) -> Bundle:
    """Load SOURCE and build the bundle the arguments ask for."""
    from model_export.bundle import build_bundle, check_output_folder, encode_text
    from model_export.quantization import QuantizationThresholds
    from model_export.sources import load_source

    check_output_folder(args.out.resolve())
    source = load_source(args.source, weights=args.weights, tokenizer=args.tokenizer)
    held_out = None
    if args.eval_text is not None:
        if source.tokenizer_dir is None:
            raise ModelExportError(
                "--eval-text needs a tokenizer; pass --tokenizer or use a run folder"
            )
        try:
            text = args.eval_text.read_text(encoding="utf-8")
        except OSError as exc:
            raise ModelExportError(
                f"cannot read --eval-text {args.eval_text}: {exc.strerror}"
            ) from exc
        except UnicodeDecodeError as exc:
            raise ModelExportError(
                f"--eval-text {args.eval_text} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
                "pass a plain text file saved as UTF-8"
            ) from exc
        held_out = encode_text(source.tokenizer_dir, text)
    return build_bundle(
        source,
        args.out,
        formats=args.formats,
        quantize=args.quantize,
        held_out_ids=held_out,
        held_out_source=str(args.eval_text) if args.eval_text else None,
        thresholds=QuantizationThresholds(args.min_top1, args.max_ppl_increase),
        atol=args.atol,
        license=args.license,
        fixed_length=args.fixed_length,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.ERROR if args.quiet else logging.WARNING, format="%(levelname)s: %(message)s"
    )
    for noisy in ("onnx_ir", "onnxscript", "torch.onnx", "torch._dynamo", "torch.export"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    try:
        with model_prints_to_log():  # the model's own prints (in __init__, forward) are not ours
            bundle = _build(args)
    except Exception as exc:
        from model_adapter import ModelAdapterError
        from model_adapter.user_errors import user_error_message

        message = user_error_message(exc, (ModelExportError, ModelAdapterError))
        if message is None:
            raise
        print(f"model-export: error: {message}", file=sys.stderr)
        return 2
    if not args.quiet:
        report = bundle.report
        for fmt, info in report["formats"].items():
            exporter = info["exporter"] + (
                f", fixed length {info['fixed_length']}" if info.get("fixed_length") else ""
            )
            print(
                f"{fmt:12s} {exporter:24s} max abs diff {info['parity']['max_abs_diff']:.2e}  "
                f"min top-1 {info['parity']['min_top1_agreement']:.2%}"
            )
        for fmt, reason in report.get("left_out", {}).items():
            print(f"{fmt:12s} left out ({reason})")
        for kind, q in report["quantization"].items():
            detail = f" ({q['reason']})" if q.get("reason") else ""
            print(f"{kind:12s} {q['status']}{detail}")
        print(f"bundle written to {bundle.path} (inference.py runs {report['inference']['model']})")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
