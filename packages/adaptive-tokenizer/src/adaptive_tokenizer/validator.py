"""Checks that a tokenizer fits a model: size, id range, special tokens, pad, round trip."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .special_tokens import ROLES

__all__ = [
    "DEFAULT_SAMPLE_TEXT",
    "CheckResult",
    "TokenizerValidator",
    "ValidationCheck",
    "ValidationReport",
]

DEFAULT_SAMPLE_TEXT = (
    "Hello, world! The quick brown fox jumps over the lazy dog.\n  1234 + 5678 = 6912"
)


@dataclass(frozen=True)
class CheckResult:
    """One check's verdict; named as model-adapter's Tier 1 `CheckResult`, with `passed` and `message`."""

    name: str
    passed: bool
    message: str
    severity: str = "error"  # "error" fails the report, "warning" does not


@dataclass
class ValidationReport:
    """`passed` is True when no check failed; `errors` / `warnings` say what is wrong and what to do."""

    expected_vocab_size: int
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def failed(self) -> list[CheckResult]:
        """The checks that failed the report (as model-adapter's `ValidationReport.failed`)."""
        return [c for c in self.checks if not c.passed and c.severity == "error"]

    @property
    def errors(self) -> list[str]:
        return [c.message for c in self.checks if not c.passed and c.severity == "error"]

    @property
    def warnings(self) -> list[str]:
        return [c.message for c in self.checks if not c.passed and c.severity == "warning"]

    @property
    def passed(self) -> bool:
        return not self.errors

    def to_text(self) -> str:
        lines = [
            f"tokenizer check for vocab_size {self.expected_vocab_size}: "
            f"{'PASSED' if self.passed else 'FAILED'}"
        ]
        for check in self.checks:
            mark = "ok  " if check.passed else ("FAIL" if check.severity == "error" else "warn")
            lines.append(f"  [{mark}] {check.name}: {check.message}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "expected_vocab_size": self.expected_vocab_size,
            "passed": self.passed,
            "errors": self.errors,
            "warnings": self.warnings,
            "checks": [c.__dict__ for c in self.checks],
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)


# The name this class had before 0.2; kept so that existing imports keep working.
ValidationCheck = CheckResult


class TokenizerValidator:
    """Validates any `transformers` tokenizer against a model's vocab size.

    Example:
        >>> from adaptive_tokenizer import CharacterLevelTokenizer, TokenizerValidator
        >>> tok = CharacterLevelTokenizer().train(["abc"], vocab_size=10)
        >>> TokenizerValidator.validate(tok, 10, sample_text="cab").passed
        True
    """

    @staticmethod
    def validate(
        tokenizer: Any,
        expected_vocab_size: int,
        *,
        sample_text: str = DEFAULT_SAMPLE_TEXT,
        require_round_trip: bool = True,
    ) -> ValidationReport:
        """Run every check; never raises for a bad tokenizer (read `report.errors`).

        `require_round_trip=False` turns a lossy round trip (e.g. BERT lowercasing) into a warning.
        """
        report = ValidationReport(expected_vocab_size)
        add = report.checks.append
        size = len(tokenizer)
        fix = f"rebuild it with AdaptiveTokenizer.load_or_create({expected_vocab_size}, ...)"
        add(
            CheckResult(
                "size",
                size == expected_vocab_size,
                f"{size} tokens"
                if size == expected_vocab_size
                else f"tokenizer has {size} tokens but the model's vocab is {expected_vocab_size}: "
                f"{fix}, or build the model with vocab_size={size}",
            )
        )

        vocab = tokenizer.get_vocab()
        too_big = sorted((i, t) for t, i in vocab.items() if i >= expected_vocab_size)
        add(
            CheckResult(
                "id_range",
                not too_big,
                f"all ids below {expected_vocab_size}"
                if not too_big
                else f"{len(too_big)} tokens have ids >= {expected_vocab_size} (e.g. {too_big[0][1]!r} = "
                f"{too_big[0][0]}): they would index past the embedding; {fix}",
            )
        )

        missing = []
        for role in ROLES:
            token, token_id = (
                getattr(tokenizer, f"{role}_token", None),
                getattr(tokenizer, f"{role}_token_id", None),
            )
            if token is None or token_id is None:
                missing.append(f"no {role} token (set tokenizer.{role}_token to an existing token)")
            elif token_id >= expected_vocab_size or vocab.get(str(token)) != token_id:
                missing.append(
                    f"{role} token {str(token)!r} has id {token_id}, not a vocab id below "
                    f"{expected_vocab_size}"
                )
        add(
            CheckResult(
                "special_tokens",
                not missing,
                ", ".join(f"{r}={getattr(tokenizer, f'{r}_token_id', None)}" for r in ROLES)
                if not missing
                else "; ".join(missing) + f"; or {fix}",
            )
        )

        pad_id = getattr(tokenizer, "pad_token_id", None)
        pad_message = f"pad id {pad_id}"
        pad_ok = pad_id is not None and pad_id < expected_vocab_size
        if pad_ok:
            texts = ["", sample_text]
            plain_lengths = [len(ids) for ids in tokenizer(texts)["input_ids"]]
            batch = tokenizer(texts, padding=True)["input_ids"]
            padded_ok = len(batch[0]) == len(batch[1]) and (
                plain_lengths[0] == plain_lengths[1] or pad_id in batch[0]
            )
            if not padded_ok:
                pad_ok, pad_message = (
                    False,
                    f"padding a batch did not use the pad id {pad_id}: set padding_side and pad_token",
                )
        else:
            pad_message = "no usable pad token: set tokenizer.pad_token to an existing token (e.g. eos); adding a new one grows the vocab"
        add(CheckResult("pad_token", pad_ok, pad_message))

        ids = tokenizer(sample_text)["input_ids"]
        bad_ids = [i for i in ids if not 0 <= i < expected_vocab_size]
        add(
            CheckResult(
                "encoded_ids",
                not bad_ids,
                f"{len(ids)} ids, max {max(ids, default=0)}"
                if not bad_ids
                else f"encoding the sample produced ids {bad_ids[:5]} outside [0, {expected_vocab_size}): {fix}",
            )
        )

        plain = tokenizer(sample_text, add_special_tokens=False)["input_ids"]
        decoded = tokenizer.decode(
            plain, skip_special_tokens=False, clean_up_tokenization_spaces=False
        )
        unk_id = getattr(tokenizer, "unk_token_id", None)
        if decoded == sample_text:
            add(CheckResult("round_trip", True, "decode(encode(sample)) == sample"))
        elif unk_id is not None and unk_id in plain:
            add(
                CheckResult(
                    "round_trip",
                    False,
                    f"the sample has characters outside the vocab (they became {tokenizer.unk_token!r}): "
                    "fine for a character-level vocab, else train on data that has them",
                    severity="warning",
                )
            )
        else:
            add(
                CheckResult(
                    "round_trip",
                    False,
                    f"decode(encode(sample)) gives {decoded[:60]!r} instead of {sample_text[:60]!r}: "
                    "the tokenizer normalizes or loses text; check its normalizer/decoder",
                    severity="error" if require_round_trip else "warning",
                )
            )
        return report
