"""The loss a nanoGPT-style model computes for `targets=`: per-step time with and without it.

nanoGPT's `forward(idx, targets=None)` returns only the last position's logits without targets,
so the adapter passes `targets=input_ids`, and the model computes a cross-entropy loss that the
adapter discards. The adapter stops such a forward as soon as the logits exist
(`model_adapter.logits_shortcut`). This measures one forward+backward training step through two
adapters over the same model, one with the shortcut and one without, interleaved step by step
(the order alternating) so that load from other processes hits both alike; it prints the
median of the paired ratios (with / without: below 1 means the shortcut saves time).

Usage:
    python packages/model-adapter/benchmarks/targets_loss.py [--steps 60] [--batch 4] [--seq 64] [--vocab 16384]
(on a shared machine, set OMP_NUM_THREADS=1: oversubscribed threads swamp the difference)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# Run as a script: its folder is on sys.path.
from adapter_overhead import (
    GPT,
    GPTConfig,
    interleaved_steps,
    medians_and_paired_ratio,
    step_parser,
)

from model_adapter import UniversalModelAdapter


class NanoGPT(GPT):
    """nanoGPT's output contract: last-position logits without targets, (logits, loss) with."""

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        x = self.features(idx)
        if targets is None:
            return self.lm_head(x[:, [-1], :]), None
        logits = self.lm_head(x)
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
        return logits, loss


def main() -> None:
    parser = step_parser(__doc__.splitlines()[0], batch=4, seq=64)
    parser.add_argument("--vocab", type=int, default=16384)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = NanoGPT(GPTConfig(vocab_size=args.vocab, block_size=max(128, args.seq))).train()
    shortcut = UniversalModelAdapter(model, sequence_first=False)
    full = UniversalModelAdapter(model, sequence_first=False)
    full._logits_shortcut.enabled = False  # today's behaviour before the shortcut
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, vocab {args.vocab}, "
        f"batch {args.batch}, seq {args.seq}, median of {args.steps} interleaved forward+backward steps"
    )
    with_shortcut, without = interleaved_steps(model, shortcut, full, args.vocab, args)
    fast, slow, paired = medians_and_paired_ratio(with_shortcut, without)
    print(
        f"step without shortcut {slow * 1e3:8.2f} ms   with {fast * 1e3:8.2f} ms   "
        f"ratio of medians {fast / slow:.3f}   median paired ratio {paired:.3f}"
    )


if __name__ == "__main__":
    main()
