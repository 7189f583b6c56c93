"""Run every ```bash and ```python block of the guides in docs/, in order, in one scratch folder.

    python notebook_tests/run_guides.py WORKDIR [GUIDE.md ...]

Blocks run top to bottom, guide after guide (the deployment guide exports the run the training
guide trained), each in a fresh process: bash with `-euo pipefail`, python with this
interpreter. The first failing block stops the run and is printed with its output.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"
ORDER = (
    "TRAINING_GUIDE.md",
    "DEPLOYMENT_GUIDE.md",
    "TROUBLESHOOTING.md",
    "PLATFORM_RECOMMENDATIONS.md",
)
BLOCK = re.compile(r"^```(bash|python)\n(.*?)^```", flags=re.S | re.M)


def blocks(markdown: str) -> list[tuple[str, str]]:
    """(language, code) of each fenced bash / python block."""
    return [(match.group(1), match.group(2)) for match in BLOCK.finditer(markdown)]


def run_block(language: str, code: str, workdir: Path) -> subprocess.CompletedProcess:
    command = (
        ["bash", "-euo", "pipefail", "-c", code]
        if language == "bash"
        else [sys.executable, "-c", code]
    )
    return subprocess.run(command, cwd=workdir, capture_output=True, text=True, check=False)


def main(argv: list[str]) -> int:
    workdir = Path(argv[0]).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    guides = argv[1:] or ORDER
    count = 0
    for name in guides:
        for index, (language, code) in enumerate(blocks((DOCS / name).read_text(encoding="utf-8"))):
            print(f"== {name} block {index} ({language})", flush=True)
            result = run_block(language, code, workdir)
            print(result.stdout[-1500:], end="", flush=True)
            if result.returncode != 0:
                print(
                    f"FAIL: {name} block {index} exited {result.returncode}:\n{code}\n{result.stderr[-4000:]}",
                    file=sys.stderr,
                )
                return 1
            count += 1
    print(f"OK: {count} blocks of {len(guides)} guides ran")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
