"""Data preparation: the token store vs the usual `datasets` recipe, wall time, CPU time, peak RSS.

    python benchmarks/data_prep.py [--sizes 10,100] [--seq-len 128] [--workdir DIR]

For each size (MB of text, made by repeating tinyshakespeare), each side runs in a fresh Python
process with a fresh `datasets` cache, one after the other:

* ``token store``: `load_text_source(path, document_split="line")` (the text read in chunks) + `AdaptiveTokenizerDataModule`
  `prepare_data()` + `setup()`: the tokenizers backend's batch encoding on every core, written
  into a flat uint16 file, packed windows and the train/val split served from its memory map;
  then 200 training batches are read, so the figure includes serving data.
* ``datasets baseline``: `datasets.load_dataset("text")` + `map(tokenize, batched=True,
  num_proc=2)` + `map(group_texts, batched=True, num_proc=2)` (Hugging Face's run_clm recipe),
  then 200 shuffled batches are read from its Arrow file, as a trainer serves them.

Both use the same saved BPE tokenizer and the same documents (one per line, as the `text`
builder makes them). Each child reports its wall and CPU time (its own plus its workers') and
its peak RSS (`resource.getrusage`: its own and its largest worker's; that figure includes the
pages of memory-mapped files it read, which the kernel reclaims under pressure) and its peak
anonymous memory (sampled from /proc, what runs a machine out of memory). The ratios (token store /
baseline) are measured in the same run on the same machine, so other load on a shared machine
moves both sides.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHAKESPEARE = Path(
    os.environ.get("TINYSHAKESPEARE")
    or Path(__file__).resolve().parents[3].parent / "shared" / "data" / "tinyshakespeare.txt"
)
VOCAB = 4096


class AnonymousPeak:
    """Peak anonymous memory (`RssAnon` in /proc/self/status), sampled every 20 ms on a thread.

    `ru_maxrss` also counts the file-backed pages of memory-mapped files (the Arrow text, the
    token file) that the process touched; the kernel drops those under pressure, so they never
    run a machine out of memory. Anonymous memory (the heap) is what does. Linux only.
    """

    def __init__(self) -> None:
        import threading

        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        try:
            with open("/proc/self/status", encoding="ascii") as status:
                for line in status:
                    if line.startswith("RssAnon:"):
                        self.peak_kb = max(self.peak_kb, int(line.split()[1]))
        except OSError:
            pass

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self._sample()

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        self._sample()
        return self.peak_kb / 1024


def _usage() -> dict[str, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "cpu_s": own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime,
        "rss_mb": own.ru_maxrss / 1024,  # Linux: KiB
        "worker_rss_mb": kids.ru_maxrss / 1024,
    }


def child_token_store(
    text: Path, tokenizer_dir: Path, work: Path, seq_len: int
) -> dict[str, float]:
    from transformers import AutoTokenizer

    from lightning_pipeline import AdaptiveTokenizerDataModule, load_text_source

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    dataset = load_text_source(text, document_split="line", cache_dir=work / "hf")
    module = AdaptiveTokenizerDataModule(
        tokenizer, dataset, seq_len=seq_len, batch_size=8, cache_dir=work / "tokens", progress=False
    )
    module.prepare_data()
    module.setup("fit")
    for index, _batch in enumerate(module.train_dataloader()):
        if index == 200:
            break
    return {
        "tokens": module.store.info.num_tokens,
        "rows": len(module.train_data) + len(module.val_data or []),
    }


def child_baseline(text: Path, tokenizer_dir: Path, work: Path, seq_len: int) -> dict[str, float]:
    import datasets
    import torch
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    eos = tokenizer.eos_token_id
    raw = datasets.load_dataset(
        "text", data_files={"train": str(text)}, split="train", cache_dir=str(work / "hf")
    )

    def tokenize(batch):
        ids = tokenizer(batch["text"], add_special_tokens=False)["input_ids"]
        return {"input_ids": [[*row, eos] for row in ids]}

    def group_texts(batch):
        stream = [token for row in batch["input_ids"] for token in row]
        usable = len(stream) // seq_len * seq_len
        return {"input_ids": [stream[i : i + seq_len] for i in range(0, usable, seq_len)]}

    tokenized = raw.map(tokenize, batched=True, num_proc=2, remove_columns=["text"])
    grouped = tokenized.map(group_texts, batched=True, num_proc=2)
    grouped.set_format("torch")
    generator = torch.Generator().manual_seed(0)
    order = torch.randperm(len(grouped), generator=generator)
    for index in range(200):  # serve 200 shuffled batches from the Arrow file, as a trainer does
        _batch = grouped[order[index * 8 : (index + 1) * 8].tolist()]
    return {"tokens": len(grouped) * seq_len, "rows": len(grouped)}


def run_child(side: str, text: Path, tokenizer_dir: Path, seq_len: int) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix=f"bench-{side}-", dir=text.parent))
    try:
        env = {
            **os.environ,
            "HF_DATASETS_CACHE": str(work / "hf"),
            "TOKENIZERS_PARALLELISM": "true",
        }
        command = [
            sys.executable,
            __file__,
            "--child",
            side,
            "--text",
            str(text),
            "--tokenizer",
            str(tokenizer_dir),
            "--workdir",
            str(work),
            "--seq-len",
            str(seq_len),
        ]
        started = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        wall = time.perf_counter() - started
        if result.returncode != 0:
            raise SystemExit(f"{side} child failed:\n{result.stderr[-3000:]}")
        record = json.loads(result.stdout.strip().splitlines()[-1])
        record["wall_s"] = wall
        return record
    finally:
        shutil.rmtree(work, ignore_errors=True)


def make_text(folder: Path, megabytes: int) -> Path:
    path = folder / f"shakespeare-{megabytes}mb.txt"
    if not path.exists():
        chunk = SHAKESPEARE.read_bytes()
        target = megabytes * 1_000_000
        with open(path, "wb") as out:
            written = 0
            while written < target:
                piece = chunk[: target - written]
                out.write(piece)
                written += len(piece)
    return path


def make_tokenizer(folder: Path) -> Path:
    import datasets

    from adaptive_tokenizer import AdaptiveTokenizer

    target = folder / "tokenizer"
    if not (target / "tokenizer.json").exists():
        lines = [
            line for line in SHAKESPEARE.read_text(encoding="utf-8").splitlines() if line.strip()
        ]
        tokenizer = AdaptiveTokenizer.load_or_create(
            vocab_size=VOCAB, dataset=datasets.Dataset.from_dict({"text": lines}), strategy="bpe"
        )
        tokenizer.save_pretrained(str(target))
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="10,100", help="MB of text, comma-separated (1000 = 1 GB)"
    )
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument(
        "--workdir", default=None, help="where the generated text goes (default: a temp folder)"
    )
    parser.add_argument(
        "--sides", default="store,baseline", help="which sides to run (store, baseline)"
    )
    parser.add_argument("--child", choices=("store", "baseline"), help=argparse.SUPPRESS)
    parser.add_argument("--text", help=argparse.SUPPRESS)
    parser.add_argument("--tokenizer", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        import logging

        logging.disable(logging.WARNING)
        anonymous = AnonymousPeak()
        started = time.perf_counter()
        work = Path(args.workdir)
        if args.child == "store":
            record = child_token_store(Path(args.text), Path(args.tokenizer), work, args.seq_len)
        else:
            record = child_baseline(Path(args.text), Path(args.tokenizer), work, args.seq_len)
        record.update(
            _usage(), inner_wall_s=time.perf_counter() - started, anon_mb=anonymous.stop()
        )
        print(json.dumps(record))
        return

    if not SHAKESPEARE.exists():
        raise SystemExit(f"{SHAKESPEARE} not found: set TINYSHAKESPEARE to tinyshakespeare.txt")
    sizes = [int(s) for s in args.sizes.split(",") if s]
    own_tmp = args.workdir is None
    folder = Path(args.workdir or tempfile.mkdtemp(prefix="data-prep-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        tokenizer_dir = make_tokenizer(folder)
        print(
            f"cores: {os.cpu_count()}, tokenizer: BPE {VOCAB}, seq_len {args.seq_len}, documents: one per line"
        )
        print(
            f"{'size':>7} {'side':<18} {'wall s':>8} {'CPU s':>8} {'peak RSS MB':>12} {'anon MB':>8} "
            f"{'worker RSS MB':>14} {'tokens':>12}"
        )
        results = {}
        for size in sizes:
            text = make_text(folder, size)
            for side in args.sides.split(","):
                record = run_child(side, text, tokenizer_dir, args.seq_len)
                results[(size, side)] = record
                name = "token store" if side == "store" else "datasets baseline"
                print(
                    f"{size:>5}MB {name:<18} {record['wall_s']:>8.1f} {record['cpu_s']:>8.1f} "
                    f"{record['rss_mb']:>12.0f} {record['anon_mb']:>8.0f} {record['worker_rss_mb']:>14.0f} {record['tokens']:>12,}",
                    flush=True,
                )
            text.unlink()
        print()
        for size in sizes if args.sides == "store,baseline" else ():
            store, base = results[(size, "store")], results[(size, "baseline")]
            print(
                f"{size:>5}MB ratios (token store / baseline): wall {store['wall_s'] / base['wall_s']:.2f}, "
                f"CPU {store['cpu_s'] / base['cpu_s']:.2f}, peak RSS {store['rss_mb'] / base['rss_mb']:.2f} "
                f"(baseline workers peak at {base['worker_rss_mb']:.0f} MB more each)"
            )
        if len(sizes) > 1:
            low, high = sizes[0], sizes[-1]
            for side, name in (("store", "token store"), ("baseline", "datasets baseline")):
                if (high, side) not in results:
                    continue
                for key, label in (("rss_mb", "peak RSS"), ("anon_mb", "peak anonymous RSS")):
                    grow = results[(high, side)][key] - results[(low, side)][key]
                    per_mb = grow / (high - low)
                    print(
                        f"{name}: {label} grows {grow:.0f} MB from {low} to {high} MB of text "
                        f"({per_mb:.2f} MB per MB of text; extrapolated to 1 GB: +{per_mb * (1000 - low):.0f} MB)"
                    )
    finally:
        if own_tmp:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
