"""FastBPETrainer vs raw `tokenizers` ByteLevelBPETokenizer, side by side on the same data.

Run: python packages/adaptive-tokenizer/benchmarks/bpe_speed.py [--repeats 3] [--data PATH]

Both train byte-level BPE with the same settings (min_frequency=2, the same 4 special tokens,
the 256-byte initial alphabet) on the lines of tinyshakespeare. "ours" is the full
`train_on_dataset` call with a fresh cache folder: fingerprinting, training, exact-size
fixing, wrapping as PreTrainedTokenizerFast and writing the cache entry. Runs alternate and
repeat; the ratio uses the fastest run of each side (the least disturbed by other processes on
a shared machine); the median ratio and the ratio of CPU time (all threads of this process,
less sensitive to other processes' load) are printed next to it. Also prints the sizes each one
reaches per target, and the cache-hit time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tokenizers import ByteLevelBPETokenizer

from adaptive_tokenizer import FastBPETrainer, SpecialTokens

# ../shared/data beside the checkout (the monorepo root is three levels above), or $TINYSHAKESPEARE.
DEFAULT_DATA = Path(
    os.environ.get("TINYSHAKESPEARE")
    or Path(__file__).resolve().parents[3].parent / "shared" / "data" / "tinyshakespeare.txt"
)
SPECIALS = SpecialTokens().all()


def raw_train(lines: list[str], target: int) -> int:
    tok = ByteLevelBPETokenizer()
    tok.train_from_iterator(
        lines, vocab_size=target, min_frequency=2, special_tokens=SPECIALS, show_progress=False
    )
    return tok.get_vocab_size()


def ours_train(lines: list[str], target: int, cache_dir: str | None) -> int:
    tok = FastBPETrainer(show_progress=False).train_on_dataset(lines, target, cache_dir=cache_dir)
    return len(tok)


def timed(fn, *args) -> tuple[float, int]:
    started = time.perf_counter()
    size = fn(*args)
    return time.perf_counter() - started, size


def timed_cpu(fn, *args) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of this process, all threads), size."""
    wall, cpu = time.perf_counter(), time.process_time()
    size = fn(*args)
    return time.perf_counter() - wall, time.process_time() - cpu, size


def compare(lines: list[str], target: int, repeats: int) -> dict:
    times: dict[str, list[tuple[float, float]]] = {"raw": [], "ours": []}
    sizes: dict[str, int] = {}
    for i in range(repeats):
        with tempfile.TemporaryDirectory() as cache:
            order = [
                ("raw", raw_train, (lines, target)),
                ("ours", ours_train, (lines, target, cache)),
            ]
            for name, fn, args in order if i % 2 == 0 else order[::-1]:
                wall, cpu, sizes[name] = timed_cpu(fn, *args)
                times[name].append((wall, cpu))
    raw_wall, ours_wall = ([w for w, _ in times[k]] for k in ("raw", "ours"))
    raw_cpu, ours_cpu = ([c for _, c in times[k]] for k in ("raw", "ours"))
    return {
        "raw_s": min(raw_wall),
        "ours_s": min(ours_wall),
        "ratio": min(ours_wall) / min(raw_wall),
        "median_ratio": statistics.median(ours_wall) / statistics.median(raw_wall),
        "cpu_ratio": min(ours_cpu) / min(raw_cpu),
        "raw_size": sizes["raw"],
        "our_size": sizes["ours"],
    }


def cache_hit_times(lines: list[str], target: int, data_path: Path) -> tuple[float, float]:
    """(warm in-process repeat call, fresh process including imports) in seconds."""
    with tempfile.TemporaryDirectory() as cache:
        ours_train(lines, target, cache)
        warm = statistics.median(timed(ours_train, lines, target, cache)[0] for _ in range(5))
        code = (
            "import time, sys; t = time.perf_counter();"
            "from adaptive_tokenizer import FastBPETrainer;"
            f"lines = open({str(data_path)!r}, encoding='utf-8').read().splitlines(True);"
            f"tok = FastBPETrainer(show_progress=False).train_on_dataset(lines, {target}, cache_dir={cache!r});"
            "print(time.perf_counter() - t)"
        )
        fresh = float(
            subprocess.run(
                [sys.executable, "-c", code], check=True, capture_output=True, text=True
            ).stdout.strip()
        )
    return warm, fresh


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    lines = args.data.read_text(encoding="utf-8").splitlines(keepends=True)
    print(f"data: {args.data} ({len(lines)} lines, {sum(map(len, lines))} characters)")
    ours_train(lines[:1000], 300, None)  # warm up imports on both sides
    raw_train(lines[:1000], 300)

    print("\n== speed: ours (full train_on_dataset, cold cache) vs raw ByteLevelBPETokenizer ==")
    print(
        f"{'data':>12} {'target':>7} {'raw s':>7} {'ours s':>7} {'ratio':>6} {'median ratio':>13} "
        f"{'CPU-time ratio':>15} {'sizes raw/ours':>15}"
    )
    for label, data in (("10K samples", lines[:10_000]), ("whole", lines)):
        for target in (3001, 8000, 32000):
            r = compare(data, target, args.repeats)
            print(
                f"{label:>12} {target:>7} {r['raw_s']:7.3f} {r['ours_s']:7.3f} {r['ratio']:6.2f} "
                f"{r['median_ratio']:13.2f} {r['cpu_ratio']:15.2f} {r['raw_size']:>7}/{r['our_size']:<7}"
            )

    print("\n== sizes reached on the whole corpus ==")
    print(f"{'target':>7} {'raw':>7} {'ours':>7}")
    for target in (300, 3001, 8000, 32000, 50257):
        raw_size = raw_train(lines, target)
        our_size = ours_train(lines, target, None)
        print(f"{target:>7} {raw_size:>7} {our_size:>7}{'' if our_size == target else '  MISSED'}")

    warm, fresh = cache_hit_times(lines, 32000, args.data)
    print(
        f"\n== cache hit (whole corpus, target 32000) ==\nrepeat call in the same process: {warm:.3f} s"
        f"\nfresh process, imports and file read included: {fresh:.3f} s"
    )


if __name__ == "__main__":
    main()
