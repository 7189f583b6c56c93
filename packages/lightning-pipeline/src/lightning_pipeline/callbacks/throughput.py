"""`TokenThroughputMonitor`: tokens per second (and model FLOPs utilisation on GPUs) logged every step.

Tokens/s is what a user compares between runs and machines; MFU says how far from the card's peak
the run is. The FLOPs estimate is nanoGPT's (6 N per token plus attention), the peak comes from a
small table of the GPUs users actually get (Colab: T4, L4, A100; H100), by device name.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

import pytorch_lightning as pl
import torch

# Dense peak TFLOP/s by (substring of the CUDA device name, precision family).
# Sources: NVIDIA data sheets (tensor-core dense numbers; fp32 = non-tensor-core).
PEAK_TFLOPS: dict[str, dict[str, float]] = {
    "H200": {"bf16": 989.0, "fp16": 989.0, "fp32": 67.0},
    "H100 PCIe": {"bf16": 756.0, "fp16": 756.0, "fp32": 51.0},
    "H100": {"bf16": 989.0, "fp16": 989.0, "fp32": 67.0},
    "A100": {"bf16": 312.0, "fp16": 312.0, "fp32": 19.5},
    "L4": {"bf16": 121.0, "fp16": 121.0, "fp32": 30.3},
    "A10G": {"bf16": 70.0, "fp16": 70.0, "fp32": 31.2},
    "V100": {"fp16": 125.0, "fp32": 15.7},
    "T4": {"fp16": 65.0, "fp32": 8.1},
}


def peak_flops(device_name: str, precision: str) -> float | None:
    """Peak FLOP/s of a CUDA device for a Lightning precision string, or None when unknown."""
    family = "bf16" if "bf16" in precision else "fp16" if "16" in precision else "fp32"
    for key, peaks in PEAK_TFLOPS.items():  # insertion order: "H100 PCIe" before "H100"
        if key.lower() in device_name.lower():
            value = peaks.get(family)
            return value * 1e12 if value is not None else None
    return None


def flops_per_token(
    num_params: int, *, layers: int | None, d_model: int | None, seq_len: int
) -> float:
    """Training FLOPs per token: 6 N (forward + backward matmuls) + 12 L d T for attention scores."""
    attention = 12 * layers * d_model * seq_len if layers and d_model else 0
    return 6.0 * num_params + attention


class TokenThroughputMonitor(pl.Callback):
    """Log `tokens_per_s` (all ranks together) and, on CUDA, `mfu` over a sliding window of steps.

    Example:
        >>> trainer = pl.Trainer(callbacks=[TokenThroughputMonitor(window=20)])  # doctest: +SKIP
    """

    def __init__(
        self, window: int = 20, *, layers: int | None = None, d_model: int | None = None
    ) -> None:
        super().__init__()
        self.window = window
        self.layers = layers
        self.d_model = d_model
        self._times: deque[float] = deque(maxlen=window + 1)
        self._tokens: deque[int] = deque(maxlen=window)
        self._flops_per_token: float | None = None
        self._peak: float | None = None
        self.tokens_per_s: float | None = None
        self.total_tokens = 0

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._times.clear()
        self._tokens.clear()
        if pl_module.device.type == "cuda":
            name = torch.cuda.get_device_name(pl_module.device)
            self._peak = peak_flops(name, str(trainer.precision))
            params = sum(p.numel() for p in pl_module.parameters())
            # Lightning sets `trainer.datamodule` at runtime; the Trainer class does not declare it.
            datamodule = getattr(trainer, "datamodule", None)
            seq_len = getattr(datamodule, "seq_len", 0) if datamodule is not None else 0
            self._flops_per_token = flops_per_token(
                params, layers=self.layers, d_model=self.d_model, seq_len=seq_len
            )

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        input_ids = batch["input_ids"] if isinstance(batch, dict) else batch[0]
        tokens = int(input_ids.numel()) * trainer.world_size
        self.total_tokens += tokens
        self._times.append(time.perf_counter())
        if len(self._times) > 1:
            self._tokens.append(tokens)
        if len(self._tokens) == 0:
            return
        elapsed = self._times[-1] - self._times[0]
        if elapsed <= 0:
            return
        self.tokens_per_s = sum(self._tokens) / elapsed
        # Logged on the Trainer's logging steps only: each `self.log` costs Lightning a pass over
        # every logged value, and the loggers write only every `log_every_n_steps` anyway.
        # (Lightning sets `log_every_n_steps` on the Trainer at runtime; its class does not declare it.)
        every = int(getattr(trainer, "log_every_n_steps", 1) or 1)
        if trainer.global_step % every != 0:
            return
        pl_module.log(
            "tokens_per_s", self.tokens_per_s, on_step=True, on_epoch=False, prog_bar=True
        )
        if self._flops_per_token and self._peak:
            mfu = self.tokens_per_s * self._flops_per_token / (self._peak * trainer.world_size)
            pl_module.log("mfu", mfu, on_step=True, on_epoch=False)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Time spent validating is not training throughput: start a fresh window.
        self._times.clear()
        self._tokens.clear()

    def state_dict(self) -> dict[str, Any]:
        return {"total_tokens": self.total_tokens}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.total_tokens = int(state_dict.get("total_tokens", 0))
