"""`adaptive-tokenizer create|validate`: argument parsing and printing only; the library does the work.

Bad input prints one line to stderr and exits 2; a tokenizer that fails validation exits 1.
The output folder is written to a temporary sibling and renamed at the end, so a failed run
never leaves a half-written or overwritten `--out`.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from .errors import AdaptiveTokenizerError

__all__ = ["main"]

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
STRATEGIES = ("auto", "pretrained", "bpe", "character", "upload")


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line (not the usage block) and exits 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _vocab_size(value: str) -> int:
    try:
        size = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"vocab size must be an integer, got {value!r}") from None
    if size <= 0:
        raise argparse.ArgumentTypeError(
            f"vocab size must be positive (the model's embedding rows), got {size}"
        )
    return size


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="adaptive-tokenizer",
        description="Build or check a tokenizer whose size equals a model's vocab size.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every step")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    create = commands.add_parser(
        "create", help="build a tokenizer and save it with save_pretrained"
    )
    create.add_argument(
        "--vocab-size", type=_vocab_size, required=True, help="the model's vocab size"
    )
    create.add_argument("--data", nargs="+", default=[], metavar="PATH", help="UTF-8 text files")
    create.add_argument("--out", required=True, type=Path, help="new (or empty) folder to write")
    create.add_argument("--strategy", choices=STRATEGIES, default="auto")
    create.add_argument(
        "--tokenizer",
        nargs="+",
        metavar="PATH",
        help="upload: a folder, a tokenizer.json, or vocab.json + merges.txt",
    )
    create.add_argument(
        "--pretrained", help="a Hub repo id or local folder instead of the known table"
    )
    create.add_argument("--cache-dir", type=Path, help="Hub downloads and trained tokenizers")
    create.add_argument("--min-frequency", type=int, default=2, help="BPE: least count of a merge")
    create.add_argument("--offline", action="store_true", help="never contact the Hugging Face Hub")

    validate = commands.add_parser("validate", help="check a saved tokenizer against a vocab size")
    validate.add_argument("path", type=Path, help="folder written by save_pretrained")
    validate.add_argument("--vocab-size", type=_vocab_size, required=True)
    validate.add_argument("--sample", help="text for the round-trip check")
    return parser


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise AdaptiveTokenizerError(
            f"--out {str(out)!r} exists and is not an empty folder: pick a new folder"
        )


def _create(args: argparse.Namespace) -> int:
    from .adaptive import AdaptiveTokenizer
    from .data import TextFiles

    _check_out(args.out)
    dataset = TextFiles(args.data) if args.data else None
    tokenizer_path = None
    if args.tokenizer:
        tokenizer_path = args.tokenizer[0] if len(args.tokenizer) == 1 else args.tokenizer
    tokenizer = AdaptiveTokenizer.load_or_create(
        args.vocab_size,
        dataset,
        cache_dir=args.cache_dir,
        strategy=args.strategy,
        tokenizer_path=tokenizer_path,
        pretrained=args.pretrained,
        min_frequency=args.min_frequency,
        local_files_only=args.offline,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{args.out.name}-", dir=args.out.parent))
    try:
        tokenizer.save_pretrained(str(staging))
        _check_out(args.out)  # still free after the (possibly long) build?
        if args.out.exists():
            args.out.rmdir()
        staging.rename(args.out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(f"saved a tokenizer with {len(tokenizer)} tokens to {args.out}")
    return EXIT_OK


def _validate(args: argparse.Namespace) -> int:
    from .upload import load_tokenizer_files
    from .validator import DEFAULT_SAMPLE_TEXT, TokenizerValidator

    if not args.path.is_dir():
        raise AdaptiveTokenizerError(
            f"{str(args.path)!r} is not a folder: pass a save_pretrained folder"
        )
    tokenizer = load_tokenizer_files(args.path)
    report = TokenizerValidator.validate(
        tokenizer, args.vocab_size, sample_text=args.sample or DEFAULT_SAMPLE_TEXT
    )
    print(report.to_text())
    return EXIT_OK if report.passed else EXIT_INVALID


def main(argv: Sequence[str] | None = None) -> int:
    # transformers advises on import that PyTorch is absent; a tokenizer never needs it, so the
    # advice would only be noise before our one line. Scoped to this call.
    advisory = os.environ.get(_NO_ADVICE)
    os.environ[_NO_ADVICE] = "1"
    try:
        return _main(argv)
    finally:
        if advisory is None:
            os.environ.pop(_NO_ADVICE, None)
        else:
            os.environ[_NO_ADVICE] = advisory


_NO_ADVICE = "TRANSFORMERS_NO_ADVISORY_WARNINGS"


def _main(argv: Sequence[str] | None) -> int:
    args = _build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return _create(args) if args.command == "create" else _validate(args)
    except (AdaptiveTokenizerError, OSError, UnicodeDecodeError) as error:
        message = _user_error_message(error)
        if message is None:
            raise
        print(f"adaptive-tokenizer: error: {message}", file=sys.stderr)
        return EXIT_USAGE


def _user_error_message(error: BaseException) -> str | None:
    """One line for errors the user can fix, None for a bug.

    The other CLIs share `model_adapter.user_errors.user_error_message`; this package may not
    depend on model-adapter, so it keeps this minimal copy of the parts a tokenizer run meets
    (a full disk, a folder it cannot write, a data file that is not UTF-8).
    """
    import errno

    if isinstance(error, AdaptiveTokenizerError):
        return str(error)
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"the disk is full while writing {error.filename or 'the tokenizer'}: free some space or choose --out on another disk"
    if isinstance(error, OSError) and error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"cannot write {error.filename or 'the output'} ({error.strerror}): choose an --out folder you can write to"
    if isinstance(error, OSError) and error.filename:  # a path that cannot be made or opened
        return (
            f"{error.strerror or error}: {error.filename}; check the path, or choose another --out"
        )
    if isinstance(error, UnicodeDecodeError):
        return f"a data file is not UTF-8 text ({error.reason} at byte {error.start}): pass text files saved as UTF-8"
    return None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
