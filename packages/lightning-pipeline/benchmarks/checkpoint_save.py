"""Checkpoint save: `AtomicCheckpointIO.save_checkpoint` vs `torch.save` + `fsync` of the same state.

    python benchmarks/checkpoint_save.py [--rounds 15] [--scale 4]

The state is what Lightning saves for the bundled example model trained with AdamW (weights,
both Adam moments, step counters), widened `--scale` times so the file is tens of MB. The two
sides alternate round by round in one process, writing into the same folder; the ratio of the
medians is reported for wall time (target <= 1.15) and for CPU time. What the atomic save adds:
a temporary name and a rename, an fsync of the folder and a small metadata JSON written the same
way (its checksum is the CRC-32 torch's zip writer stores for every record, so no second one).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def make_state(scale: int) -> dict:
    import torch

    from model_adapter import UniversalModelAdapter, example_export_path, load_model

    model, config = load_model(example_export_path())
    adapter = UniversalModelAdapter(model, config)
    weights = {
        k: v.repeat(scale, *([1] * (v.dim() - 1))) if v.dim() else v
        for k, v in adapter.state_dict().items()
    }
    moments = {
        i: {
            "step": torch.tensor(100.0),
            "exp_avg": torch.randn_like(v.float()),
            "exp_avg_sq": torch.rand_like(v.float()),
        }
        for i, v in enumerate(weights.values())
    }
    return {
        "epoch": 0,
        "global_step": 100,
        "pytorch-lightning_version": "2",
        "state_dict": weights,
        "optimizer_states": [
            {"state": moments, "param_groups": [{"lr": 3e-4, "params": list(moments)}]}
        ],
        "lr_schedulers": [{"last_epoch": 100}],
        "loops": {},
        "callbacks": {},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument(
        "--scale", type=int, default=4, help="widen the example model's tensors this many times"
    )
    args = parser.parse_args()

    import torch

    from lightning_pipeline.checkpoint_io import AtomicCheckpointIO

    state = make_state(args.scale)
    io = AtomicCheckpointIO()

    def plain(path: Path) -> None:
        torch.save(state, path)
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())

    def atomic(path: Path) -> None:
        io.save_checkpoint(state, path)

    timings: dict[str, list[tuple[float, float]]] = {"plain": [], "atomic": []}
    with tempfile.TemporaryDirectory(prefix="ckpt-bench-") as tmp:
        folder = Path(tmp)
        for side, save in (("plain", plain), ("atomic", atomic)):  # warm-up, not counted
            save(folder / f"{side}.ckpt")
        for round_index in range(args.rounds):
            order = [("plain", plain), ("atomic", atomic)]
            for side, save in order if round_index % 2 == 0 else order[::-1]:
                wall, cpu = time.perf_counter(), time.process_time()
                save(folder / f"{side}.ckpt")
                timings[side].append((time.perf_counter() - wall, time.process_time() - cpu))
        size = (folder / "atomic.ckpt").stat().st_size

    def median(side: str, index: int) -> float:
        return statistics.median(t[index] for t in timings[side])

    print(
        f"checkpoint of {size / 1e6:.1f} MB, {args.rounds} alternating rounds, cores {os.cpu_count()}"
    )
    print(
        f"wall  torch.save+fsync {median('plain', 0) * 1e3:7.1f} ms   AtomicCheckpointIO {median('atomic', 0) * 1e3:7.1f} ms   "
        f"ratio {median('atomic', 0) / median('plain', 0):.3f} (target <= 1.15)"
    )
    print(
        f"CPU   torch.save+fsync {median('plain', 1) * 1e3:7.1f} ms   AtomicCheckpointIO {median('atomic', 1) * 1e3:7.1f} ms   "
        f"ratio {median('atomic', 1) / median('plain', 1):.3f}"
    )
    pairs = [a[0] / p[0] for p, a in zip(timings["plain"], timings["atomic"])]
    print(
        f"per-round wall ratios: median {statistics.median(pairs):.3f}, min {min(pairs):.3f}, max {max(pairs):.3f}"
    )


if __name__ == "__main__":
    main()
