"""Run by `nox -s "minimal(lightning-pipeline)"` in a venv without the `notebook` extra.

Not a pytest module (the name does not start with `test_`): the unit tests run with ipywidgets
installed. Here it must be absent, and building the wizard must fail with the install hint; so
must `--logger tensorboard` without the `tensorboard` extra.
"""

from __future__ import annotations

import importlib.util
import sys

EXTRA = "lightning-pipeline[notebook]"


def check_logger_extra() -> int:
    from lightning_pipeline.errors import ConfigError
    from lightning_pipeline.experiment_loggers import check_loggers

    if importlib.util.find_spec("tensorboard") is not None:
        print(
            "tensorboard is installed in this venv: the base install must not pull it in",
            file=sys.stderr,
        )
        return 1
    try:
        check_loggers(["tensorboard"])
    except ConfigError as error:
        if "lightning-pipeline[tensorboard]" not in str(error):
            print(
                f"--logger tensorboard without tensorboard raised {error!r}, naming no extra",
                file=sys.stderr,
            )
            return 1
        print(f"--logger tensorboard without tensorboard: {error}")
        return 0
    print("--logger tensorboard passed its check without tensorboard installed", file=sys.stderr)
    return 1


def main() -> int:
    if check_logger_extra():
        return 1
    if importlib.util.find_spec("ipywidgets") is not None:
        print(
            "ipywidgets is installed in this venv: the base install must not pull it in",
            file=sys.stderr,
        )
        return 1
    from lightning_pipeline import SetupWizard

    try:
        SetupWizard()
    except ImportError as error:
        if EXTRA not in str(error):
            print(
                f"SetupWizard() without ipywidgets raised {error!r}, which does not name {EXTRA}",
                file=sys.stderr,
            )
            return 1
        print(f"SetupWizard() without ipywidgets: {error}")
        return 0
    print(
        "SetupWizard() built without ipywidgets; expected an ImportError naming the extra",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
