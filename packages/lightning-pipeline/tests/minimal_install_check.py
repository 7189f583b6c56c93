"""Run by `nox -s "minimal(lightning-pipeline)"` in a venv without the `notebook` extra.

Not a pytest module (the name does not start with `test_`): the unit tests run with ipywidgets
installed. Here it must be absent, and building the wizard must fail with the install hint.
"""

from __future__ import annotations

import importlib.util
import sys

EXTRA = "lightning-pipeline[notebook]"


def main() -> int:
    if importlib.util.find_spec("ipywidgets") is not None:
        print("ipywidgets is installed in this venv: the base install must not pull it in", file=sys.stderr)
        return 1
    from lightning_pipeline import SetupWizard

    try:
        SetupWizard()
    except ImportError as error:
        if EXTRA not in str(error):
            print(f"SetupWizard() without ipywidgets raised {error!r}, which does not name {EXTRA}", file=sys.stderr)
            return 1
        print(f"SetupWizard() without ipywidgets: {error}")
        return 0
    print("SetupWizard() built without ipywidgets; expected an ImportError naming the extra", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
