"""The sampling specification: how the next token is chosen from a model's logits.

This is numpy-only on purpose. The same algorithm runs in two places that cannot share a
module: `lightning-pipeline generate` (logits from the PyTorch model) and a bundle's
`inference.py` (logits from onnxruntime, no torch installed). The block between the two
`SAMPLING SPEC` markers below is copied verbatim into model-export's `bundle_inference.py`;
an integration test checks that both copies are identical and that a run and its bundle
produce the same tokens for the same seed and settings.

Why numpy float64 and PCG64 rather than `torch.multinomial`: the random stream of a numpy
`Generator(PCG64(seed))` is the same on every platform and in every numpy >= 1.17, so the
torch path and the torch-free path draw the same numbers. The logits are converted to float64
before any arithmetic, so the two paths agree unless their logits differ enough to move a draw
across a probability boundary (they differ by ~1e-6 between PyTorch and onnxruntime).

Per step, in this order:
1. repetition penalty (CTRL / Hugging Face rule): a logit of a token already in the context
   (prompt included) is divided by the penalty when positive, multiplied when negative;
2. temperature 0 picks the argmax (lowest id on ties) and draws nothing;
3. otherwise logits / temperature, then top-k (keep logits >= the k-th largest), then softmax,
   then top-p (keep the smallest set of most likely tokens whose mass reaches p);
4. one uniform draw u from the sample's generator; the token is the first id whose
   cumulative probability (in id order) exceeds u times the total.

Sample i of n uses the generator `default_rng(SeedSequence(seed).spawn(n)[i])`: sample 0 of
three is the same text as the only sample of one, at the same seed.
"""

from __future__ import annotations

# ---- SAMPLING SPEC BEGIN (kept identical in model_export/bundle_inference.py) ----
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

STOP_EOS = "end-of-text"
STOP_STRING = "stop string"
STOP_LENGTH = "max_new_tokens"


@dataclass(frozen=True)
class SamplingSettings:
    """How to sample; the defaults are the CLI's and `inference.py`'s defaults.

    temperature 0 is greedy; top_k None or 0 and top_p 1.0 switch those filters off;
    repetition_penalty 1.0 is no penalty; seed None draws a fresh seed (reported in the result).
    """

    max_new_tokens: int = 50
    temperature: float = 1.0
    top_k: int | None = 50
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    num_samples: int = 1
    seed: int | None = None
    stop_at_eos: bool = True
    stop: tuple[str, ...] = field(default_factory=tuple)

    def problem(self) -> str | None:
        """One line naming the first bad setting and its fix, or None when all are valid."""
        if self.max_new_tokens < 1:
            return f"max_new_tokens={self.max_new_tokens} must be at least 1"
        if not self.temperature >= 0:
            return f"temperature={self.temperature} must be 0 (greedy) or positive"
        if self.top_k is not None and self.top_k < 0:
            return f"top_k={self.top_k} must be at least 1 (0 or None: no top-k filter)"
        if not 0 < self.top_p <= 1:
            return f"top_p={self.top_p} must be in (0, 1] (1.0: no top-p filter)"
        if not self.repetition_penalty > 0:
            return (
                f"repetition_penalty={self.repetition_penalty} must be positive (1.0: no penalty)"
            )
        if self.num_samples < 1:
            return f"num_samples={self.num_samples} must be at least 1"
        if self.seed is not None and self.seed < 0:
            return f"seed={self.seed} must be 0 or a positive integer"
        if any(not s for s in self.stop):
            return "a stop string is empty; give non-empty stop strings"
        return None


@dataclass
class Sample:
    """One continuation: the new token ids, their text, why it stopped and the seed used."""

    token_ids: list[int]
    text: str
    stop_reason: str
    seed: int


def next_token_probabilities(
    logits: np.ndarray, context: Sequence[int], settings: SamplingSettings
) -> np.ndarray:
    """The distribution the next token is drawn from (float64, sums to 1); see the module docstring."""
    scores = np.array(logits, dtype=np.float64).reshape(-1)
    if settings.repetition_penalty != 1.0 and len(context):
        seen = np.unique(np.asarray(context, dtype=np.int64))
        seen = seen[(seen >= 0) & (seen < scores.size)]
        values = scores[seen]
        scores[seen] = np.where(
            values > 0, values / settings.repetition_penalty, values * settings.repetition_penalty
        )
    if settings.temperature == 0:
        probs = np.zeros_like(scores)
        probs[int(np.argmax(scores))] = 1.0
        return probs
    scores = scores / settings.temperature
    if settings.top_k and settings.top_k < scores.size:
        kth = np.sort(scores)[-settings.top_k]
        scores = np.where(scores >= kth, scores, -np.inf)
    scores = scores - np.max(scores)
    probs = np.exp(scores)
    probs /= probs.sum()
    if settings.top_p < 1.0:
        order = np.argsort(-probs, kind="stable")
        cumulative = np.cumsum(probs[order])
        keep = int(np.searchsorted(cumulative, settings.top_p, side="left")) + 1
        mask = np.zeros(probs.size, dtype=bool)
        mask[order[:keep]] = True
        probs = np.where(mask, probs, 0.0)
        probs /= probs.sum()
    return probs


def choose_token(
    logits: np.ndarray, context: Sequence[int], settings: SamplingSettings, rng: np.random.Generator
) -> int:
    """The next token id: argmax at temperature 0 (no draw), else one uniform draw from `rng`."""
    probs = next_token_probabilities(logits, context, settings)
    if settings.temperature == 0:
        return int(np.argmax(probs))
    cumulative = np.cumsum(probs)
    u = rng.random() * cumulative[-1]
    return int(min(np.searchsorted(cumulative, u, side="right"), probs.size - 1))


def sample_continuations(
    logits_fn: Callable[[np.ndarray], np.ndarray],
    prompt_ids: Sequence[int],
    settings: SamplingSettings,
    *,
    decode: Callable[[list[int]], str],
    eos_token_id: int | None,
    max_seq_len: int | None,
) -> list[Sample]:
    """`settings.num_samples` continuations of `prompt_ids`.

    `logits_fn(ids[1, T] int64) -> logits[V]` for the last position; the window is cropped to
    the last `max_seq_len` tokens (no KV cache: the whole window runs every step). `decode(ids)`
    turns ids into text (special tokens skipped). A sample stops at end-of-text (the eos id is
    not kept), at the first stop string (the text is cut before it), or after max_new_tokens.
    """
    problem = settings.problem()
    if problem:
        raise ValueError(problem)
    seed = settings.seed if settings.seed is not None else secrets.randbits(32)
    streams = np.random.SeedSequence(seed).spawn(settings.num_samples)
    prompt = [int(t) for t in prompt_ids]
    prompt_text = decode(prompt)
    samples = []
    for stream in streams:
        rng = np.random.default_rng(stream)
        ids = list(prompt)
        new: list[int] = []
        reason, text = STOP_LENGTH, ""
        for _ in range(settings.max_new_tokens):
            window = ids[-max_seq_len:] if max_seq_len else ids
            logits = logits_fn(np.asarray([window], dtype=np.int64))
            token = choose_token(logits, ids, settings, rng)
            if settings.stop_at_eos and eos_token_id is not None and token == eos_token_id:
                reason = STOP_EOS
                break
            ids.append(token)
            new.append(token)
            text = continuation_text(decode, prompt, prompt_text, new)
            hit = _first_stop(text, settings.stop)
            if hit is not None:
                text, reason = text[: hit[0]], f"{STOP_STRING} {hit[1]!r}"
                break
        samples.append(Sample(new, text, reason, seed))
    return samples


def continuation_text(
    decode: Callable[[list[int]], str], prompt: list[int], prompt_text: str, new: list[int]
) -> str:
    """Text of the new tokens as they read after the prompt (a tokenizer may merge across the join)."""
    full = decode(prompt + new)
    return full[len(prompt_text) :] if full.startswith(prompt_text) else decode(new)


def _first_stop(text: str, stops: Sequence[str]) -> tuple[int, str] | None:
    """Where the earliest stop string starts in `text`, and which one it is."""
    found = [(i, s) for s in stops if (i := text.find(s)) >= 0]
    return min(found) if found else None


# ---- SAMPLING SPEC END ----
