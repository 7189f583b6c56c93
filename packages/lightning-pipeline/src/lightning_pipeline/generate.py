"""Sample text from a trained run folder: greedy, temperature, top-k.

A run folder holds everything needed (`model/`, `tokenizer/`, `final/model.safetensors`, or its
checkpoints when training has not finished), so generation needs nothing but its path.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from lightning_pipeline.errors import ConfigError, RunFolderError

logger = logging.getLogger(__name__)


def load_trained_model(run_dir: str | os.PathLike[str], *, device: str = "cpu") -> tuple[Any, Any]:
    """`(adapter, tokenizer)` of a run: final weights if present, else the newest valid checkpoint."""
    import torch
    from safetensors.torch import load_model as load_safetensors
    from transformers import AutoTokenizer

    from lightning_pipeline.run_folder import RunFolder
    from model_adapter import UniversalModelAdapter, load_model

    run_dir = Path(run_dir)
    if not (run_dir / "model").is_dir() or not (run_dir / "tokenizer").is_dir():
        raise RunFolderError(f"{run_dir} is not a run folder (no model/ or tokenizer/); pass the --out folder of a training run.")
    user_model, config = load_model(str(run_dir / "model"))
    adapter = UniversalModelAdapter(user_model, config, causal=True)
    final = run_dir / "final" / "model.safetensors"
    if final.exists():
        load_safetensors(adapter.model, str(final))
    else:
        checkpoint = RunFolder(run_dir).latest_valid_checkpoint()
        if checkpoint is None:
            raise RunFolderError(f"{run_dir} holds no trained weights yet; train it first (lightning-pipeline train ... --out {run_dir}).")
        logger.info("No final weights yet; using checkpoint %s", checkpoint)
        state = torch.load(str(checkpoint), map_location="cpu", weights_only=True)["state_dict"]
        prefix = "adapter."
        adapter.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})
    tokenizer = AutoTokenizer.from_pretrained(str(run_dir / "tokenizer"))
    return adapter.to(device).eval(), tokenizer


def sample_tokens(
    adapter: Any,
    input_ids: Any,
    *,
    max_new_tokens: int = 50,
    temperature: float = 1.0,
    top_k: int | None = None,
    eos_token_id: int | None = None,
    generator: Any = None,
) -> Any:
    """Extend `input_ids` ([1, T] LongTensor) by up to `max_new_tokens`; temperature 0 means greedy.

    The context is cropped to the model's `max_seq_len` (a learned position table has no rows
    beyond it). Stops early at `eos_token_id`.
    """
    import torch

    if temperature < 0:
        raise ConfigError(f"temperature={temperature} must be 0 (greedy) or positive.")
    if top_k is not None and top_k < 1:
        raise ConfigError(f"top_k={top_k} must be at least 1 (or omitted).")
    max_len = getattr(adapter, "max_seq_len", None)
    ids = input_ids
    with torch.no_grad():
        for _ in range(max_new_tokens):
            context = ids[:, -max_len:] if max_len else ids
            logits = adapter(context, torch.ones_like(context))[:, -1, :].float()
            if temperature == 0:
                next_id = logits.argmax(dim=-1, keepdim=True)
            else:
                logits = logits / temperature
                if top_k is not None:
                    kth = torch.topk(logits, min(top_k, logits.size(-1))).values[:, -1:]
                    logits = logits.masked_fill(logits < kth, float("-inf"))
                probs = torch.softmax(logits, dim=-1)
                next_id = torch.multinomial(probs, 1, generator=generator)
            ids = torch.cat([ids, next_id], dim=1)
            if eos_token_id is not None and int(next_id) == eos_token_id:
                break
    return ids


def generate(
    run_dir: str | os.PathLike[str],
    prompt: str,
    *,
    max_new_tokens: int = 50,
    temperature: float = 1.0,
    top_k: int | None = 50,
    seed: int | None = None,
    device: str = "cpu",
) -> str:
    """Prompt plus continuation, decoded, from the run's trained model.

    Example:
        >>> generate("runs/example", "The module", max_new_tokens=20, temperature=0)  # doctest: +SKIP
        'The module ...'
    """
    import torch

    adapter, tokenizer = load_trained_model(run_dir, device=device)
    ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    if not ids:
        start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        ids = [start]
    input_ids = torch.tensor([ids], dtype=torch.long, device=device)
    generator = None
    if seed is not None:
        generator = torch.Generator(device=device)
        generator.manual_seed(seed)
    out = sample_tokens(
        adapter, input_ids, max_new_tokens=max_new_tokens, temperature=temperature, top_k=top_k,
        eos_token_id=tokenizer.eos_token_id, generator=generator,
    )
    return tokenizer.decode(out[0].tolist(), skip_special_tokens=True)
