"""What a training run shows: our facts, not other libraries' banners.

`quiet_console()` wraps `train()`: Lightning's informational banners ("GPU available: ...",
"💡 Tip: ...", "`Trainer.fit` stopped ...") and a short list of known deprecation warnings from
the libraries we call are silenced for the duration of the call. The user's own warnings and
every warning or error of Lightning itself still show. `interactive_output()` decides between a
live progress bar and plain progress lines (for logs and pipes).
"""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

# Loggers whose INFO lines are banners and tips, not facts about the user's run.
BANNER_LOGGERS = (
    "pytorch_lightning.utilities.rank_zero",
    "lightning_fabric.utilities.rank_zero",
    "lightning.pytorch.utilities.rank_zero",
    "lightning.fabric.utilities.rank_zero",
)
# Warnings from the libraries we call that say nothing the user can act on (message regexes).
KNOWN_WARNINGS = (
    r".*isinstance\(treespec, LeafSpec\)` is deprecated",  # torch's pytree, via Lightning's _pytree
    r".*does not have many workers which may be a bottleneck",  # we choose num_workers on purpose
    r".*Checkpoint directory .* exists and is not empty",  # our checkpoints folder, resumed on purpose
    r".*`Trainer\(val_check_interval=",  # Lightning restating the eval cadence we chose
    r".*The number of training batches .* is smaller than the logging interval",
)


def in_notebook() -> bool:
    """True inside a Jupyter/Colab kernel (its stdout is not a terminal, yet shows live widgets)."""
    shell = sys.modules.get("IPython")
    get_ipython = getattr(shell, "get_ipython", None)
    return bool(get_ipython and get_ipython() is not None and "ipykernel" in sys.modules)


def interactive_output() -> bool:
    """True when a live progress bar can be seen: a terminal or a notebook (not a pipe or a file)."""
    return bool(getattr(sys.stdout, "isatty", lambda: False)()) or in_notebook()


@contextmanager
def quiet_console() -> Iterator[None]:
    """Silence known banners and deprecation warnings of the libraries `train()` calls, for the block.

    Usable as a decorator. Warnings are filtered by message (never by category or module wholesale),
    so the user's own warnings, and any new warning of a library, still show.
    """
    loggers = [logging.getLogger(name) for name in BANNER_LOGGERS]
    saved = [each.level for each in loggers]
    for each in loggers:
        each.setLevel(logging.WARNING)
    # datasets' bars ("Generating train split", "Tokenizing") are noise in a log file or a pipe.
    restore_bars = False if interactive_output() else _datasets_progress_off()
    try:
        with warnings.catch_warnings():
            for pattern in KNOWN_WARNINGS:
                warnings.filterwarnings("ignore", message=pattern)
            yield
    finally:
        for each, level in zip(loggers, saved):
            each.setLevel(level)
        if restore_bars:
            from datasets.utils import logging as datasets_logging

            datasets_logging.enable_progress_bar()


def _datasets_progress_off() -> bool:
    """Turn datasets' progress bars off; True when they were on (to turn them back on after)."""
    from datasets.utils import logging as datasets_logging

    before = bool(datasets_logging.is_progress_bar_enabled())
    datasets_logging.disable_progress_bar()
    return before


__all__ = ["BANNER_LOGGERS", "KNOWN_WARNINGS", "in_notebook", "interactive_output", "quiet_console"]
