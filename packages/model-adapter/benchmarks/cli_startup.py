"""Start-up cost: `model-adapter --help` and `import model_adapter` vs a bare interpreter.

    python benchmarks/cli_startup.py [--runs 7]

Each command runs in a fresh process, alternating, and the medians are reported. The package
imports torch only when a name that needs it is first used, so `--help` should cost little more
than starting Python (target: under 0.3 s); `import torch` is timed too, as the cost avoided.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "import model_adapter": [sys.executable, "-c", "import model_adapter"],
    "model-adapter --help": [
        sys.executable,
        "-c",
        "import sys; from model_adapter.cli import main; sys.argv[0] = 'model-adapter'; main(['--help'])",
    ],
    "import torch": [sys.executable, "-c", "import torch"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.runs):
        for name, command in COMMANDS.items():
            started = time.perf_counter()
            subprocess.run(command, check=False, capture_output=True)
            times[name].append(time.perf_counter() - started)
    base = statistics.median(times["python -c pass"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<24} {median * 1e3:7.0f} ms  ({median / base:.1f}x a bare interpreter)")


if __name__ == "__main__":
    main()
