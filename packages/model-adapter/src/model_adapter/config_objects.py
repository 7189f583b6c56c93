"""Config objects built from config.json for constructors that take one (`GPT(config)`).

Models in the wild take their hyper-parameters as one object, written in several styles:

- a dataclass (`GPTConfig`, nanoGPT) or a class whose `__init__` takes the values as keywords;
- a class with a `get_default_config()` class method whose result gets attributes set
  (minGPT's `CfgNode`: `config = GPT.get_default_config(); config.n_layer = 3`); the method may
  live on the config class or on the model class itself;
- a `SimpleNamespace`, an `argparse.Namespace` or a plain dict read by attribute or key.

`config_object` builds whichever the constructor asks for from config.json's values.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import inspect
from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import Any

from model_adapter.config import config_value

__all__ = ["ConfigNamespace", "apply_config_values", "config_object", "flat_config"]

_SKIPPED_KEYS = ("nodes",)


def flat_config(data: Mapping[str, Any]) -> dict[str, Any]:
    """config.json as one flat dict: top-level keys win over the `nodes` params."""
    flat = {k: v for k, v in data.items() if k not in _SKIPPED_KEYS}
    nodes = data.get("nodes")
    if isinstance(nodes, list):
        for node in nodes:
            params = node.get("params") if isinstance(node, Mapping) else None
            if isinstance(params, Mapping):
                for key, value in params.items():
                    flat.setdefault(key, value)
    return flat


class ConfigNamespace(SimpleNamespace):
    """config.json's values read by attribute (`cfg.n_embd`) or by key (`cfg["n_embd"]`).

    For a constructor that takes `config`/`args` without saying its type: it works whether the
    model reads attributes (SimpleNamespace, argparse) or keys (a dict), and an attribute the
    file spells differently (`n_embd` for `d_model`) is found through the known aliases.
    """

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return config_value(vars(self), name)
        except KeyError:
            raise AttributeError(f"config has no '{name}'; add \"{name}\" to config.json") from None

    def __getitem__(self, name: str) -> Any:
        try:
            return getattr(self, name)
        except AttributeError:
            raise KeyError(name) from None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and hasattr(self, name)

    def get(self, name: str, default: Any = None) -> Any:
        return getattr(self, name, default)

    def keys(self) -> list[str]:
        return list(vars(self))

    def items(self) -> list[tuple[str, Any]]:
        return list(vars(self).items())


def apply_config_values(obj: Any, data: Mapping[str, Any]) -> Any:
    """Set config.json's values on an attribute-style config object (CfgNode style) and return it.

    An attribute the object already has takes the config.json value under any known spelling;
    every other key of config.json is set as it is.
    """
    flat = flat_config(data)
    existing = (
        [name for name in vars(obj) if not name.startswith("_")] if hasattr(obj, "__dict__") else []
    )
    for name in existing:
        with contextlib.suppress(KeyError):
            setattr(obj, name, config_value(flat, name))
    for key, value in flat.items():
        if key not in existing and key != "model_name":
            setattr(obj, key, value)
    return obj


def _default_config_factory(*owners: Any) -> Callable[[], Any] | None:
    for owner in owners:
        factory = getattr(owner, "get_default_config", None)
        if callable(factory):
            return factory
    return None


def config_object(
    config_cls: type | None,
    data: Mapping[str, Any],
    fill_keywords: Callable[[Any, str], dict[str, Any]],
    *,
    model_cls: type | None = None,
) -> Any:
    """Build the config object `config_cls` (None: unknown type) from config.json's `data`.

    `fill_keywords(init, label)` fills a keyword constructor from config.json (the loader's
    own argument filling, so missing values get its one-line error).
    """
    from model_adapter.errors import ModelLoadError

    if config_cls is None or config_cls in (SimpleNamespace, ConfigNamespace, dict, Mapping):
        factory = _default_config_factory(model_cls) if config_cls is None else None
        if factory is not None:
            return apply_config_values(factory(), data)
        if config_cls is dict:
            return dict(flat_config(data))
        return ConfigNamespace(**flat_config(data))
    if config_cls is argparse.Namespace:
        return argparse.Namespace(**flat_config(data))
    factory = _default_config_factory(config_cls, model_cls)
    if factory is not None:
        return apply_config_values(factory(), data)
    if dataclasses.is_dataclass(config_cls):
        return config_cls(**fill_keywords(config_cls, config_cls.__name__))
    # The constructor as the class defines or inherits it (a plain lookup, written so mypy accepts it).
    init = next(
        vars(klass)["__init__"] for klass in config_cls.__mro__ if "__init__" in vars(klass)
    )
    try:
        params = [
            p
            for p in inspect.signature(init).parameters.values()
            if p.name != "self" and p.kind != p.VAR_POSITIONAL
        ]
    except (TypeError, ValueError):
        params = []
    if init is object.__init__:
        params = []
    takes_values = bool(params)
    if takes_values and not all(p.kind == p.VAR_KEYWORD for p in params):
        return config_cls(**fill_keywords(init, config_cls.__name__))
    try:
        built = config_cls(**flat_config(data)) if takes_values else config_cls()
    except Exception as exc:
        raise ModelLoadError(
            f"cannot build {config_cls.__name__} from config.json ({type(exc).__name__}: {exc}); make it a "
            f"@dataclass, give it an __init__ with keyword arguments, or a classmethod "
            f"get_default_config() returning an object whose attributes config.json's values set"
        ) from exc
    return built if takes_values else apply_config_values(built, data)
