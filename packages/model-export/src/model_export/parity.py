"""Parity between an exported artifact and the PyTorch model, measured over several shapes.

One allclose on one 2x16 input hides the usual export bugs: a batch or sequence axis frozen at
the example's size, or a causal mask baked as a constant. So each artifact is run at batch 1 and
more, at short and long sequences (up to the model's maximum), and every shape gets its own
numbers: max absolute difference, max relative difference and top-1 agreement.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from model_export.errors import ParityError, clean_error_text

DEFAULT_ATOL = 1e-4
"""fp32 tolerance on logits: fused kernels reorder sums, they do not change results beyond this."""

LogitsFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class ShapeParity:
    """The comparison at one `(batch, seq_len)`.

    `max_rel_diff` is `max(|ours - ref| / (|ref| + atol))`: relative where logits are large,
    guarded by the tolerance where they are near zero.
    """

    batch: int
    seq_len: int
    max_abs_diff: float
    max_rel_diff: float
    top1_agreement: float
    passed: bool
    error: str | None = None

    @property
    def shape(self) -> str:
        return f"{self.batch}x{self.seq_len}"


@dataclass
class ParityReport:
    """Per-shape parity of one artifact (`fmt`) made by one exporter path (`exporter`)."""

    fmt: str
    exporter: str
    atol: float
    rtol: float
    shapes: list[ShapeParity] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.shapes) and all(s.passed for s in self.shapes)

    @property
    def worst(self) -> ShapeParity | None:
        """The failed shape if any (by error, then largest difference), else the largest difference."""
        if not self.shapes:
            return None
        return max(
            self.shapes,
            key=lambda s: (not s.passed, s.error is not None, s.max_abs_diff),
        )

    @property
    def max_abs_diff(self) -> float:
        return max((s.max_abs_diff for s in self.shapes), default=float("nan"))

    @property
    def min_top1_agreement(self) -> float:
        return min((s.top1_agreement for s in self.shapes), default=float("nan"))

    def summary(self) -> str:
        worst = self.worst
        state = "passed" if self.passed else "FAILED"
        if worst is None:
            return f"{self.fmt} ({self.exporter}): no shapes checked"
        detail = (
            _first_line(worst.error)
            if worst.error
            else (f"max abs diff {worst.max_abs_diff:.3g}, top-1 {worst.top1_agreement:.2%}")
        )
        return (
            f"{self.fmt} ({self.exporter}) parity {state} over {len(self.shapes)} shapes; "
            f"worst shape batch={worst.batch} seq={worst.seq_len}: {detail} (atol {self.atol:g})"
        )

    def raise_if_failed(self) -> None:
        """Raise :class:`ParityError` naming the worst shape when any shape failed."""
        if not self.passed:
            raise ParityError(
                self.summary() + "; the export is not trustworthy: see the per-shape report",
                report=self,
            )

    def to_dict(self) -> dict:
        return {
            "format": self.fmt,
            "exporter": self.exporter,
            "atol": self.atol,
            "rtol": self.rtol,
            "passed": self.passed,
            "max_abs_diff": self.max_abs_diff,
            "min_top1_agreement": self.min_top1_agreement,
            "shapes": [asdict(s) for s in self.shapes],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_markdown(self) -> str:
        lines = [
            "| shape (batch x seq) | max abs diff | max rel diff | top-1 agreement | passed |",
            "|---|---|---|---|---|",
        ]
        for s in self.shapes:
            lines.append(
                f"| {s.shape} | {s.max_abs_diff:.2e} | {s.max_rel_diff:.2e} | "
                f"{s.top1_agreement:.2%} | {'yes' if s.passed else 'no: ' + (_first_line(s.error) if s.error else 'beyond tolerance')} |"
            )
        return "\n".join(lines)


def default_parity_shapes(
    max_seq_len: int | None, *, example_seq_len: int | None = None
) -> list[tuple[int, int]]:
    """Batch 1 and more, short and long sequences, the longest at the model's maximum.

    The list always holds sequence lengths other than `example_seq_len`, the length the export
    traced: a mask baked from that length as a constant fails at every other one.
    """
    longest = max_seq_len or 128
    short = min(5, longest)
    middle = max(1, min(longest - 1, longest // 2 + 3))
    shapes = [(1, 1), (1, short), (3, middle), (2, longest), (1, longest)]
    if example_seq_len is not None:
        shapes.append((2, min(example_seq_len, longest)))
    unique: list[tuple[int, int]] = []
    for shape in shapes:
        if shape not in unique:
            unique.append(shape)
    return unique


def compare_logits(
    reference: np.ndarray, candidate: np.ndarray, *, atol: float, rtol: float = 0.0
) -> tuple[float, float, float, bool]:
    """`(max_abs_diff, max_rel_diff, top1_agreement, passed)` of two `[B, T, V]` logits arrays."""
    reference = np.asarray(reference, dtype=np.float64)
    candidate = np.asarray(candidate, dtype=np.float64)
    if reference.shape != candidate.shape:
        raise ValueError(f"shape {candidate.shape} differs from the reference {reference.shape}")
    diff = np.abs(candidate - reference)
    finite = bool(np.isfinite(candidate).all())
    max_abs = float(diff.max()) if diff.size else 0.0
    max_rel = float((diff / (np.abs(reference) + atol)).max()) if diff.size else 0.0
    top1 = float((reference.argmax(-1) == candidate.argmax(-1)).mean()) if diff.size else 1.0
    passed = finite and bool((diff <= atol + rtol * np.abs(reference)).all())
    return max_abs, max_rel, top1, passed


def random_token_ids(batch: int, seq_len: int, vocab_size: int, *, seed: int = 0) -> np.ndarray:
    """Reproducible int64 token ids for one parity shape."""
    rng = np.random.default_rng(seed + 1000 * batch + seq_len)
    return rng.integers(0, vocab_size, size=(batch, seq_len), dtype=np.int64)


def measure_parity(
    reference: LogitsFn,
    candidate: LogitsFn,
    *,
    vocab_size: int,
    shapes: Iterable[tuple[int, int]],
    fmt: str,
    exporter: str,
    atol: float = DEFAULT_ATOL,
    rtol: float = 0.0,
    seed: int = 0,
) -> ParityReport:
    """Run `reference` and `candidate` on the same ids at every shape and compare the logits.

    A candidate that raises at a shape (for example an axis frozen at export time) is recorded
    as a failed shape with the error, so the report names it instead of stopping at the first.
    """
    report = ParityReport(fmt=fmt, exporter=exporter, atol=atol, rtol=rtol)
    for batch, seq_len in shapes:
        ids = random_token_ids(batch, seq_len, vocab_size, seed=seed)
        expected = reference(ids)
        try:
            got = candidate(ids)
            max_abs, max_rel, top1, passed = compare_logits(expected, got, atol=atol, rtol=rtol)
            error = None
        except Exception as exc:  # recorded per shape; the report fails and names it
            max_abs, max_rel, top1, passed = float("inf"), float("inf"), 0.0, False
            error = f"{type(exc).__name__}: {clean_error_text(str(exc))}"
        report.shapes.append(ShapeParity(batch, seq_len, max_abs, max_rel, top1, passed, error))
    return report


def torch_logits_fn(model: object) -> LogitsFn:
    """Numpy in, numpy out over a PyTorch module (the reference of every parity check)."""
    import torch

    def run(ids: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(ids)).detach().float().cpu().numpy()  # type: ignore[operator]

    return run


def shapes_within(
    shapes: Sequence[tuple[int, int]], max_seq_len: int | None
) -> list[tuple[int, int]]:
    """Drop shapes longer than the model's maximum sequence length."""
    return [s for s in shapes if max_seq_len is None or s[1] <= max_seq_len]


def _first_line(text: str, limit: int = 200) -> str:
    """One line of an error for summaries and tables; the full text stays in the report."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0][:limit] if lines else ""
