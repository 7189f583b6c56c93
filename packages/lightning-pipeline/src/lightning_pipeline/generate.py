"""Sample text from a trained run folder: temperature, top-k, top-p, repetition penalty, stops.

A run folder holds everything needed (`model/`, `tokenizer/`, `final/model.safetensors`, or its
checkpoints when training has not finished), so generation needs nothing but its path. The
choice of each token follows `lightning_pipeline.sampling` (numpy, float64, PCG64), the same
specification a bundle's torch-free `inference.py` follows: a run and its bundle give the same
tokens for the same seed and settings.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any, TypedDict

from lightning_pipeline.errors import ConfigError, RunFolderError

if TYPE_CHECKING:  # numpy is imported on first use: `import lightning_pipeline` stays cheap
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11

    from lightning_pipeline.sampling import Sample, SamplingSettings

logger = logging.getLogger(__name__)


def load_trained_model(run_dir: str | os.PathLike[str], *, device: str = "cpu") -> tuple[Any, Any]:
    """`(adapter, tokenizer)` of a run: final weights if present, else the newest valid checkpoint."""
    from safetensors.torch import load_model as load_safetensors
    from transformers import AutoTokenizer

    from lightning_pipeline.checkpoint_io import load_checkpoint_file
    from lightning_pipeline.run_folder import RunFolder
    from model_adapter import UniversalModelAdapter, load_model

    run = RunFolder(run_dir)
    if not run.model_dir.is_dir() or not run.tokenizer_dir.is_dir():
        raise RunFolderError(
            f"{run.path} is not a run folder (no model/ or tokenizer/); pass the --out folder of a training run."
        )
    user_model, config = load_model(str(run.model_dir))
    adapter = UniversalModelAdapter(user_model, config, causal=True)
    if run.final_weights.exists():
        load_safetensors(adapter.model, str(run.final_weights))
    else:
        checkpoint = run.latest_valid_checkpoint()
        if checkpoint is None:
            raise RunFolderError(
                f"{run.path} holds no trained weights yet; train it first (lightning-pipeline train ... --out {run.path})."
            )
        logger.info("No final weights yet; using checkpoint %s", checkpoint)
        state = load_checkpoint_file(checkpoint)["state_dict"]  # allowlisted, one-line errors
        prefix = "adapter."
        adapter.load_state_dict(
            {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
        )
    tokenizer = AutoTokenizer.from_pretrained(str(run.tokenizer_dir))
    return adapter.to(device).eval(), tokenizer


def torch_logits_fn(adapter: Any) -> Any:
    """`ids[1, T] (numpy int64) -> float64 logits of the last position`, from the PyTorch model."""
    import torch

    device = next(adapter.parameters()).device

    def logits_fn(ids: Any) -> Any:
        window = torch.from_numpy(ids).to(device)
        with torch.no_grad():
            logits = adapter(window, torch.ones_like(window))
        return logits[0, -1].double().cpu().numpy()

    return logits_fn


def _settings(**values: Any) -> SamplingSettings:
    """`SamplingSettings` from keywords (a single stop string allowed); a bad value is a `ConfigError`."""
    from lightning_pipeline.sampling import SamplingSettings

    stop = values.pop("stop", ()) or ()
    settings = SamplingSettings(stop=(stop,) if isinstance(stop, str) else tuple(stop), **values)
    problem = settings.problem()
    if problem:
        raise ConfigError(f"{problem}.")
    return settings


def encode_prompt(tokenizer: Any, prompt: str) -> list[int]:
    """Prompt ids without special tokens (as `inference.py` encodes them); an empty prompt starts at bos/eos."""
    ids = tokenizer.backend_tokenizer.encode(prompt, add_special_tokens=False).ids
    if not ids:
        start = (
            tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        )
        ids = [start]
    return list(ids)


def sample_tokens(
    adapter: Any,
    input_ids: Any,
    *,
    max_new_tokens: int = 50,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float = 1.0,
    repetition_penalty: float = 1.0,
    eos_token_id: int | None = None,
    seed: int | None = None,
) -> Any:
    """Extend `input_ids` ([1, T] LongTensor) by up to `max_new_tokens`; temperature 0 means greedy.

    The context is cropped to the model's `max_seq_len` (a learned position table has no rows
    beyond it). Stops early at `eos_token_id` (which is then not appended).
    """
    import torch

    from lightning_pipeline.sampling import sample_continuations

    settings = _settings(
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        repetition_penalty=repetition_penalty,
        seed=seed,
    )
    prompt = input_ids[0].tolist()
    sample = sample_continuations(
        torch_logits_fn(adapter),
        prompt,
        settings,
        decode=lambda ids: "",
        eos_token_id=eos_token_id,
        max_seq_len=getattr(adapter, "max_seq_len", None),
    )[0]
    return torch.tensor([prompt + sample.token_ids], dtype=torch.long, device=input_ids.device)


class SamplingOptions(TypedDict, total=False):
    """The sampling keywords of `generate` and `generate_samples`; the defaults are
    `SamplingSettings`'s (max_new_tokens 50, temperature 1.0, top_k 50, top_p 1.0, repetition
    penalty 1.0, a fresh seed, stop at end-of-text, no stop strings)."""

    max_new_tokens: int
    temperature: float
    top_k: int | None
    top_p: float
    repetition_penalty: float
    seed: int | None
    stop_at_eos: bool
    stop: str | tuple[str, ...] | list[str]


def generate_samples(
    run_dir: str | os.PathLike[str],
    prompt: str,
    *,
    num_samples: int = 1,
    device: str = "cpu",
    **options: Unpack[SamplingOptions],
) -> list[Sample]:
    """`num_samples` continuations of `prompt` from the run's trained model.

    `options` are the sampling settings (`SamplingOptions`: temperature, top_k, top_p,
    repetition_penalty, max_new_tokens, seed, stop_at_eos, stop). Each
    :class:`~lightning_pipeline.sampling.Sample` holds the new token ids, the continuation
    text (without the prompt), why it stopped (`"end-of-text"`, `"stop string '...'"` or
    `"max_new_tokens"`) and the seed, so an unseeded sample can be repeated.

    Example:
        >>> samples = generate_samples("runs/example", "ROMEO:", num_samples=2, seed=0, stop="\n\n")  # doctest: +SKIP
        >>> samples[0].stop_reason  # doctest: +SKIP
        'end-of-text'
    """
    from lightning_pipeline.sampling import sample_continuations

    settings = _settings(num_samples=num_samples, **options)
    adapter, tokenizer = load_trained_model(run_dir, device=device)
    backend = tokenizer.backend_tokenizer
    return sample_continuations(
        torch_logits_fn(adapter),
        encode_prompt(tokenizer, prompt),
        settings,
        decode=lambda ids: backend.decode(ids, skip_special_tokens=True),
        eos_token_id=tokenizer.eos_token_id,
        max_seq_len=getattr(adapter, "max_seq_len", None),
    )


def generate(
    run_dir: str | os.PathLike[str],
    prompt: str,
    *,
    device: str = "cpu",
    **options: Unpack[SamplingOptions],
) -> str:
    """The prompt followed by one continuation from the run's trained model (`options`: as
    :func:`generate_samples`).

    For several samples, token ids or the reason a sample stopped, use :func:`generate_samples`.

    Example:
        >>> generate("runs/example", "ROMEO:", max_new_tokens=40, temperature=0.8, top_k=50, seed=0)  # doctest: +SKIP
        'ROMEO:\nWhat ...'
    """
    return prompt + generate_samples(run_dir, prompt, device=device, **options)[0].text
