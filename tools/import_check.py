"""Import a package and every module in it, and check that each name in `__all__` exists.

    python tools/import_check.py model_adapter

Run with the interpreter of a venv holding the installed artifact (a wheel, never the checkout):
the `build`/`release` and `minimal` nox sessions and the release workflow use it to prove that a
package installs with what it declares. `__main__` modules are skipped (they run the CLI).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python tools/import_check.py <import_name>", file=sys.stderr)
        return 2
    name = args[0]
    package = importlib.import_module(name)
    missing = [n for n in getattr(package, "__all__", []) if not hasattr(package, n)]
    if missing:
        print(f"{name}.__all__ names missing attributes: {missing}", file=sys.stderr)
        return 1
    count = 0
    for info in pkgutil.walk_packages(package.__path__, name + "."):
        if info.name.endswith(".__main__"):
            continue
        importlib.import_module(info.name)
        count += 1
    print(
        f"{name} from {package.__path__[0]}: imported {count} modules and {len(getattr(package, '__all__', []))} public names"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
