"""`lightning-pipeline train ...`, `resume RUN_DIR ...` and `generate RUN_DIR --prompt TEXT`.

Argument parsing and printing only; the work is `train()` and `generate()`. The `train` and
`resume` flags are generated from `TrainingConfig`'s fields (`config_flags`), so every default
and derived value lives in the config, never here. The package's own
errors become one line on stderr and exit status 2; anything else keeps its traceback (a bug).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from lightning_pipeline.errors import LightningPipelineError


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag in one line (exit 2) instead of usage + error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be a positive integer")
    return value


def build_parser() -> argparse.ArgumentParser:
    from lightning_pipeline.config import TrainingConfig
    from lightning_pipeline.config_flags import add_config_flags

    parser = _Parser(prog="lightning-pipeline", description="Train and sample language models.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = sub.add_parser(
        "train",
        help="train a model (resumes when the run folder already holds the same run)",
        description="Every flag is a TrainingConfig field; --config FILE gives a base that flags override.",
    )
    train.add_argument(
        "--config",
        metavar="FILE",
        help="YAML or JSON file of TrainingConfig fields "
        "(the shape of run.json's config, or a whole run.json); flags override it",
    )
    train.add_argument(
        "--overwrite",
        action="store_true",
        help="when --out holds a different run, move it aside (to OUT.replaced-TIME) and start anew",
    )
    add_config_flags(train, TrainingConfig)

    resume = sub.add_parser(
        "resume",
        help="continue a run from its run.json, changing only the flags given",
        description="Continue RUN_DIR with the config in its run.json; flags (e.g. --max-steps 600) change fields.",
    )
    resume.add_argument("run_dir", metavar="RUN_DIR", help="a run folder (holds run.json)")
    add_config_flags(resume, TrainingConfig, exclude=("out",))

    gen = sub.add_parser("generate", help="sample text from a trained run folder")
    add_sampling_arguments(gen)
    return parser


def _with_length(base: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """`given` laid over `base`; a length flag (--max-steps or --max-epochs) replaces the base's length."""
    values = {**base, **given}
    if "max_steps" in given and "max_epochs" not in given:
        values["max_epochs"] = None
    elif "max_epochs" in given and "max_steps" not in given:
        values["max_steps"] = -1
    return values


def add_sampling_arguments(gen: argparse.ArgumentParser) -> None:
    """The `generate` subcommand's flags; the same names and defaults as a bundle's inference.py.

    Values are checked by `SamplingSettings.problem()`, the one place both front ends share.
    """
    gen.add_argument("run_dir", help="a run folder written by `lightning-pipeline train --out`")
    gen.add_argument(
        "--prompt", required=True, help="text to continue (echoed before the continuation)"
    )
    gen.add_argument(
        "--max-new-tokens", type=int, default=50, help="tokens to add at most (default 50)"
    )
    gen.add_argument("--temperature", type=float, default=1.0, help="0 = greedy (default 1.0)")
    gen.add_argument(
        "--top-k", type=int, default=50, help="keep the k most likely tokens; 0 = all (default 50)"
    )
    gen.add_argument(
        "--top-p",
        type=float,
        default=1.0,
        help="keep the most likely tokens up to this probability mass (default 1.0 = all)",
    )
    gen.add_argument(
        "--repetition-penalty",
        type=float,
        default=1.0,
        help="> 1 discourages tokens already seen (default 1.0 = none)",
    )
    gen.add_argument(
        "--num-samples", type=int, default=1, help="independent continuations (default 1)"
    )
    gen.add_argument(
        "--seed",
        type=int,
        default=None,
        help="makes sampling repeatable (default: a fresh seed, printed)",
    )
    gen.add_argument(
        "--stop",
        action="append",
        default=[],
        metavar="TEXT",
        help="stop when the continuation contains TEXT (repeatable); the text is cut before it",
    )
    gen.add_argument(
        "--no-stop-at-eos", action="store_true", help="keep going past the end-of-text token"
    )
    gen.add_argument(
        "--json", action="store_true", help="print one JSON object (token ids, texts, stop reasons)"
    )
    gen.add_argument("--device", default="cpu")


def _generate(args: argparse.Namespace) -> int:
    import json

    from lightning_pipeline.generate import generate_samples

    with contextlib.redirect_stdout(
        sys.stderr
    ):  # the model's own prints are not the generated text
        samples = generate_samples(
            args.run_dir,
            args.prompt,
            max_new_tokens=args.max_new_tokens,
            temperature=args.temperature,
            top_k=args.top_k if args.top_k else None,
            top_p=args.top_p,
            repetition_penalty=args.repetition_penalty,
            num_samples=args.num_samples,
            seed=args.seed,
            stop_at_eos=not args.no_stop_at_eos,
            stop=tuple(args.stop),
            device=args.device,
        )
    if args.json:
        print(
            json.dumps(
                {
                    "prompt": args.prompt,
                    "seed": samples[0].seed,
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
        print(args.prompt + sample.text)
        print(
            f"[{len(sample.token_ids)} new tokens; stopped at {sample.stop_reason}]",
            file=sys.stderr,
        )
    if args.seed is None and args.temperature > 0:
        print(f"[seed {samples[0].seed}: pass --seed {samples[0].seed} to repeat]", file=sys.stderr)
    return 0


def config_from_args(args: argparse.Namespace) -> Any:
    """The `TrainingConfig` of a `train` or `resume` command line: file or run.json, then the flags."""
    from lightning_pipeline.config import TrainingConfig, load_config_file
    from lightning_pipeline.config_flags import given_values

    given = given_values(args, TrainingConfig)
    if args.command == "resume":
        from lightning_pipeline.run_folder import RunFolder

        stored = RunFolder.open(args.run_dir).read_run_json().get("config", {})
        base = {k: v for k, v in stored.items() if k in TrainingConfig.__dataclass_fields__}
        base["out"] = str(args.run_dir)  # the folder may have been moved since
    else:
        base = load_config_file(args.config) if args.config else {}
    return TrainingConfig.from_dict(_with_length(base, given))


EXIT_INTERRUPTED = 130  # what a shell reports for a program ended by Ctrl-C (128 + SIGINT)


def resume_command(argv: Sequence[str]) -> str:
    """The command line that resumes this run: the same one, without `--overwrite`."""
    import shlex

    kept = [arg for arg in argv if arg != "--overwrite"]
    return shlex.join(["lightning-pipeline", *kept])


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        if args.command in ("train", "resume"):
            from lightning_pipeline.train import train

            config = config_from_args(args)
            try:
                result = train(config, overwrite=bool(getattr(args, "overwrite", False)))
            except KeyboardInterrupt:  # before or after the Trainer ran (it handles its own)
                result = None
            bpb = (
                f", {result.val_bits_per_byte:.3f} bits per byte"
                if result is not None and result.val_bits_per_byte
                else ""
            )
            if result is not None and result.already_complete:
                print(
                    f"already complete: {result.run_dir} holds this finished run (step {result.global_step}, "
                    f"val loss {result.val_loss:.4f}{bpb}); nothing was trained or evaluated. Sample it: "
                    f"lightning-pipeline generate {result.run_dir} --prompt TEXT"
                )
                return 0
            if result is not None and result.status == "completed":
                print(
                    f"done: step {result.global_step}, val loss {result.val_loss:.4f}, "
                    f"perplexity {result.val_perplexity:.2f}{bpb}, run folder {result.run_dir}"
                )
                return 0
            step = f" at step {result.global_step}" if result is not None else ""
            print(
                f"interrupted{step}; the checkpoints are kept. To resume, run:\n  {resume_command(argv)}"
            )
            return EXIT_INTERRUPTED
        return _generate(args)
    except Exception as error:
        from model_adapter.user_errors import user_error_message

        message = user_error_message(error, _user_errors())
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 2


def _user_errors() -> tuple[type[Exception], ...]:
    """Errors that mean bad input (print one line, exit 2): ours and the sibling packages'."""
    return (LightningPipelineError, *_sibling_errors())


def _sibling_errors() -> tuple[type[Exception], ...]:
    """The sibling packages' error bases: a bad model or tokenizer is the user's input, not a bug."""
    found: list[type[Exception]] = []
    try:
        from model_adapter import ModelAdapterError

        found.append(ModelAdapterError)
    except ImportError:  # pragma: no cover - declared dependency
        pass
    try:
        from adaptive_tokenizer import AdaptiveTokenizerError

        found.append(AdaptiveTokenizerError)
    except ImportError:  # pragma: no cover - declared dependency
        pass
    return tuple(found)


if __name__ == "__main__":
    sys.exit(main())
