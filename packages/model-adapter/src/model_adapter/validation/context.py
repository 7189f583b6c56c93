"""What every Tier 1 check needs: the adapter under test, the sizes to probe with, random ids.

The checks share one `ValidationContext` so that they probe the same model at the same sizes
with reproducible ids, and so that a check can build the other causal variant of the adapter
(raw vs repaired) over the very same user module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from torch import nn


@dataclass
class ValidationContext:
    """The adapter under test and the settings of one validation run."""

    adapter: Any  # a UniversalModelAdapter (typed loosely: its attributes are read dynamically)
    vocab_size: int
    max_seq_len: int | None
    seq_len: int
    batch_size: int
    causal: bool
    quick: bool
    device: torch.device
    seed: int = 0
    _generator: Any = field(default=None, repr=False)

    @property
    def adapter_causal(self) -> bool:
        """Whether the adapter under test enforces causality (its own flag when it has one)."""
        return bool(getattr(self.adapter, "causal", self.causal))

    def random_ids(self, batch: int, length: int) -> torch.Tensor:
        """Reproducible uniform ids in [0, vocab_size) on the model's device."""
        import torch

        if self._generator is None:
            self._generator = torch.Generator().manual_seed(self.seed)
        ids = torch.randint(0, self.vocab_size, (batch, length), generator=self._generator)
        return ids.to(self.device)

    def random_offsets(self, shape: tuple[int, ...]) -> torch.Tensor:
        """Ids in [1, vocab_size): added modulo vocab_size they always change a token."""
        import torch

        if self._generator is None:
            self._generator = torch.Generator().manual_seed(self.seed)
        return torch.randint(1, self.vocab_size, shape, generator=self._generator).to(self.device)

    def logits(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        *,
        adapter: nn.Module | None = None,
    ) -> torch.Tensor:
        """Logits in eval mode without autograd (dropout off, so two calls are comparable)."""
        import torch

        module = self.adapter if adapter is None else adapter
        module.eval()
        with torch.no_grad():
            if attention_mask is None:
                return module(input_ids)
            return module(input_ids, attention_mask=attention_mask)

    def adapter_variant(self, causal: bool) -> Any:
        """The adapter under test, or another adapter over the same user module with `causal`.

        The raw model (causal=False) and the repaired one (causal=True) share every weight, so
        comparing them isolates what the adapter's causal mask changes. The raw variant calls
        the model's own `forward` where it is callable, so that it measures the model exactly as
        written (a graph run without the mask would also drop masks the export applies itself).
        """
        if self.adapter_causal == causal:
            return self.adapter
        from model_adapter.adapter import UniversalModelAdapter

        strategy = getattr(self.adapter, "strategy", "auto")
        inspector = getattr(self.adapter, "inspector", None)
        if not causal and inspector is not None and inspector.is_simple_signature():
            strategy = "forward"
        variant = UniversalModelAdapter(
            self.adapter.model,
            self.adapter.config,
            causal=causal,
            strategy=strategy,
            sequence_first=getattr(self.adapter, "sequence_first", False),
        )
        return variant.to(self.device)


def short_name(parameter_name: str) -> str:
    """A parameter's name as the user wrote it: without the adapter's `model.` prefix."""
    return parameter_name.removeprefix("model.")


def named_groups(groups: list[tuple[str, list[str]]]) -> list[str]:
    """`label + name_list(names)` for each group that is not empty: the parts of one message."""
    return [label + name_list(names) for label, names in groups if names]


def name_list(names: list[str], limit: int = 4) -> str:
    """`a, b, c and 5 more` for messages that must stay one line."""
    if len(names) <= limit:
        return ", ".join(names)
    return ", ".join(names[:limit]) + f" and {len(names) - limit} more"
