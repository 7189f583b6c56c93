"""Command-line flags generated from a config dataclass's fields, so the CLI adds no policy.

Each field becomes a flag (its name with dashes, or its metadata `flag`), its help is the field's
`help` metadata followed by the default, and its type comes from the annotation: booleans also
get a negative form (`--no-packing` for `packing`), optional values accept `none`, tuples take
several values. Flags default to
"not given" (`argparse.SUPPRESS`), so `given_values` returns only what the user typed, ready to
be laid over a config file or a run's `run.json`. Adding a field to `TrainingConfig` adds its flag.

Example:
    >>> import argparse
    >>> from lightning_pipeline.config import TrainingConfig
    >>> parser = argparse.ArgumentParser()
    >>> add_config_flags(parser, TrainingConfig)
    >>> given_values(parser.parse_args(["--max-steps", "300", "--no-packing"]), TrainingConfig)
    {'max_steps': 300, 'packing': False}
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any

NONE_WORDS = ("none", "null")


def flag_name(item: dataclasses.Field) -> str:
    """The flag of a field: `--` + its metadata `flag`, or its name with dashes."""
    return "--" + item.metadata.get("flag", item.name.replace("_", "-"))


def _parts(annotation: Any) -> tuple[list[Any], bool]:
    """The non-None members of a (possibly optional) union, and whether None is allowed."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        args = list(typing.get_args(annotation))
        return [a for a in args if a is not type(None)], type(None) in args
    return [annotation], False


def _converter(
    kinds: list[Any], optional: bool, parse: Callable[[str], Any] | None
) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        if optional and text.strip().lower() in NONE_WORDS:
            return None
        if parse is not None:
            return parse(text)
        for (
            kind
        ) in kinds:  # the first member that reads the text wins (int before float before str)
            if kind in (int, float, str):
                try:
                    return kind(text)
                except ValueError:
                    continue
        raise ValueError(text)

    convert.__name__ = "/".join(
        getattr(k, "__name__", str(k)) for k in kinds
    )  # argparse names it in errors
    return convert


def add_config_flags(
    parser: argparse.ArgumentParser, cls: type, *, exclude: Iterable[str] = ()
) -> None:
    """Add one flag per field of dataclass `cls` (except `exclude`), each defaulting to 'not given'."""
    hints = typing.get_type_hints(cls)
    groups: dict[str, Any] = {}
    skipped = set(exclude)
    for item in dataclasses.fields(cls):
        if item.name in skipped or not item.init or item.metadata.get("cli") is False:
            continue
        kinds, optional = _parts(hints[item.name])
        default = (
            item.default_factory()
            if item.default_factory is not dataclasses.MISSING
            else item.default
        )
        help_text = str(item.metadata.get("help", "")).replace("%", "%%")
        shown = (
            ("derived" if "derived" in help_text else "none")
            if default in (None, "", [], {})
            else default
        )
        kwargs: dict[str, Any] = {
            "dest": item.name,
            "default": argparse.SUPPRESS,
            "help": f"{help_text} (default: {shown})" if help_text else f"default: {shown}",
        }
        names = [flag_name(item), *item.metadata.get("aliases", ())]
        target = parser
        if "group" in item.metadata:
            group_name = item.metadata["group"]
            if group_name not in groups:
                groups[group_name] = parser.add_mutually_exclusive_group()
            target = groups[group_name]
        if kinds == [bool]:
            kwargs["action"] = argparse.BooleanOptionalAction
            target.add_argument(*names, **kwargs)
            continue
        origin = typing.get_origin(kinds[0])
        parse = item.metadata.get("parse")
        if origin is tuple:
            kwargs["nargs"] = item.metadata.get("nargs", len(typing.get_args(kinds[0])))
            kwargs["type"] = parse or typing.get_args(kinds[0])[0]
        else:
            if "nargs" in item.metadata:
                kwargs["nargs"] = item.metadata["nargs"]
            kwargs["type"] = _converter(kinds, optional, parse)
        if "choices" in item.metadata:
            kwargs["choices"] = item.metadata["choices"]
        if "metavar" in item.metadata:
            kwargs["metavar"] = item.metadata["metavar"]
        target.add_argument(*names, **kwargs)


def given_values(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The fields of `cls` given on the command line (flags left out are absent, not defaulted)."""
    names = {item.name for item in dataclasses.fields(cls)}
    return {name: value for name, value in vars(args).items() if name in names}


__all__ = ["add_config_flags", "flag_name", "given_values"]
