"""Post-training quantization of an ONNX model, judged on held-out text before it may ship.

int8 is onnxruntime's dynamic quantization (weights int8, activations quantized at run time),
the one that needs no calibration data and helps on CPU; a tied embedding is stored once in
it (`tied_int8`). fp16 only makes sense on a GPU, so it is produced only where onnxruntime has
a CUDA provider. Each result carries the evidence (size, latency, top-1 agreement, perplexity)
and a status: `accepted`, or `rejected` with the reason when agreement or perplexity moved past
the thresholds. A rejected model is never put in a bundle.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from model_export._quiet_logs import quiet_logs
from model_export.onnx_export import onnx_logits_fn, onnx_session
from model_export.tied_int8 import share_tied_int8

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class QuantizationThresholds:
    """How far a quantized model may move from fp32 before it is rejected.

    `min_top1_agreement`: share of held-out positions whose argmax token is unchanged.
    `max_perplexity_increase`: relative perplexity increase, 0.05 = +5%.
    """

    min_top1_agreement: float = 0.98
    max_perplexity_increase: float = 0.05


@dataclass
class QuantizationResult:
    """The evidence for one quantized model and the verdict."""

    kind: str
    status: str  # "accepted" | "rejected" | "skipped"
    reason: str | None
    path: str | None
    size_bytes: int | None = None
    fp32_size_bytes: int | None = None
    size_ratio: float | None = None  # fp32 size / quantized size
    latency_ms: float | None = None
    fp32_latency_ms: float | None = None
    latency_ratio: float | None = None  # quantized latency / fp32 latency (<1 is faster)
    top1_agreement: float | None = None
    fp32_perplexity: float | None = None
    perplexity: float | None = None
    perplexity_change: float | None = None  # relative: (ppl - fp32_ppl) / fp32_ppl
    eval_tokens: int | None = None
    eval_source: str | None = None
    thresholds: dict | None = None

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"

    def to_dict(self) -> dict:
        return asdict(self)


def held_out_windows(
    token_ids: np.ndarray | list[int], seq_len: int, max_windows: int = 16
) -> np.ndarray:
    """Cut a 1-D stream of held-out token ids into `[N, seq_len]` windows (at most `max_windows`)."""
    ids = np.asarray(token_ids, dtype=np.int64).reshape(-1)
    if ids.size < 2:
        raise ValueError("held-out text gave fewer than 2 tokens; give more text")
    seq_len = max(2, min(seq_len, ids.size))
    count = max(1, min(max_windows, ids.size // seq_len))
    return ids[: count * seq_len].reshape(count, seq_len)


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    logits = logits.astype(np.float64)
    shifted = logits - logits.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def perplexity(logits: np.ndarray, windows: np.ndarray) -> float:
    """Next-token perplexity of `logits[N, T, V]` on `windows[N, T]`."""
    logp = _log_softmax(logits[:, :-1])
    targets = windows[:, 1:]
    nll = -np.take_along_axis(logp, targets[..., None], axis=-1).mean()
    return float(np.exp(nll))


def _median_latency_ms(fns: dict, batch: np.ndarray, repeats: int) -> dict[str, float]:
    """Interleaved median latency of each function on the same batch (after one warm-up each)."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():
        fn(batch)
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn(batch)
            times[name].append((time.perf_counter() - start) * 1000)
    return {name: float(np.median(values)) for name, values in times.items()}


def _judge(
    kind: str,
    fp32_path: Path,
    out_path: Path,
    windows: np.ndarray,
    thresholds: QuantizationThresholds,
    eval_source: str,
    repeats: int,
    providers: list[str] | None,
) -> QuantizationResult:
    fp32 = onnx_logits_fn(onnx_session(fp32_path, providers=providers))
    quant = onnx_logits_fn(onnx_session(out_path, providers=providers))
    ref_logits, q_logits = fp32(windows), quant(windows)
    agreement = float((ref_logits.argmax(-1) == q_logits.argmax(-1)).mean())
    ppl_ref, ppl_q = perplexity(ref_logits, windows), perplexity(q_logits, windows)
    change = (ppl_q - ppl_ref) / ppl_ref
    latency = _median_latency_ms({"fp32": fp32, "quant": quant}, windows[:1], repeats)
    reasons = []
    if not np.isfinite(q_logits).all():
        reasons.append("non-finite logits")
    if agreement < thresholds.min_top1_agreement:
        reasons.append(f"top-1 agreement {agreement:.2%} < {thresholds.min_top1_agreement:.2%}")
    if not change <= thresholds.max_perplexity_increase:
        reasons.append(
            f"perplexity change {change:+.2%} > +{thresholds.max_perplexity_increase:.2%}"
        )
    size, fp32_size = os.path.getsize(out_path), os.path.getsize(fp32_path)
    result = QuantizationResult(
        kind=kind,
        status="rejected" if reasons else "accepted",
        reason="; ".join(reasons) or None,
        path=str(out_path),
        size_bytes=size,
        fp32_size_bytes=fp32_size,
        size_ratio=fp32_size / size,
        latency_ms=latency["quant"],
        fp32_latency_ms=latency["fp32"],
        latency_ratio=latency["quant"] / latency["fp32"],
        top1_agreement=agreement,
        fp32_perplexity=ppl_ref,
        perplexity=ppl_q,
        perplexity_change=change,
        eval_tokens=int(windows.size),
        eval_source=eval_source,
        thresholds=asdict(thresholds),
    )
    if reasons:
        logger.warning("%s quantization rejected: %s", kind, result.reason)
    return result


def _discard_if_rejected(result: QuantizationResult, out_path: Path) -> QuantizationResult:
    """Delete a rejected model at once (its result keeps the evidence, `path` None).

    A rejected model must never ship; with no file left behind, nothing can bundle it by mistake.
    """
    if not result.accepted:
        out_path.unlink(missing_ok=True)
        result.path = None
    return result


def _preprocessed(fp32_path: Path, target: Path) -> Path:
    """Shape inference and constant folding before quantization (`quant_pre_process`).

    The dynamo exporter leaves a `Transpose` on tied output weights; folding it turns the
    projection's weight into an initializer that `quantize_dynamic` can quantize. If the
    pre-processing fails, the model is quantized as exported (the reason logged).
    """
    from onnxruntime.quantization.shape_inference import quant_pre_process

    try:
        with quiet_logs("onnxruntime"):  # its quantizer advises on the root logger
            quant_pre_process(str(fp32_path), str(target))
        return target
    except Exception as exc:  # pre-processing is an optimisation, not a requirement
        logger.warning("quantization pre-processing skipped: %s: %s", type(exc).__name__, exc)
        return fp32_path


@contextlib.contextmanager
def _working_directory(path: str) -> Iterator[None]:
    """`contextlib.chdir` of Python 3.11+, for the 3.10 this package supports."""
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def _write_int8(fp32_path: Path, out_path: Path) -> None:
    """Dynamic int8 (`quantize_dynamic`) after pre-processing, tied matrices stored once."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # onnxruntime's symbolic shape inference saves `sym_shape_infer_temp.onnx` and a `<uuid>.data`
    # file into the working directory when it cannot infer every shape; run it from the
    # temporary folder so those files go away with it.
    with (
        tempfile.TemporaryDirectory(dir=out_path.parent, prefix=".quantize-") as tmp,
        _working_directory(tmp),
    ):
        source = _preprocessed(fp32_path, Path(tmp) / "pre.onnx")
        with quiet_logs("onnxruntime"):  # its quantizer advises on the root logger
            # Gather is listed so that a token embedding shared with the output head (tied
            # weights) is quantized for its lookup too, not kept in fp32 for it.
            quantize_dynamic(
                str(source),
                str(out_path),
                weight_type=QuantType.QInt8,
                op_types_to_quantize=[
                    "MatMul",
                    "Gather",
                    "Attention",
                    "LSTM",
                    "EmbedLayerNormalization",
                ],
            )
        # The lookup's and the projection's int8 copies of a tied matrix become one.
        share_tied_int8(source, out_path)


def _write_fp16(fp32_path: Path, out_path: Path) -> None:
    """fp16 weights and activations, inputs and outputs kept in their fp32/int64 types."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    converted = convert_float_to_float16(onnx.load(str(fp32_path)), keep_io_types=True)
    onnx.save(converted, str(out_path))


def gpu_available() -> bool:
    """True when onnxruntime can run on a CUDA GPU here."""
    import onnxruntime as ort

    return "CUDAExecutionProvider" in ort.get_available_providers()


def quantize(
    kind: str,
    fp32_path: str | os.PathLike,
    out_path: str | os.PathLike,
    held_out_ids: np.ndarray | list[int],
    *,
    seq_len: int = 64,
    thresholds: QuantizationThresholds | None = None,
    eval_source: str = "held-out token ids",
    repeats: int = 10,
) -> QuantizationResult:
    """Quantize an fp32 ONNX model to `kind`, then judge it on held-out text against fp32.

    `quantize_int8` and `quantize_fp16` are this function with `kind` fixed.

    - int8: onnxruntime's dynamic quantization (`quantize_dynamic`, after `quant_pre_process`),
      with the embedding lookup quantized too and a tied embedding stored once.
    - fp16: fp16 weights and activations for GPU serving; `skipped` (with the reason) where
      onnxruntime has no CUDA provider, since fp16 only pays off on a GPU.

    Args:
        kind: "int8" or "fp16".
        fp32_path: the fp32 ONNX model.
        out_path: where the quantized model goes. A rejected model is deleted again.
        held_out_ids: a 1-D stream of token ids of text the model was not trained on.
        seq_len: window length for the evaluation (at most the model's maximum).
        thresholds: see :class:`QuantizationThresholds`.
        eval_source: a short description of the held-out text, recorded in the result.
        repeats: timed runs per model for the median latency.
    """
    if kind not in ("int8", "fp16"):
        raise ValueError(f"unknown quantization {kind!r}; choose int8 or fp16")
    providers = None
    if kind == "fp16":
        if not gpu_available():
            return QuantizationResult(
                kind="fp16",
                status="skipped",
                path=None,
                reason="no CUDA GPU for onnxruntime here; fp16 only pays off on a GPU",
            )
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    thresholds = thresholds or QuantizationThresholds()
    fp32_path, out_path = Path(fp32_path).resolve(), Path(out_path).resolve()
    windows = held_out_windows(held_out_ids, seq_len)
    (_write_int8 if kind == "int8" else _write_fp16)(fp32_path, out_path)
    result = _judge(kind, fp32_path, out_path, windows, thresholds, eval_source, repeats, providers)
    return _discard_if_rejected(result, out_path)


quantize_int8 = functools.partial(quantize, "int8")
"""Dynamic int8 quantization, then the verdict: `quantize("int8", ...)`."""

quantize_fp16 = functools.partial(quantize, "fp16")
"""fp16 for GPU serving (`skipped` without a GPU), then the verdict: `quantize("fp16", ...)`."""
