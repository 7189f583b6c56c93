"""Shape robustness: the model answers [B, T, vocab] for batch 1, odd lengths and the maximum.

Training packs sequences of the maximum length, generation feeds one token at a time and the
last batch of an epoch is short, so a model that only works at the size it was written for
fails later, far from the cause. Beyond the maximum length the model must refuse with a clear
error, not an index error from a position table deep inside.
"""

from __future__ import annotations

from model_adapter.report import CheckResult
from model_adapter.validation.context import ValidationContext, name_list

NAME = "shape_robustness"


def _cases(ctx: ValidationContext) -> list[tuple[int, int]]:
    t = ctx.seq_len
    largest_odd = t if t % 2 else t - 1
    # batch x seq_len itself is what every other check runs; here: the shapes training avoids
    cases = [(1, 1), (1, min(7, largest_odd)), (ctx.batch_size, largest_odd)]
    if ctx.max_seq_len is not None and not ctx.quick:
        cases.append((1, ctx.max_seq_len))
    unique: list[tuple[int, int]] = []
    for case in cases:
        if case[1] >= 1 and case not in unique:
            unique.append(case)
    return unique


def _beyond_maximum(ctx: ValidationContext) -> tuple[str, str]:
    """(outcome, detail) of one input one token longer than max_seq_len."""
    from model_adapter.errors import ModelAdapterError

    assert ctx.max_seq_len is not None
    ids = ctx.random_ids(1, ctx.max_seq_len + 1)
    try:
        ctx.logits(ids)
    except ModelAdapterError as exc:
        return "clear_error", f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # the model's own failure is what this probe measures
        return (
            "obscure_error",
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
        )
    return "accepted", "the model accepts inputs longer than max_seq_len"


def check(ctx: ValidationContext) -> CheckResult:
    vocab = ctx.vocab_size
    passed_cases: list[str] = []
    failures: list[str] = []
    for batch, length in _cases(ctx):
        label = f"{batch}x{length}"
        try:
            logits = ctx.logits(ctx.random_ids(batch, length))
        except Exception as exc:  # a crash at a legal size is the failure this check reports
            failures.append(
                f"{label}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            )
            continue
        expected = (batch, length, vocab)
        if tuple(logits.shape) != expected:
            failures.append(f"{label}: logits shape {tuple(logits.shape)}, expected {expected}")
        else:
            passed_cases.append(label)

    values: dict = {
        "cases_passed": f"{len(passed_cases)}/{len(passed_cases) + len(failures)}",
        "max_seq_len": ctx.max_seq_len,
        "beyond_max": "not probed",
        "shapes": passed_cases,
        "failures": failures,
    }
    if failures:
        return CheckResult(
            NAME,
            "failed",
            values,
            f"fails at {name_list([f.split(':', 1)[0] for f in failures], 3)}: "
            f"{failures[0].split(': ', 1)[1]}",
            "the model must accept input_ids [B, T] for any B >= 1 and 1 <= T <= max_seq_len and "
            "return logits [B, T, vocab_size]; check reshapes that hard-code the batch or length",
        )

    if ctx.max_seq_len is None:
        return CheckResult(NAME, "passed", values, "all probed shapes give [B, T, vocab]")
    if ctx.quick:
        return CheckResult(NAME, "passed", values, "all probed shapes give [B, T, vocab]")

    outcome, detail = _beyond_maximum(ctx)
    values["beyond_max"] = outcome
    values["beyond_max_detail"] = detail
    limit = ctx.max_seq_len
    if outcome == "obscure_error":
        return CheckResult(
            NAME,
            "warning",
            values,
            f"inputs longer than max_seq_len={limit} fail deep inside the model ({detail})",
            f"keep sequences at most {limit} tokens (max_seq_len in config.json); the adapter "
            "should reject longer inputs with a clear message",
        )
    if outcome == "accepted":
        return CheckResult(
            NAME,
            "passed",
            values,
            f"all probed shapes give [B, T, vocab]; the model also accepts T > max_seq_len={limit}",
        )
    return CheckResult(
        NAME,
        "passed",
        values,
        f"all probed shapes give [B, T, vocab]; T > {limit} is refused clearly",
    )
