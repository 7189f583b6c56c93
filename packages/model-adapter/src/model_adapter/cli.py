"""`model-adapter`: inspect and validate a model from the shell.

    model-adapter inspect PATH
    model-adapter validate PATH [--json] [--seq-len N] [--no-causal] [--batch-size N] [--quick] [--strict]

PATH is anything `load_model` takes: a folder with model.py + config.json, a model.py, or a
Gist ID/URL. Exit status: 0 when no check failed (warnings allowed; `--strict`: no warnings
either), 1 otherwise, 2 for bad input (the package's errors: one line on stderr). Argument parsing and printing only;
the work is `load_model`, `inspect_model` and `validate_model`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

EXIT_PASSED = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (exit 2) like every other bad input."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog="model-adapter",
        description="Inspect and validate PyTorch language models (Transformer Builder exports included).",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_OneLineParser)

    def add_source(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("path", help="folder with model.py + config.json, a model.py, or a Gist ID/URL")
        sub.add_argument("--model-name", help="class to load when model.py defines several")

    inspect_cmd = commands.add_parser(
        "inspect", help="signature analysis, recovered graph and the repairs the adapter applies"
    )
    add_source(inspect_cmd)

    validate_cmd = commands.add_parser(
        "validate", help="Tier 1 validation; exit 0 only when no check fails"
    )
    add_source(validate_cmd)
    validate_cmd.add_argument("--json", action="store_true", help="print the report as JSON")
    validate_cmd.add_argument("--seq-len", type=_positive_int, help="probe length (default: max_seq_len, at most 256)")
    validate_cmd.add_argument("--batch-size", type=_positive_int, default=2, help="probe batch size (default 2)")
    validate_cmd.add_argument(
        "--no-causal", action="store_true",
        help="validate the model as written, without the adapter's causal mask",
    )
    validate_cmd.add_argument("--quick", action="store_true", help="skip the memory and speed measurements")
    validate_cmd.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    validate_cmd.add_argument("--device", help="torch device to validate on (default: cpu)")
    return parser


def _inspect(args: argparse.Namespace) -> int:
    from model_adapter.inspection import inspect_model
    from model_adapter.loading import load_model

    model, config = load_model(args.path, model_name=args.model_name)
    print(inspect_model(model, config).to_text())
    return EXIT_PASSED


def _validate(args: argparse.Namespace) -> int:
    from model_adapter.loading import load_model
    from model_adapter.validation import validate_model

    model, config = load_model(args.path, model_name=args.model_name)
    report = validate_model(
        model,
        config,
        seq_len=args.seq_len,
        batch_size=args.batch_size,
        causal=not args.no_causal,
        quick=args.quick,
        device=args.device,
    )
    print(report.to_json() if args.json else report.to_text())
    clean = report.passed and not (args.strict and report.warnings)
    return EXIT_PASSED if clean else EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `model-adapter` console script; returns the exit status."""
    from model_adapter.errors import ModelAdapterError

    args = build_parser().parse_args(argv)
    handler = {"inspect": _inspect, "validate": _validate}[args.command]
    try:
        return handler(args)
    except ModelAdapterError as exc:
        print(f"model-adapter {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
