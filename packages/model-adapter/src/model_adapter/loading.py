"""`load_model`: turn a folder, a model.py, a Gist or an nn.Module into (model, ModelConfig).

User code is imported as a real module (registered under a unique name, so `inspect` can read
its source for the graph executor and dataclasses work), the model class is chosen, its
constructor arguments are filled from config.json, and the config is cross-checked against the
built model. Every way this can go wrong ends in a one-line `ModelLoadError`.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import importlib.util
import inspect
import logging
import sys
import typing
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, NamedTuple

from model_adapter.config import (
    ModelConfig,
    build_model_config,
    config_value,
    normalize_config,
    read_config_json,
)
from model_adapter.config_objects import config_object
from model_adapter.errors import ModelLoadError

if TYPE_CHECKING:
    from torch import nn

__all__ = ["LoadedModel", "import_model_file", "load_model"]

logger = logging.getLogger(__name__)

MODEL_FILE = "model.py"
CONFIG_FILE = "config.json"
_CONFIG_PARAM_NAMES = ("config", "cfg", "args", "model_config", "conf", "params", "hparams")


class LoadedModel(NamedTuple):
    """What `load_model` returns: `model, config = load_model(path)`."""

    model: nn.Module
    config: ModelConfig


def import_model_file(path: str | Path) -> ModuleType:
    """Import a model.py as a fresh module and return it.

    The module is registered in `sys.modules` under a name derived from its path and content,
    so two different files never share a module and `inspect.getsource` finds the code.
    """
    path = Path(path).resolve()
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelLoadError(f"cannot read {path}: {exc.strerror}; check the path") from exc
    except UnicodeDecodeError as exc:
        raise ModelLoadError(
            f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}); give the model's Python source, saved as UTF-8"
        ) from exc
    try:
        compile(source, str(path), "exec")
    except SyntaxError as exc:
        raise ModelLoadError(
            f"{path}:{exc.lineno}: syntax error: {exc.msg}; fix that line of the model code"
        ) from exc
    digest = hashlib.sha1(f"{path}\0{source}".encode()).hexdigest()[:12]
    module_name = f"_model_adapter_user_{path.stem}_{digest}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:  # pragma: no cover - only for non-.py suffixes
        raise ModelLoadError(f"cannot import {path}; give the path of a .py file")
    _forget_other_models_modules(path.parent)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    folder = str(path.parent)
    added_to_path = folder not in sys.path
    if added_to_path:  # so `from layers import Block` finds layers.py next to model.py
        sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except ModuleNotFoundError as exc:
        del sys.modules[module_name]
        raise ModelLoadError(_missing_module_message(path, exc.name or "?")) from exc
    except Exception as exc:
        del sys.modules[module_name]
        raise ModelLoadError(
            f"running {path.name} failed with {type(exc).__name__}: {exc}; fix the module-level code "
            "(see the chained traceback)"
        ) from exc
    finally:
        if added_to_path and folder in sys.path:
            sys.path.remove(folder)
    _MODEL_FOLDERS.add(path.parent)
    return module


_MODEL_FOLDERS: set[Path] = set()
"""Folders model files were imported from: their sibling modules are the models' own code."""


def _forget_other_models_modules(folder: Path) -> None:
    """Drop sibling modules another model folder imported under a name this folder also provides.

    Two model folders may each have a `layers.py`; Python caches the first under `layers`, so
    the second model would silently get the first one's code. Only modules whose file lies in a
    folder a model was imported from are dropped; installed packages are never touched.
    """
    from model_adapter.sources import local_module_names

    for name in local_module_names(folder):
        for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
            file = getattr(sys.modules[key], "__file__", None)
            if not file:
                continue
            location = Path(file).resolve()
            if location.is_relative_to(folder):
                continue
            if any(location.is_relative_to(other) for other in _MODEL_FOLDERS):
                del sys.modules[key]


def _missing_module_message(path: Path, name: str) -> str:
    """Why an import failed and what to do: a local file that is not there, or a distribution."""
    from model_adapter.sources import install_hint

    top = name.split(".")[0]
    return (
        f"{path.name} imports '{name}', which is neither a file next to it ({top}.py or a {top}/ "
        f"package folder) nor an installed package; if it is the model's own code, copy it into "
        f"{path.parent.name or path.parent}/, otherwise `{install_hint(name)}`"
    )


def _module_classes(module: ModuleType) -> list[type]:
    from torch import nn

    return [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj) and issubclass(obj, nn.Module) and obj.__module__ == module.__name__
    ]


def _root_classes(module: ModuleType, candidates: list[type]) -> list[type]:
    """Candidates no other candidate refers to by name: the top of the module hierarchy.

    nanoGPT-style files define Block, MLP, ... next to GPT; only GPT is used by nobody.
    """
    try:
        tree = ast.parse(inspect.getsource(module))
    except (OSError, TypeError, SyntaxError):
        return candidates
    names = {c.__name__ for c in candidates}
    used: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name in names:
            for inner in ast.walk(node):
                if isinstance(inner, ast.Name) and inner.id in names and inner.id != node.name:
                    used.add(inner.id)
                elif (
                    isinstance(inner, ast.Attribute)
                    and inner.attr in names
                    and inner.attr != node.name
                ):
                    used.add(inner.attr)
    roots = [c for c in candidates if c.__name__ not in used]
    return roots or candidates


def _choose_class(
    module: ModuleType, path: Path, model_name: str | None, config_name: str | None
) -> type:
    candidates = _module_classes(module)
    by_name = {c.__name__: c for c in candidates}
    if not candidates:
        raise ModelLoadError(
            f"{path.name} defines no nn.Module subclass; define the model as `class MyModel(nn.Module)`"
        )
    if model_name is not None:
        if model_name in by_name:
            return by_name[model_name]
        raise ModelLoadError(
            f"{path.name} has no nn.Module class named '{model_name}' (it defines {', '.join(sorted(by_name))}); "
            "pass one of those as model_name"
        )
    if config_name and config_name in by_name:
        return by_name[config_name]
    roots = _root_classes(module, candidates)
    if len(roots) == 1:
        if config_name:
            logger.warning(
                "config.json names model '%s', which %s does not define; using %s",
                config_name,
                path.name,
                roots[0].__name__,
            )
        return roots[0]
    raise ModelLoadError(
        f"{path.name} defines several top-level nn.Module classes ({', '.join(c.__name__ for c in roots)}); "
        'pass model_name=... or set "model_name" in config.json'
    )


def _resolve_annotation(cls: type[Any], param: inspect.Parameter, module: ModuleType) -> Any:
    annotation = param.annotation
    if annotation is inspect.Parameter.empty:
        return None
    if isinstance(annotation, str):
        try:
            hints = typing.get_type_hints(cls.__init__, vars(module))
            annotation = hints.get(param.name)
        except Exception:
            annotation = vars(module).get(annotation.strip("'\""))
    return annotation if inspect.isclass(annotation) else None


_NOT_CONFIG_TYPES = (int, float, str, bool, list, tuple)


def _is_local_class(obj: type, module: ModuleType) -> bool:
    """Defined in model.py or in a file of the model's folder (`from config import GPTConfig`)."""
    if obj.__module__ == module.__name__:
        return True
    defining = sys.modules.get(obj.__module__)
    file = getattr(defining, "__file__", None)
    model_file = getattr(module, "__file__", None)
    if not file or not model_file:
        return False
    return Path(file).resolve().is_relative_to(Path(model_file).resolve().parent)


def _config_class_for(
    cls: type[Any], param: inspect.Parameter, module: ModuleType
) -> tuple[bool, type[Any] | None]:
    """(is a config object, its class or None when unknown) for a constructor argument.

    A parameter annotated with a class (`config: GPTConfig`, `args: SimpleNamespace`) is one; so
    is a parameter named like a config (`config`, `cfg`, `args`, ...), whose class is the one
    config-like class of the model's files (a dataclass or a class named *Config/*Args), else
    unknown (built as a namespace that also reads like a dict).
    """
    annotated = _resolve_annotation(cls, param, module)
    if annotated is not None and annotated not in _NOT_CONFIG_TYPES:
        return True, annotated
    if param.name not in _CONFIG_PARAM_NAMES:
        return False, None
    config_like = [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and _is_local_class(obj, module)
        and (dataclasses.is_dataclass(obj) or obj.__name__.lower().endswith(("config", "args")))
    ]
    return True, config_like[0] if len(config_like) == 1 else None


def _fill_arguments(
    target: Any, label: str, data: Mapping[str, Any], module: ModuleType, *, skip_first: bool
) -> dict[str, Any]:
    """Keyword arguments for `target` (a class or function) taken from config.json values."""
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return {}
    kwargs: dict[str, Any] = {}
    missing: list[str] = []
    params = list(signature.parameters.values())
    if skip_first and params and params[0].name == "self":
        params = params[1:]
    for param in params:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        try:
            kwargs[param.name] = config_value(data, param.name)
            continue
        except KeyError:
            pass
        is_config, config_cls = (
            _config_class_for(target, param, module) if inspect.isclass(target) else (False, None)
        )
        if is_config and param.default is param.empty:
            kwargs[param.name] = config_object(
                config_cls,
                data,
                lambda init, name: _fill_arguments(
                    init, name, data, module, skip_first=not inspect.isclass(init)
                ),
                model_cls=target,
            )
            continue
        if param.default is param.empty:
            missing.append(param.name)
    if missing:
        raise ModelLoadError(
            f"{label}(...) needs {', '.join(missing)}, which config.json does not give; "
            f"add {', '.join(repr(m) for m in missing)} to config.json or give them defaults"
        )
    return kwargs


def _instantiate(cls: type, data: Mapping[str, Any], module: ModuleType) -> nn.Module:
    kwargs = _fill_arguments(cls, cls.__name__, data, module, skip_first=False)
    try:
        return cls(**kwargs)
    except ModelLoadError:
        raise
    except Exception as exc:
        shown = ", ".join(
            f"{k}={type(v).__name__ if not isinstance(v, (int, float, str)) else v!r}"
            for k, v in kwargs.items()
        )
        raise ModelLoadError(
            f"{cls.__name__}({shown}) raised {type(exc).__name__}: {exc}; fix the model's __init__ "
            "or the config values (see the chained traceback)"
        ) from exc


def _config_dict(
    config: ModelConfig | Mapping[str, Any] | str | Path | None,
) -> dict[str, Any] | None:
    if config is None:
        return None
    if isinstance(config, ModelConfig):
        data = config.to_dict()
        data["model_name"] = data.pop("name")
        return {k: v for k, v in data.items() if v is not None and k != "source"}
    if isinstance(config, Mapping):
        return dict(config)
    return read_config_json(config)


def _load_from_file(
    model_file: Path, config_data: dict[str, Any] | None, model_name: str | None, source: str
) -> LoadedModel:
    module = import_model_file(model_file)
    data = config_data or {}
    values = normalize_config(data)
    cls = _choose_class(module, model_file, model_name, values.get("name"))
    model = _instantiate(cls, data, module)
    values["name"] = model_name or cls.__name__
    config = build_model_config(model, values, source=source)
    logger.info("loaded %s from %s (vocab_size=%d)", cls.__name__, source, config.vocab_size)
    return LoadedModel(model, config)


def load_model(
    source: str | Path | nn.Module,
    *,
    model_name: str | None = None,
    config: ModelConfig | Mapping[str, Any] | str | Path | None = None,
) -> LoadedModel:
    """Load a model and its `ModelConfig` from any of the places users keep one.

    `source` is a folder holding model.py (+ config.json), a path to a model.py (a config.json
    beside it is read when present), a Gist ID or URL (fetched into a cache folder), or an
    `nn.Module` instance. `config` overrides config.json (a `ModelConfig`, a dict in either
    config.json form, or a path to a JSON file). `model_name` picks the class; without it the
    config's `model_name`, else the one top-level `nn.Module` class of the file.

    Example:
        >>> from model_adapter import example_export_path, load_model
        >>> model, config = load_model(example_export_path())
        >>> config.vocab_size
        3001
    """
    from torch import nn

    override = _config_dict(config)
    if isinstance(source, nn.Module):
        values = normalize_config(override or {})
        values["name"] = model_name or values.get("name") or type(source).__name__
        loaded_config = build_model_config(
            source, values, source=f"module:{type(source).__qualname__}"
        )
        return LoadedModel(source, loaded_config)
    if not isinstance(source, (str, Path)):
        raise ModelLoadError(
            f"cannot load a model from a {type(source).__name__}; pass a folder, a model.py path, "
            "a Gist ID/URL or an nn.Module"
        )
    path = Path(source).expanduser()
    if path.is_dir():
        model_file = path / MODEL_FILE
        if not model_file.is_file():
            python_files = sorted(p.name for p in path.glob("*.py"))
            if len(python_files) != 1:
                raise ModelLoadError(
                    f"{path} has no {MODEL_FILE}; put the model code in {path / MODEL_FILE}"
                )
            model_file = path / python_files[0]
        config_file = path / CONFIG_FILE
        data = (
            override
            if override is not None
            else (read_config_json(config_file) if config_file.is_file() else None)
        )
        return _load_from_file(model_file, data, model_name, str(path))
    if path.is_file():
        if path.suffix != ".py":
            raise ModelLoadError(
                f"{path} is not a .py file; pass the model's folder or its model.py"
            )
        config_file = path.with_name(CONFIG_FILE)
        data = (
            override
            if override is not None
            else (read_config_json(config_file) if config_file.is_file() else None)
        )
        return _load_from_file(path, data, model_name, str(path))
    from model_adapter.gist import fetch_gist, looks_like_gist

    text = str(source).strip()
    if looks_like_gist(text):
        folder = fetch_gist(text)
        loaded = load_model(folder, model_name=model_name, config=config)
        loaded.config.source = text
        return loaded
    raise ModelLoadError(
        f"'{source}' is neither an existing file or folder nor a Gist ID/URL; check the path "
        "(a folder with model.py + config.json, or model.py itself)"
    )
