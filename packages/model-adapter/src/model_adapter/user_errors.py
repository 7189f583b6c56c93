"""One line for errors the user can fix: the package's own, and the machine's (disk, permissions, encodings).

The CLIs of model-adapter, model-export and lightning-pipeline share this one function, so a full
disk or a read-only folder reads the same everywhere: one line naming the file and the fix, exit
status 2, no traceback. Anything it does not recognise is a bug and keeps its traceback.
(adaptive-tokenizer cannot depend on model-adapter; its CLI carries a minimal copy of the
OSError part.)

Example:
    >>> try:
    ...     main()
    ... except Exception as error:                      # doctest: +SKIP
    ...     message = user_error_message(error, (MyPackageError,))
    ...     if message is None:
    ...         raise
    ...     print(f"prog: error: {message}", file=sys.stderr)
"""

from __future__ import annotations

import errno

__all__ = ["user_error_message"]

# torch's zip writer reports a full disk without an errno: "[enforce fail at inline_container.cc:...]
# unexpected pos ..." or "PytorchStreamWriter failed writing file ...".
_TORCH_WRITE_FAILURES = ("inline_container.cc", "PytorchStreamWriter failed writing")


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _walk(error: BaseException) -> list[BaseException]:
    """The error and its causes/contexts (a write error often arrives wrapped)."""
    seen: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def user_error_message(
    error: BaseException, user_errors: tuple[type[BaseException], ...] = ()
) -> str | None:
    """The one-line message for `error` when the user can fix it, else None (a bug: re-raise it).

    Recognised: instances of `user_errors` (the packages' own, already one line); a full disk
    (ENOSPC, EDQUOT, and torch's zip-writer form); a folder that cannot be written (EROFS,
    EACCES, EPERM); a file that is not UTF-8 text.
    """
    if user_errors and isinstance(error, user_errors):
        return str(error)
    for found in _walk(error):
        if isinstance(found, OSError) and found.errno in (errno.ENOSPC, errno.EDQUOT):
            where = f" while writing {found.filename}" if found.filename else ""
            return f"the disk is full{where}: free some space or choose an output folder on another disk; nothing was lost"
        if isinstance(found, RuntimeError) and any(
            mark in str(found) for mark in _TORCH_WRITE_FAILURES
        ):
            return (
                "writing a file failed half way, most likely because the disk is full "
                f"({_first_line(found)[:120]}): free some space or choose an output folder on another disk; "
                "nothing was lost"
            )
        if isinstance(found, OSError) and found.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            where = found.filename or "a file"
            return (
                f"cannot write {where} ({found.strerror or 'permission denied'}): "
                "choose an output folder you can write to"
            )
        if isinstance(found, UnicodeDecodeError):
            return (
                f"a file is not UTF-8 text ({found.reason} at byte {found.start}): "
                "pass a text file saved as UTF-8"
            )
    return None
