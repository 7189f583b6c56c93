"""What every analysis needs: the adapter, the token windows to probe with, and small helpers.

`AnalysisContext` holds the adapter (run in eval mode, no autograd unless an analysis asks),
the probe ids `[B, T]` (from the user's texts or, without texts, reproducible random ids), and
the pieces that several analyses share: next-token losses, the token embedding module (for
attribution and embedding noise), and a stack of the module names being run (so that a
captured attention or activation call is named after the module that made it).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["AnalysisContext", "ModuleStack", "find_token_embedding"]


@dataclass
class AnalysisContext:
    """The adapter under analysis and the inputs every section probes it with."""

    adapter: Any  # UniversalModelAdapter (attributes read dynamically)
    input_ids: torch.Tensor  # [B, T] on the model's device
    vocab_size: int
    device: torch.device
    seed: int = 0
    token_labels: list[str] | None = (
        None  # the first window's tokens as text, when a tokenizer was given
    )
    inputs_note: str = ""
    _generator: Any = field(default=None, repr=False)

    @property
    def model(self) -> nn.Module:
        """The user's own module inside the adapter (hooks go there)."""
        return getattr(self.adapter, "model", self.adapter)

    def generator(self) -> torch.Generator:
        import torch

        if self._generator is None:
            self._generator = torch.Generator().manual_seed(self.seed)
        return self._generator

    def random_ids(self, shape: tuple[int, ...]) -> torch.Tensor:
        import torch

        return torch.randint(0, self.vocab_size, shape, generator=self.generator()).to(self.device)

    def logits(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Logits without autograd, in eval mode."""
        import torch

        self.adapter.eval()
        with torch.no_grad():
            return self.adapter(input_ids).float()

    def token_losses(self, logits: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
        """Next-token cross-entropy `[B, T-1]` of `logits` against the clean `input_ids`."""
        import torch.nn.functional as F

        predicted = logits[:, :-1].reshape(-1, logits.shape[-1]).float()
        targets = input_ids[:, 1:].reshape(-1)
        return F.cross_entropy(predicted, targets, reduction="none").view(input_ids.shape[0], -1)

    def token_label(self, position: int) -> str:
        if self.token_labels is not None and position < len(self.token_labels):
            return self.token_labels[position]
        return str(int(self.input_ids[0, position]))


def find_token_embedding(model: nn.Module, vocab_size: int) -> tuple[str, nn.Module] | None:
    """The `nn.Embedding` that maps token ids (vocab_size rows), preferring token-like names."""
    from torch import nn

    found = [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, nn.Embedding) and module.num_embeddings == vocab_size
    ]
    if not found:
        return None
    for name, module in found:
        leaf = name.rsplit(".", 1)[-1].lower()
        if any(word in leaf for word in ("tok", "wte", "embed_tokens", "word")):
            return name, module
    return found[0]


class ModuleStack:
    """Names of the modules running right now, kept by pre/post hooks while it is entered.

    `current()` is the innermost module's qualified name, so a functional call (scaled dot
    product attention, an activation) is reported under the module that made it. A module
    called several times in one forward (shared weights) gets `#2`, `#3` ... by `unique()`.
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.stack: list[str] = []
        self._seen: dict[str, int] = {}

    def current(self) -> str:
        return self.stack[-1] if self.stack else "(model)"

    def unique(self, name: str) -> str:
        count = self._seen.get(name, 0) + 1
        self._seen[name] = count
        return name if count == 1 else f"{name}#{count}"

    @contextlib.contextmanager
    def active(self) -> Iterator[ModuleStack]:
        handles = []
        for name, module in self.model.named_modules():
            label = name or "(model)"

            def push(_module: Any, _args: Any, label: str = label) -> None:
                self.stack.append(label)

            def pop(_module: Any, _args: Any, _output: Any) -> None:
                if self.stack:
                    self.stack.pop()

            handles.append(module.register_forward_pre_hook(push))
            handles.append(module.register_forward_hook(pop, always_call=True))
        try:
            yield self
        finally:
            for handle in handles:
                handle.remove()
            self.stack.clear()
