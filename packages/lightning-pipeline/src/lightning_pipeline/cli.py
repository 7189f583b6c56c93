"""`lightning-pipeline train ...` and `lightning-pipeline generate RUN_DIR --prompt TEXT`.

Argument parsing and printing only; the work is `train()` and `generate()`. The package's own
errors become one line on stderr and exit status 2; anything else keeps its traceback (a bug).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from lightning_pipeline.errors import LightningPipelineError


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be a positive integer")
    return value


def _devices(text: str) -> int | str:
    return int(text) if text.isdigit() else text


def build_parser() -> argparse.ArgumentParser:
    from lightning_pipeline.config import PRECISIONS, SCHEDULES, TrainingConfig

    defaults = TrainingConfig.__dataclass_fields__
    parser = argparse.ArgumentParser(prog="lightning-pipeline", description="Train and sample language models.")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a model (resumes when RUN_DIR already holds a checkpoint)")
    train.add_argument("--model", required=True, help="folder with model.py + config.json, a model.py, or a Gist")
    train.add_argument("--data", default="example", help="'example', a local file/folder, or a HF Hub dataset name")
    train.add_argument("--out", required=True, help="the run folder (created; resumed when it exists)")
    length = train.add_mutually_exclusive_group()
    length.add_argument("--max-steps", type=_positive_int, help="optimizer steps to train for")
    length.add_argument("--max-epochs", type=_positive_int, help="epochs to train for")
    train.add_argument("--batch-size", type=_positive_int, default=defaults["batch_size"].default)
    train.add_argument("--seq-len", type=_positive_int, default=defaults["seq_len"].default)
    train.add_argument("--lr", type=float, default=defaults["lr"].default)
    train.add_argument("--warmup-steps", type=int, default=defaults["warmup_steps"].default)
    train.add_argument("--schedule", choices=SCHEDULES, default=defaults["schedule"].default)
    train.add_argument("--weight-decay", type=float, default=defaults["weight_decay"].default)
    train.add_argument("--grad-clip", type=float, default=defaults["grad_clip"].default)
    train.add_argument("--accumulate", type=_positive_int, default=1, help="gradient accumulation batches")
    train.add_argument("--label-smoothing", type=float, default=0.0)
    train.add_argument("--eval-every", type=_positive_int, default=None, help="steps between validations")
    train.add_argument("--checkpoint-every", type=_positive_int, default=None, help="steps between checkpoints")
    train.add_argument("--keep-last", type=_positive_int, default=defaults["keep_last"].default)
    train.add_argument("--early-stopping-patience", type=_positive_int, default=None)
    train.add_argument("--log-every", type=_positive_int, default=None)
    train.add_argument("--limit-val-batches", type=float, default=None, help="fraction (<=1) or number of val batches")
    train.add_argument("--precision", choices=PRECISIONS, default="auto")
    train.add_argument("--accelerator", default="auto", help="cpu, gpu, auto")
    train.add_argument("--devices", type=_devices, default="auto")
    train.add_argument("--strategy", default="auto", help="auto, ddp, fsdp, ... (Lightning strategies)")
    train.add_argument("--compile", action="store_true", help="torch.compile the model")
    train.add_argument("--no-causal-repair", action="store_true",
                       help="do not inject a causal mask; a model that sees the future is then refused")
    train.add_argument("--no-packing", action="store_true", help="pad each text instead of packing blocks")
    train.add_argument("--text-column", default=None)
    train.add_argument("--data-config", default=None, help="HF dataset configuration name")
    train.add_argument("--model-name", default=None, help="class name in model.py when there are several")
    train.add_argument("--tokenizer-strategy", default="auto")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--num-workers", type=int, default=0)
    train.add_argument("--no-progress-bar", action="store_true")

    gen = sub.add_parser("generate", help="sample text from a trained run folder")
    gen.add_argument("run_dir")
    gen.add_argument("--prompt", required=True)
    gen.add_argument("--max-new-tokens", type=_positive_int, default=50)
    gen.add_argument("--temperature", type=float, default=1.0, help="0 = greedy")
    gen.add_argument("--top-k", type=_positive_int, default=50)
    gen.add_argument("--seed", type=int, default=None)
    gen.add_argument("--device", default="cpu")
    return parser


def _config_from_args(args: argparse.Namespace):
    from lightning_pipeline.config import TrainingConfig

    base: dict = {}
    values = dict(
        model=args.model, data=args.data, out=args.out, batch_size=args.batch_size, seq_len=args.seq_len,
        lr=args.lr, warmup_steps=args.warmup_steps, schedule=args.schedule, weight_decay=args.weight_decay,
        grad_clip=args.grad_clip if args.grad_clip and args.grad_clip > 0 else None,
        accumulate_grad_batches=args.accumulate, label_smoothing=args.label_smoothing,
        keep_last=args.keep_last, early_stopping_patience=args.early_stopping_patience,
        precision=args.precision, accelerator=args.accelerator, devices=args.devices, strategy=args.strategy,
        compile=args.compile, packing=not args.no_packing, repair_causal_leak=not args.no_causal_repair, text_column=args.text_column,
        data_config_name=args.data_config, model_name=args.model_name,
        tokenizer_strategy=args.tokenizer_strategy, seed=args.seed, num_workers=args.num_workers,
        progress_bar=not args.no_progress_bar,
    )
    if args.max_steps:
        values["max_steps"], values["max_epochs"] = args.max_steps, None
    elif args.max_epochs:
        values["max_steps"], values["max_epochs"] = -1, args.max_epochs
    elif "max_steps" not in base and "max_epochs" not in base:
        values["max_epochs"] = 1
    steps = args.max_steps or 0
    # Short runs validate and checkpoint proportionally more often (10 times per run, at most every 100 steps).
    cadence = max(1, min(100, steps // 10)) if steps else 100
    values["eval_every"] = args.eval_every or base.get("eval_every", cadence)
    values["checkpoint_every"] = args.checkpoint_every or base.get("checkpoint_every", cadence)
    values["log_every"] = args.log_every or base.get("log_every", max(1, min(10, cadence)))
    if args.warmup_steps == TrainingConfig.__dataclass_fields__["warmup_steps"].default and steps:
        values["warmup_steps"] = min(args.warmup_steps, max(1, steps // 10))
    if args.limit_val_batches is not None:
        lv = args.limit_val_batches
        values["limit_val_batches"] = int(lv) if lv > 1 else lv
    return TrainingConfig.from_dict({**base, **values})


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        if args.command == "train":
            from lightning_pipeline.train import train

            config = _config_from_args(args)
            result = train(config)
            if result.status == "completed":
                print(
                    f"done: step {result.global_step}, val loss {result.val_loss:.4f}, "
                    f"perplexity {result.val_perplexity:.2f}, run folder {result.run_dir}"
                )
            else:
                print(f"interrupted at step {result.global_step}; run the same command again to resume")
            return 0
        from lightning_pipeline.generate import generate

        text = generate(
            args.run_dir, args.prompt, max_new_tokens=args.max_new_tokens, temperature=args.temperature,
            top_k=args.top_k, seed=args.seed, device=args.device,
        )
        print(text)
        return 0
    except _user_errors() as error:
        print(f"error: {error}", file=sys.stderr)
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
