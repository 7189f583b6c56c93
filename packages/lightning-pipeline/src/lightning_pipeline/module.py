"""`LanguageModelingModule`: the LightningModule that trains any `UniversalModelAdapter` as a causal LM.

The model itself stays a plain `nn.Module` (`self.adapter`, whose `.model` is the user's module);
this class only adds what training needs: the shifted next-token loss, perplexity, AdamW with the
usual no-decay groups, a warmup + decay schedule, and reproducible dropout across a resume.
"""

from __future__ import annotations

import logging
import math
import random
from typing import TYPE_CHECKING, Any, cast

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn

from lightning_pipeline.packing import IGNORE_INDEX

if TYPE_CHECKING:
    from pytorch_lightning.utilities.types import OptimizerLRSchedulerConfig

logger = logging.getLogger(__name__)

_NO_DECAY_TYPES = (nn.LayerNorm, nn.Embedding, nn.GroupNorm, nn.BatchNorm1d, nn.BatchNorm2d)


def causal_lm_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    *,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
) -> torch.Tensor:
    """Next-token cross entropy: position t predicts labels[t + 1]; positions labelled -100 are ignored.

    Labels arrive unshifted (the DataModule's contract), so the shift happens here and only here.
    """
    shift_logits = logits[:, :-1, :].contiguous()
    shift_labels = labels[:, 1:].contiguous()
    return F.cross_entropy(
        shift_logits.view(-1, shift_logits.size(-1)).float(),
        shift_labels.view(-1),
        ignore_index=IGNORE_INDEX,
        label_smoothing=label_smoothing,
        reduction=reduction,
    )


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW groups: decay on weight matrices only; never on norms, biases or embeddings.

    Decaying a LayerNorm gain or an embedding table pulls it towards zero for no benefit (GPT-2,
    nanoGPT, LitGPT all exclude them). Tied weights appear once (`named_parameters` dedupes).
    """
    no_decay_ids: set[int] = set()
    for module in model.modules():
        is_norm = isinstance(module, _NO_DECAY_TYPES) or "norm" in type(module).__name__.lower()
        for name, param in module.named_parameters(recurse=False):
            if is_norm or name.endswith("bias") or param.ndim < 2:
                no_decay_ids.add(id(param))
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    for _, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (no_decay if id(param) in no_decay_ids else decay).append(param)
    groups: list[dict[str, Any]] = [{"params": decay, "weight_decay": weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return [g for g in groups if g["params"]]


def lr_lambda_for(schedule: str, warmup_steps: int, total_steps: int, min_lr_ratio: float):
    """Multiplier of the peak LR at each optimizer step: linear warmup, then cosine/linear/constant."""

    def factor(step: int) -> float:
        if warmup_steps > 0 and step < warmup_steps:
            return (step + 1) / warmup_steps
        if schedule == "constant" or total_steps <= warmup_steps:
            return 1.0
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        if schedule == "linear":
            decay = 1.0 - progress
        else:  # cosine
            decay = 0.5 * (1.0 + math.cos(math.pi * progress))
        return min_lr_ratio + (1.0 - min_lr_ratio) * decay

    return factor


def _numpy_state_to_plain(state: tuple[Any, ...]) -> tuple[str, list[int], int, int, float]:
    name, keys, pos, has_gauss, cached = state
    return (str(name), [int(k) for k in keys], int(pos), int(has_gauss), float(cached))


def _legacy_numpy_state() -> tuple[Any, ...]:
    """The global NumPy RNG state as the legacy 5-tuple (`legacy=True` is NumPy's runtime default).

    NumPy's stubs claim the no-argument call returns a dict; the global `RandomState` is always
    MT19937, for which the legacy form is a tuple.
    """
    import numpy as np

    state = np.random.get_state(legacy=True)
    assert isinstance(state, tuple), (
        "the global RandomState is MT19937, whose legacy state is a tuple"
    )
    return state


class LanguageModelingModule(pl.LightningModule):
    """Causal language-model training over a `UniversalModelAdapter` (or any `(ids, mask) -> logits` module).

    Example:
        >>> import pytorch_lightning as pl
        >>> module = LanguageModelingModule(adapter, lr=1e-3, warmup_steps=10, total_steps=100)
        >>> pl.Trainer(max_steps=100).fit(module, datamodule=datamodule)  # doctest: +SKIP
    """

    def __init__(
        self,
        adapter: nn.Module,
        *,
        lr: float = 3e-4,
        weight_decay: float = 0.1,
        betas: tuple[float, float] = (0.9, 0.95),
        warmup_steps: int = 100,
        schedule: str = "cosine",
        min_lr_ratio: float = 0.1,
        total_steps: int | None = None,
        label_smoothing: float = 0.0,
        compile: bool = False,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.adapter = adapter
        self.lr = lr
        self.weight_decay = weight_decay
        beta1, beta2 = betas  # TrainingConfig and AdamW both want exactly two
        self.betas: tuple[float, float] = (beta1, beta2)
        self.warmup_steps = warmup_steps
        self.schedule = schedule
        self.min_lr_ratio = min_lr_ratio
        self.total_steps = total_steps
        self.label_smoothing = label_smoothing
        self.compile_model = compile
        self.seed = seed
        self._forward_impl: nn.Module = adapter
        self._seeded_step = -1
        self._micro_batch = 0
        self._val_loss_sum: torch.Tensor | None = None
        self._val_token_count: torch.Tensor | None = None

    # -- model ---------------------------------------------------------------------------------
    def configure_model(self) -> None:
        """Compile once the module sits on its device (Lightning calls this hook in `fit`)."""
        if self.compile_model and self._forward_impl is self.adapter:
            # torch.compile of an nn.Module returns an OptimizedModule (an nn.Module); its stub
            # only promises a callable.
            self._forward_impl = cast(nn.Module, torch.compile(self.adapter))

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self._forward_impl(input_ids, attention_mask)

    # -- steps ---------------------------------------------------------------------------------
    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        # Dropout masks depend only on (seed, rank, step), not on how many random numbers something
        # else (a validation loader, a resume) drew before: this is what makes a resumed run
        # reproduce the uninterrupted one exactly.
        if self.global_step != self._seeded_step:
            self._seeded_step, self._micro_batch = self.global_step, 0
        else:
            self._micro_batch += 1
        seed = hash((self.seed, self.global_rank, self.global_step, self._micro_batch)) % (
            2**63 - 1
        )
        # Only the generators this step draws from. `torch.manual_seed` also queues a seed for
        # every accelerator backend that is not initialised, formatting a stack trace for each:
        # about 0.4 ms per step under Lightning's deep call stack, a fifth of its per-step overhead.
        torch.default_generator.manual_seed(seed)
        device = self.device
        if device.type != "cpu":
            backend = getattr(torch, device.type, None)
            if backend is not None and hasattr(backend, "manual_seed"):
                backend.manual_seed(seed)  # the current device's generator (one per rank)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        logits = self(batch["input_ids"], batch.get("attention_mask"))
        loss = causal_lm_loss(logits, batch["labels"], label_smoothing=self.label_smoothing)
        self.log(
            "train_loss",
            loss,
            on_step=True,
            on_epoch=False,
            prog_bar=True,
            batch_size=batch["input_ids"].size(0),
        )
        return loss

    def on_validation_epoch_start(self) -> None:
        self._val_loss_sum = torch.zeros((), device=self.device, dtype=torch.float64)
        self._val_token_count = torch.zeros((), device=self.device, dtype=torch.float64)

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        logits = self(batch["input_ids"], batch.get("attention_mask"))
        loss_sum = causal_lm_loss(logits, batch["labels"], reduction="sum")
        tokens = (batch["labels"][:, 1:] != IGNORE_INDEX).sum()
        assert self._val_loss_sum is not None and self._val_token_count is not None
        self._val_loss_sum += loss_sum.double()
        self._val_token_count += tokens.double()

    def on_validation_epoch_end(self) -> None:
        """Token-weighted mean over the whole validation set (and every DDP rank): the true NLL."""
        if self._val_loss_sum is None or self._val_token_count is None:
            return
        total = self.trainer.strategy.reduce(self._val_loss_sum, reduce_op="sum")
        count = self.trainer.strategy.reduce(self._val_token_count, reduce_op="sum")
        val_loss = (total / count.clamp_min(1)).float()
        self.log("val_loss", val_loss, prog_bar=True, sync_dist=False)
        self.log("val_perplexity", torch.exp(val_loss.clamp_max(50)), sync_dist=False)
        # Bits per byte compares across tokenizers; the DataModule knows the validation text's
        # UTF-8 bytes per token (absent for data given without a tokenizer that can decode).
        bytes_per_token = getattr(
            getattr(self.trainer, "datamodule", None), "val_bytes_per_token", None
        )
        if bytes_per_token:
            self.log("val_bits_per_byte", val_loss / math.log(2) / bytes_per_token, sync_dist=False)

    # -- optimisation --------------------------------------------------------------------------
    def configure_optimizers(self) -> OptimizerLRSchedulerConfig:
        groups = parameter_groups(self.adapter, self.weight_decay)
        fused = self.device.type == "cuda"
        optimizer = torch.optim.AdamW(groups, lr=self.lr, betas=self.betas, fused=fused)
        total = self.total_steps
        if total is None or total <= 0:
            total = int(self.trainer.estimated_stepping_batches)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lr_lambda_for(self.schedule, self.warmup_steps, total, self.min_lr_ratio)
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step", "frequency": 1},
        }

    # -- checkpoints ---------------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Keep every RNG state so code that draws random numbers continues the same sequence."""
        state: dict[str, Any] = {
            "torch": torch.get_rng_state(),
            # Plain lists, not arrays: checkpoints must load with `torch.load(weights_only=True)`.
            "numpy": _numpy_state_to_plain(_legacy_numpy_state()),
            "python": random.getstate(),
        }
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
        checkpoint["rng_states"] = state

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        import numpy as np

        state = checkpoint.get("rng_states")
        if not state:
            return
        torch.set_rng_state(state["torch"])
        name, keys, pos, has_gauss, cached = state["numpy"]
        np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
        random.setstate(state["python"])
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])
