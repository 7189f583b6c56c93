"""Turn whatever the user points at into a `datasets.Dataset` with one column, "text".

Sources, in the order they are recognised:

* a `datasets.Dataset` (its text column is chosen as below);
* ``"example"``: the built-in example text (`example_data`), no network;
* ``"upload"``: Colab's upload widget (`colab.upload_files`), then the uploaded files;
* an existing local path: a ``.txt`` file (one row per document, see below), ``.csv``, ``.jsonl``/``.json``,
  ``.parquet``; a folder of ``.txt`` files; a folder written by `Dataset.save_to_disk`; any other
  folder goes to `datasets.load_dataset(folder)` (the same code path as a Hub repository
  without a loading script);
* anything else that looks like a path (has a known suffix or a path separator) is a missing
  file;
* otherwise a Hugging Face Hub dataset name: `datasets.load_dataset(name, config_name,
  split=split)`.

Plain text (``.txt`` files and folders of them) is cut into documents by `document_split`:
``"paragraph"`` (default: blocks separated by an empty line, the newlines inside kept),
``"file"`` (each file is one document; it is read whole, so prefer paragraphs for huge files)
or ``"line"`` (one document per line, the newline dropped). Each document ends with the
end-of-text token when it is tokenized, so the split decides where the model learns to stop.
Rows of other formats (csv, json, parquet, Hub datasets) are documents as they are.
`load_text_source` is the same, except that local plain text comes back as
`text_documents.TextDocuments`, read in chunks while it is tokenized (what training uses).

The text column is the one named by `text_column`, else "text", else "content", else the only
string column. Rows whose text is missing or blank are dropped: they carry no tokens.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lightning_pipeline.errors import (
    DataSourceError,
    EmptyDatasetError,
    TextColumnError,
    first_line,
)
from lightning_pipeline.text_documents import BLANK_EDGES, TextDocuments, check_document_split

if TYPE_CHECKING:
    import datasets

    from lightning_pipeline.colab import ColabBackend

logger = logging.getLogger(__name__)

TEXT_COLUMN = "text"
PREFERRED_COLUMNS = ("text", "content")
# file suffix -> `datasets` packaged builder
FILE_BUILDERS = {
    ".txt": "text",
    ".text": "text",
    ".csv": "csv",
    ".tsv": "csv",
    ".jsonl": "json",
    ".json": "json",
    ".parquet": "parquet",
}
# --document-split -> the `text` builder's `sample_by`
DOCUMENT_SPLITS = {"paragraph": "paragraph", "file": "document", "line": "line"}


def load_text_dataset(
    source: str | os.PathLike[str] | datasets.Dataset,
    *,
    split: str = "train",
    text_column: str | None = None,
    config_name: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    document_split: str = "paragraph",
    colab_backend: ColabBackend | None = None,
) -> datasets.Dataset:
    """Load `source` as a `datasets.Dataset` with exactly one column, "text".

    `split` applies to Hub datasets and dataset folders (slices such as ``"train[:10%]"`` work);
    a single local file is the "train" split. `cache_dir` is handed to `datasets` (its Arrow
    cache). `colab_backend` serves the ``"upload"`` source outside Colab (see `colab`). Raises
    `DataSourceError` (missing file, unknown format, unreachable Hub dataset),
    `TextColumnError` or `EmptyDatasetError` with the fix in the message.
    """
    import datasets

    check_document_split(document_split)
    cache = str(cache_dir) if cache_dir is not None else None
    if isinstance(source, datasets.Dataset):
        dataset, origin = source, "the given Dataset"
    elif isinstance(source, datasets.DatasetDict):
        raise DataSourceError(
            f"got a DatasetDict with splits {sorted(source)}: pass one split, e.g. dataset[{split!r}]"
        )
    else:
        loaded, origin = _load_source(
            source,
            split=split,
            config_name=config_name,
            cache_dir=cache,
            document_split=document_split,
            colab_backend=colab_backend,
        )
        assert not isinstance(loaded, TextDocuments)  # only with stream_text=True
        dataset = loaded
    return _normalise(dataset, text_column=text_column, origin=origin)


def load_text_source(
    source: str | os.PathLike[str] | datasets.Dataset,
    *,
    split: str = "train",
    text_column: str | None = None,
    config_name: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    document_split: str = "paragraph",
    colab_backend: ColabBackend | None = None,
) -> datasets.Dataset | TextDocuments:
    """Like `load_text_dataset`, but local plain text (a ``.txt`` file, a folder of them, uploaded
    ones) comes back as `TextDocuments`: read in chunks while it is tokenized, in memory that does
    not grow with the file (`datasets` would first copy it into an Arrow cache). The documents
    are the same; training (`train`) reads its data this way. Every other source is a `Dataset`.
    """
    check_document_split(document_split)
    if isinstance(source, (str, os.PathLike)):
        loaded, origin = _load_source(
            source,
            split=split,
            config_name=config_name,
            cache_dir=str(cache_dir) if cache_dir is not None else None,
            document_split=document_split,
            colab_backend=colab_backend,
            stream_text=True,
        )
        if isinstance(loaded, TextDocuments):
            if text_column not in (None, TEXT_COLUMN):
                raise TextColumnError(
                    f"text column {text_column!r} not found; available columns: {TEXT_COLUMN}"
                )
            return loaded
        return _normalise(loaded, text_column=text_column, origin=origin)
    return load_text_dataset(
        source,
        split=split,
        text_column=text_column,
        config_name=config_name,
        cache_dir=cache_dir,
        document_split=document_split,
        colab_backend=colab_backend,
    )


def _load_source(
    source: str | os.PathLike[str],
    *,
    split: str,
    config_name: str | None,
    cache_dir: str | None,
    document_split: str = "paragraph",
    stream_text: bool = False,
    colab_backend: ColabBackend | None = None,
) -> tuple[datasets.Dataset | TextDocuments, str]:
    from lightning_pipeline.example_data import EXAMPLE_SOURCE_NAME, example_dataset

    text = os.fspath(source)
    if text == EXAMPLE_SOURCE_NAME:
        return example_dataset(), "the built-in example data"
    if text == "upload":
        from lightning_pipeline import colab

        destination = Path(cache_dir) if cache_dir else Path(tempfile.mkdtemp(prefix="lp-upload-"))
        paths = colab.upload_files(destination / "uploads", backend=colab_backend)
        return _load_files(
            paths,
            split="train",
            cache_dir=cache_dir,
            document_split=document_split,
            stream_text=stream_text,
        ), ", ".join(p.name for p in paths)
    path = Path(text).expanduser()
    if path.exists():
        loaded = _load_path(
            path,
            split=split,
            config_name=config_name,
            cache_dir=cache_dir,
            document_split=document_split,
            stream_text=stream_text,
        )
        return loaded, str(path)
    if _looks_like_path(text):
        raise DataSourceError(
            f"data file not found: {text} (check the path, or pass 'example' for the built-in data)"
        )
    return _load_hub(text, split=split, config_name=config_name, cache_dir=cache_dir), text


def _looks_like_path(text: str) -> bool:
    # Hub names are "name" or "owner/name"; anything else with a path shape is a local path.
    return (
        Path(text).suffix.lower() in FILE_BUILDERS
        or text.startswith((".", "~", "/"))
        or text.count("/") > 1
        or "\\" in text
    )


def _load_path(
    path: Path,
    *,
    split: str,
    config_name: str | None,
    cache_dir: str | None,
    document_split: str = "paragraph",
    stream_text: bool = False,
) -> datasets.Dataset | TextDocuments:
    import datasets

    if path.is_file():
        return _load_files(
            [path],
            split="train",
            cache_dir=cache_dir,
            document_split=document_split,
            stream_text=stream_text,
        )
    if (path / "state.json").exists() and (path / "dataset_info.json").exists():
        loaded = datasets.load_from_disk(str(path))
        if isinstance(loaded, datasets.DatasetDict):
            if split not in loaded:
                raise DataSourceError(
                    f"{path} has splits {sorted(loaded)}, not {split!r}: pass split=one of them"
                )
            loaded = loaded[split]
        return loaded
    texts = sorted(
        p for p in path.iterdir() if p.is_file() and p.suffix.lower() in (".txt", ".text")
    )
    others = [p for p in path.iterdir() if p.is_file() and p.suffix.lower() in FILE_BUILDERS]
    if texts and len(texts) == len(others):
        return _load_files(
            texts,
            split="train",
            cache_dir=cache_dir,
            document_split=document_split,
            stream_text=stream_text,
            origin=str(path),
        )
    if not others and not any(p.is_dir() for p in path.iterdir()):
        raise EmptyDatasetError(
            f"{path} holds no data files (.txt, .csv, .jsonl, .parquet): add some or point at another folder"
        )
    # A folder of data files, laid out like a Hub repository without a loading script.
    return _load_hub(str(path), split=split, config_name=config_name, cache_dir=cache_dir)


def _load_files(
    paths: list[Path],
    *,
    split: str,
    cache_dir: str | None,
    document_split: str = "paragraph",
    stream_text: bool = False,
    origin: str | None = None,
) -> datasets.Dataset | TextDocuments:
    import datasets

    suffixes = {p.suffix.lower() for p in paths}
    unknown = suffixes - set(FILE_BUILDERS)
    if unknown:
        raise DataSourceError(
            f"unsupported data file type {sorted(unknown)}: use .txt, .csv, .jsonl, .json or .parquet"
        )
    builders = {FILE_BUILDERS[s] for s in suffixes}
    if len(builders) > 1:
        raise DataSourceError(
            f"mixed data file types {sorted(suffixes)}: pass files of one type at a time"
        )
    builder = builders.pop()
    if builder == "text" and stream_text:
        return TextDocuments(paths, document_split=document_split, origin=origin)
    kwargs: dict[str, Any] = {}
    if suffixes == {".tsv"}:
        kwargs["sep"] = "\t"
    if builder == "text":
        kwargs["sample_by"] = DOCUMENT_SPLITS[document_split]
    for path in paths:
        if path.stat().st_size == 0:
            raise EmptyDatasetError(f"data file is empty: {path} (pick a file that holds text)")
    try:
        loaded = datasets.load_dataset(
            builder,
            data_files={"train": [str(p) for p in paths]},
            split=split,
            cache_dir=cache_dir,
            **kwargs,
        )
    except (ValueError, OSError) as error:  # a parse error names the file and the line
        raise DataSourceError(
            f"could not read {', '.join(str(p) for p in paths)} as {builder}: {first_line(error)}"
        ) from error
    except datasets.exceptions.DatasetGenerationError as error:
        cause = error.__cause__ or error
        raise DataSourceError(
            f"could not read {', '.join(str(p) for p in paths)} as {builder}: {first_line(cause)}"
        ) from error
    if builder == "text" and document_split == "paragraph":
        loaded = loaded.map(_strip_blank_edges, batched=True, desc="Trimming paragraphs")
    return loaded


def _strip_blank_edges(batch: dict[str, list[str]]) -> dict[str, list[str]]:
    return {TEXT_COLUMN: [BLANK_EDGES.sub("", text) for text in batch[TEXT_COLUMN]]}


def _load_hub(
    name: str, *, split: str, config_name: str | None, cache_dir: str | None
) -> datasets.Dataset:
    import datasets

    try:
        loaded = datasets.load_dataset(name, config_name, split=split, cache_dir=cache_dir)
    except datasets.exceptions.DatasetNotFoundError as error:
        raise DataSourceError(
            f"dataset {name!r} not found on the Hugging Face Hub or locally: check the name, or pass a local file"
        ) from error
    except FileNotFoundError as error:  # older `datasets` versions
        raise DataSourceError(
            f"dataset {name!r} not found on the Hugging Face Hub or locally: check the name, or pass a local file"
        ) from error
    except ConnectionError as error:
        raise DataSourceError(
            f"could not reach the Hugging Face Hub for {name!r} ({first_line(error)}): "
            "check the network, or pass a local file or 'example'"
        ) from error
    except ValueError as error:  # unknown split or config: the message lists the valid ones
        raise DataSourceError(f"could not load {name!r}: {first_line(error)}") from error
    if isinstance(loaded, datasets.DatasetDict):  # pragma: no cover - split is always given
        raise DataSourceError(
            f"{name!r} returned several splits: pass split=one of {sorted(loaded)}"
        )
    return loaded


def _string_columns(dataset: datasets.Dataset) -> list[str]:
    import datasets

    return [
        name
        for name, feature in dataset.features.items()
        if isinstance(feature, datasets.Value) and feature.dtype in ("string", "large_string")
    ]


def select_text_column(dataset: datasets.Dataset, text_column: str | None = None) -> str:
    """The name of the column that holds the text (see the module docstring for the rule)."""
    columns = list(dataset.column_names)
    strings = _string_columns(dataset)
    if text_column is not None:
        if text_column not in columns:
            raise TextColumnError(
                f"text column {text_column!r} not found; available columns: {', '.join(columns)}"
            )
        if text_column not in strings:
            raise TextColumnError(
                f"column {text_column!r} holds {dataset.features[text_column]}, not text; "
                f"string columns: {', '.join(strings) or 'none'}"
            )
        return text_column
    for name in PREFERRED_COLUMNS:
        if name in strings:
            return name
    if len(strings) == 1:
        return strings[0]
    if not strings:
        raise TextColumnError(
            f"no text (string) column found; available columns: {', '.join(columns) or 'none'}"
        )
    raise TextColumnError(
        f"several text columns ({', '.join(strings)}): pass text_column= (--text-column) to pick one"
    )


def _normalise(
    dataset: datasets.Dataset, *, text_column: str | None, origin: str
) -> datasets.Dataset:
    if len(dataset) == 0:
        raise EmptyDatasetError(f"{origin} holds no rows: pick a source that holds text")
    column = select_text_column(dataset, text_column)
    dataset = dataset.select_columns([column])
    if column != TEXT_COLUMN:
        dataset = dataset.rename_column(column, TEXT_COLUMN)
    kept = dataset.filter(_has_text, batched=True, desc="Dropping empty rows")
    if len(kept) == 0:
        raise EmptyDatasetError(
            f"{origin}: column {column!r} holds only empty text: pick another column or source"
        )
    if len(kept) < len(dataset):
        logger.info("Dropped %d empty rows from %s", len(dataset) - len(kept), origin)
    return kept


def _has_text(batch: dict[str, list[Any]]) -> list[bool]:
    return [text is not None and bool(text.strip()) for text in batch[TEXT_COLUMN]]
