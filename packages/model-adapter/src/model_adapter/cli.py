"""`model-adapter`: inspect and validate a model from the shell.

    model-adapter inspect PATH
    model-adapter validate PATH [--json] [--seq-len N] [--no-causal] [--batch-size N] [--quick] [--strict]
    model-adapter analyze MODEL_OR_RUN_DIR [--out report.html] [--json] [--sections a,b] [--text FILE]

PATH is anything `load_model` takes: a folder with model.py + config.json, a model.py, or a
Gist ID/URL. Exit status: 0 when no check failed (warnings allowed; `--strict`: no warnings
either), 1 otherwise, 2 for bad input (the package's errors: one line on stderr). Argument parsing and printing only;
the work is `load_model`, `inspect_model` and `validate_model`.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Sequence

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
        sub.add_argument(
            "path", help="folder with model.py + config.json, a model.py, or a Gist ID/URL"
        )
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
    _add_probe_options(
        validate_cmd,
        "validate",
        seq_len="probe length (default: max_seq_len, at most 256)",
        batch_size=(2, "probe batch size (default 2)"),
    )
    validate_cmd.add_argument(
        "--quick", action="store_true", help="skip the memory and speed measurements"
    )
    validate_cmd.add_argument("--strict", action="store_true", help="exit 1 on warnings too")
    _add_analyze(commands, add_source)
    return parser


def _add_analyze(
    commands: argparse._SubParsersAction, add_source: Callable[[argparse.ArgumentParser], None]
) -> None:
    from model_adapter.analysis.analyze import SECTIONS

    analyze_cmd = commands.add_parser(
        "analyze",
        help="Tier 2 analysis (attention, context use, attribution, robustness, representations)",
        description="PATH may also be a training run folder (run.json + model/): its final weights are analysed "
        "and each weight's drift from the first checkpoint is reported.",
    )
    add_source(analyze_cmd)
    analyze_cmd.add_argument("--out", help="write the report as one self-contained HTML page here")
    analyze_cmd.add_argument(
        "--json", action="store_true", help="print the report as JSON instead of the summary"
    )
    analyze_cmd.add_argument(
        "--sections",
        type=_section_list,
        default=None,
        help=f"comma-separated sections to run (default: all of {','.join(SECTIONS)})",
    )
    analyze_cmd.add_argument(
        "--text",
        help="a UTF-8 text file to probe with (needs --tokenizer or a run folder's tokenizer/)",
    )
    analyze_cmd.add_argument(
        "--tokenizer", help="tokenizer folder for --text (Hugging Face save_pretrained output)"
    )
    _add_probe_options(
        analyze_cmd,
        "analyse",
        seq_len="probe window length (default: max_seq_len, at most 128)",
        batch_size=(16, "probe windows (default 16)"),
    )


def _add_probe_options(
    command: argparse.ArgumentParser, verb: str, *, seq_len: str, batch_size: tuple[int, str]
) -> None:
    """--seq-len, --batch-size, --no-causal and --device, which validate and analyze share."""
    command.add_argument("--seq-len", type=_positive_int, help=seq_len)
    command.add_argument(
        "--batch-size", type=_positive_int, default=batch_size[0], help=batch_size[1]
    )
    command.add_argument(
        "--no-causal",
        action="store_true",
        help=f"{verb} the model as written, without the adapter's causal mask",
    )
    command.add_argument("--device", help=f"torch device to {verb} on (default: cpu)")


def _section_list(text: str) -> list[str]:
    from model_adapter.analysis.analyze import SECTIONS

    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in SECTIONS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown section(s) {unknown or text!r}; choose from {','.join(SECTIONS)}"
        )
    return names


def _inspect(args: argparse.Namespace) -> int:
    from model_adapter.inspection import inspect_model
    from model_adapter.loading import load_model

    with contextlib.redirect_stdout(sys.stderr):  # the model's own prints are not our output
        model, config = load_model(args.path, model_name=args.model_name)
        text = inspect_model(model, config).to_text()
    print(text)
    return EXIT_PASSED


def _validate(args: argparse.Namespace) -> int:
    from model_adapter.loading import load_model
    from model_adapter.validation import validate_model

    with contextlib.redirect_stdout(sys.stderr):  # a print in the model must not break --json
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


def _analyze(args: argparse.Namespace) -> int:
    from pathlib import Path

    from model_adapter.analysis import analyze_model
    from model_adapter.analysis.run_weights import is_run_folder, load_run_model
    from model_adapter.errors import ModelLoadError
    from model_adapter.loading import load_model

    out = Path(args.out) if args.out else None
    if out is not None and (out.is_dir() or not out.parent.is_dir()):
        raise ModelLoadError(f"--out {out}: give a file path in an existing folder")
    source = Path(args.path)
    run_dir = source if source.is_dir() and is_run_folder(source) else None
    if run_dir is not None:
        model, config, weights = load_run_model(run_dir)
        print(f"run folder {run_dir}: weights from {weights}", file=sys.stderr)
    else:
        model, config = load_model(args.path, model_name=args.model_name)
    texts = tokenizer = None
    if args.text:
        text_path = Path(args.text)
        if not text_path.is_file():
            raise ModelLoadError(f"--text {text_path} is not a file; give a UTF-8 text file")
        tokenizer_dir = (
            Path(args.tokenizer) if args.tokenizer else (run_dir / "tokenizer" if run_dir else None)
        )
        tokenizer = _load_tokenizer(tokenizer_dir)
        texts = text_path.read_text(encoding="utf-8", errors="replace")
    report = analyze_model(
        model,
        config,
        texts=texts,
        tokenizer=tokenizer,
        sections=args.sections,
        seq_len=args.seq_len,
        batch_size=args.batch_size,
        causal=not args.no_causal,
        device=args.device,
        run_dir=run_dir,
    )
    if out is not None:
        report.to_html(out)
    print(report.to_json() if args.json else report.to_text())
    if out is not None and not args.json:
        print(f"report: {out}")
    return EXIT_PASSED


def _load_tokenizer(folder: object) -> object:
    """A Hugging Face tokenizer from a save_pretrained folder (transformers is optional here)."""
    from pathlib import Path

    from model_adapter.errors import ModelLoadError

    if not isinstance(folder, Path) or not folder.is_dir():
        raise ModelLoadError(
            "--text needs a tokenizer: pass --tokenizer FOLDER (or analyse a run folder, which has tokenizer/)"
        )
    try:
        from transformers import AutoTokenizer
    except ImportError:
        raise ModelLoadError(
            "--text reads the tokenizer with transformers, which is not installed: pip install transformers"
        ) from None
    try:
        return AutoTokenizer.from_pretrained(str(folder))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(
            f"cannot load the tokenizer in {folder}: {str(exc).splitlines()[0]}"
        ) from exc


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `model-adapter` console script; returns the exit status."""
    from model_adapter.errors import ModelAdapterError
    from model_adapter.user_errors import user_error_message

    args = build_parser().parse_args(argv)
    handler = {"inspect": _inspect, "validate": _validate, "analyze": _analyze}[args.command]
    try:
        return handler(args)
    except Exception as exc:
        message = user_error_message(exc, (ModelAdapterError,))
        if message is None:
            raise
        print(f"model-adapter {args.command}: error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
