"""The model's whole local source, and what to install when an import is missing.

A model.py often imports a sibling file (`from layers import Block`) or a local package folder
(`from blocks.attention import Attention`). A copy of the model (a run folder's `model/`, a
bundle) works elsewhere only when it carries those files too, so `source_files` follows the
imports inside the model's folder with `ast` (nothing is executed) and lists every local file.

When an import is missing, `install_hint` names the distribution that provides it
(`import yaml` comes from `pyyaml`), because `pip install yaml` installs nothing useful.
"""

from __future__ import annotations

import ast
import importlib.util
import logging
from pathlib import Path

__all__ = ["DISTRIBUTION_NAMES", "install_hint", "local_module_names", "source_files"]

logger = logging.getLogger(__name__)

DISTRIBUTION_NAMES: dict[str, str] = {
    "sklearn": "scikit-learn",
    "yaml": "pyyaml",
    "PIL": "pillow",
    "cv2": "opencv-python",
    "skimage": "scikit-image",
    "bs4": "beautifulsoup4",
    "attr": "attrs",
    "dateutil": "python-dateutil",
    "dotenv": "python-dotenv",
    "google.protobuf": "protobuf",
    "jwt": "pyjwt",
    "serial": "pyserial",
    "sentencepiece": "sentencepiece",
    "mamba_ssm": "mamba-ssm",
    "flash_attn": "flash-attn",
    "x_transformers": "x-transformers",
    "rotary_embedding_torch": "rotary-embedding-torch",
    "huggingface_hub": "huggingface-hub",
    "lightning_fabric": "lightning-fabric",
    "pytorch_lightning": "pytorch-lightning",
    "torch_geometric": "torch-geometric",
}
"""Import name -> the distribution `pip install` needs, where the two differ."""


def install_hint(module_name: str) -> str:
    """`pip install <distribution>` for an import name (`yaml` -> `pip install pyyaml`)."""
    top = module_name.split(".")[0]
    dist = DISTRIBUTION_NAMES.get(module_name) or DISTRIBUTION_NAMES.get(top) or top
    return f"pip install {dist}"


def _folder_of(model: Path) -> tuple[Path, Path]:
    """(folder, entry file) for a model folder or a model.py path."""
    model = Path(model)
    if model.is_dir():
        entry = model / "model.py"
        if not entry.is_file():
            python_files = sorted(model.glob("*.py"))
            entry = python_files[0] if len(python_files) == 1 else entry
        return model, entry
    return model.parent, model


def _local_target(folder: Path, dotted: str) -> Path | None:
    """The file or package folder inside `folder` that `import <dotted>` resolves to, if any."""
    top = dotted.split(".")[0]
    if not top:
        return None
    package = folder / top
    if package.is_dir() and ((package / "__init__.py").is_file() or any(package.rglob("*.py"))):
        return package
    module = folder / f"{top}.py"
    return module if module.is_file() else None


def _imported_names(path: Path) -> list[str]:
    """Top-level module names a file imports (absolute imports only; relative ones stay inside)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, SyntaxError, UnicodeDecodeError) as exc:
        logger.debug("cannot parse %s for imports: %s", path, exc)
        return []
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def _package_files(package: Path) -> list[Path]:
    return sorted(
        p
        for p in package.rglob("*.py")
        if "__pycache__" not in p.parts and not p.name.startswith(".")
    )


def source_files(model: str | Path) -> list[Path]:
    """Every local source file the model needs: its model.py and what it imports from its folder.

    `model` is the model's folder or its model.py. Imports are followed transitively inside the
    folder: a sibling `name.py` is one file, a local package `name/` brings all its `.py` files
    (relative imports inside it stay inside it). Third-party imports are not listed. The entry
    file comes first; paths are absolute.

    Example:
        >>> from model_adapter import example_export_path
        >>> [p.name for p in source_files(example_export_path())]
        ['model.py']
    """
    folder, entry = _folder_of(Path(model))
    folder = folder.resolve()
    entry = entry.resolve()
    found: list[Path] = []
    seen: set[Path] = set()
    queue = [entry] if entry.is_file() else []
    while queue:
        current = queue.pop(0)
        if current in seen:
            continue
        seen.add(current)
        found.append(current)
        for name in _imported_names(current):
            target = _local_target(folder, name)
            if target is None:
                continue
            files = _package_files(target) if target.is_dir() else [target]
            queue.extend(f.resolve() for f in files if f.resolve() not in seen)
    return found


def local_module_names(folder: str | Path) -> set[str]:
    """Names a model folder provides as top-level modules (`layers` for layers.py, package dirs)."""
    folder = Path(folder)
    names = {p.stem for p in folder.glob("*.py")}
    names.update(p.name for p in folder.iterdir() if p.is_dir() and (p / "__init__.py").is_file())
    return names


def is_installed(module_name: str) -> bool:
    """Whether `module_name`'s top-level package can be imported from the installed packages."""
    try:
        return importlib.util.find_spec(module_name.split(".")[0]) is not None
    except (ImportError, ValueError):
        return False
