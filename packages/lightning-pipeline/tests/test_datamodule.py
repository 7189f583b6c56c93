"""AdaptiveTokenizerDataModule: packing, padding, labels, split, vocab contract, cache."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import numpy as np
import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from lightning_pipeline.datamodule import IGNORE_INDEX, AdaptiveTokenizerDataModule
from lightning_pipeline.errors import DataModuleError, VocabSizeMismatchError

WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "a",
    "lazy",
    "dog",
    "while",
    "seven",
    "wizards",
    "quietly",
    "judge",
    "boxing",
    "matches",
]


def word_tokenizer(*, pad_is_eos: bool = False) -> PreTrainedTokenizerFast:
    """A real word-level fast tokenizer: ids 0..2 special, then one id per word."""
    specials = ["<eos>", "<unk>"] if pad_is_eos else ["<pad>", "<unk>", "<eos>"]
    vocab = {token: i for i, token in enumerate([*specials, *dict.fromkeys(WORDS)])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="<unk>",
        eos_token="<eos>",
        pad_token="<eos>" if pad_is_eos else "<pad>",
    )


def sentences(count: int, *, seed: int = 0) -> datasets.Dataset:
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(count):
        length = int(torch.randint(2, 9, (1,), generator=generator))
        picks = torch.randint(0, len(WORDS), (length,), generator=generator).tolist()
        rows.append(" ".join(WORDS[i] for i in picks))
    return datasets.Dataset.from_dict({"text": rows})


def make(
    dataset: datasets.Dataset, tokenizer: PreTrainedTokenizerFast | None = None, **kwargs
) -> AdaptiveTokenizerDataModule:
    options = {"seq_len": 16, "batch_size": 4, "val_fraction": 0.1, "seed": 0}
    options.update(kwargs)
    module = AdaptiveTokenizerDataModule(tokenizer or word_tokenizer(), dataset, **options)
    module.setup("fit")
    return module


def all_rows(module: AdaptiveTokenizerDataModule) -> torch.Tensor:
    assert module.train_data is not None
    return module.train_data.input_ids


def test_packed_batches_have_the_documented_shape_and_labels() -> None:
    module = make(sentences(200))

    batch = next(iter(module.train_dataloader()))

    assert set(batch) == {"input_ids", "attention_mask", "labels"}
    for value in batch.values():
        assert value.shape == (4, 16)
        assert value.dtype == torch.int64
    real = batch["attention_mask"] == 1
    assert torch.equal(batch["labels"][real], batch["input_ids"][real])  # unshifted copy
    assert (batch["labels"][~real] == IGNORE_INDEX).all()


def test_packing_keeps_every_token_in_document_order() -> None:
    tokenizer = word_tokenizer()
    dataset = sentences(60)
    module = make(dataset, tokenizer, val_fraction=0.0)

    expected = []
    for text in dataset["text"]:
        expected += [
            *tokenizer(text, add_special_tokens=False)["input_ids"],
            tokenizer.eos_token_id,
        ]
    data = module.train_data
    assert data is not None
    stream = data.input_ids[
        data.attention_mask == 1
    ].tolist()  # rows are kept in order without a split
    assert stream == expected
    assert int((data.attention_mask == 0).sum()) < 16  # only the last block is padded


def test_eos_targets_survive_when_pad_equals_eos() -> None:
    tokenizer = word_tokenizer(pad_is_eos=True)
    module = make(sentences(100), tokenizer, val_fraction=0.0, packing=False)
    eos = tokenizer.eos_token_id
    assert tokenizer.pad_token_id == eos

    batch = next(iter(module.train_dataloader()))

    # each padded row holds one document piece ending in a real eos; it must stay a target
    real_eos = (batch["input_ids"] == eos) & (batch["attention_mask"] == 1)
    assert real_eos.any()
    assert (batch["labels"][real_eos] == eos).all()
    assert (batch["labels"][batch["attention_mask"] == 0] == IGNORE_INDEX).all()


def test_padded_rows_start_each_document_and_waste_positions() -> None:
    dataset = sentences(100)
    packed = make(dataset, packing=True, val_fraction=0.0)
    padded = make(dataset, packing=False, val_fraction=0.0)

    assert packed.real_token_fraction() > 0.97
    assert padded.real_token_fraction() < 0.6
    assert padded.num_train_tokens == packed.num_train_tokens  # same tokens, different layout
    assert len(padded.train_data) == 100  # every sentence fits one row of 16


def test_long_documents_are_split_not_truncated_when_padding() -> None:
    long_text = " ".join(WORDS * 3)  # 48 words + eos = 49 tokens
    module = make(
        datasets.Dataset.from_dict({"text": [long_text]}), packing=False, val_fraction=0.0
    )

    assert module.num_train_tokens == 49
    assert len(module.train_data) == 4  # 16 + 16 + 16 + 1


def test_split_is_deterministic_by_seed_and_disjoint() -> None:
    dataset = sentences(300)

    first, again, other = make(dataset, seed=1), make(dataset, seed=1), make(dataset, seed=2)

    assert torch.equal(first.val_data.input_ids, again.val_data.input_ids)
    assert not torch.equal(first.val_data.input_ids, other.val_data.input_ids)
    total = len(first.train_data) + len(first.val_data)
    assert len(first.val_data) == -(-total // 10)
    train_rows = {tuple(r) for r in first.train_data.input_ids.tolist()}
    assert not any(tuple(r) in train_rows for r in first.val_data.input_ids.tolist())


def test_vocab_contract_is_checked_before_training() -> None:
    tokenizer = word_tokenizer()
    largest = len(tokenizer) - 1

    with pytest.raises(VocabSizeMismatchError, match=f"token id {largest} .* vocab_size is 10"):
        make(sentences(50), tokenizer, model_vocab_size=10)
    make(sentences(50), tokenizer, model_vocab_size=len(tokenizer))  # exactly enough is fine


def test_pad_id_outside_the_model_vocab_is_refused() -> None:
    tokenizer = word_tokenizer()
    tokenizer.add_special_tokens({"pad_token": "<late-pad>"})  # id == old len(tokenizer)
    used_words = datasets.Dataset.from_dict({"text": ["the quick"] * 40})

    with pytest.raises(VocabSizeMismatchError, match="pad token id"):
        make(used_words, tokenizer, model_vocab_size=len(tokenizer) - 1)


def test_bad_sizes_are_refused_with_a_fix() -> None:
    dataset = sentences(10)
    with pytest.raises(DataModuleError, match="val_fraction"):
        AdaptiveTokenizerDataModule(
            word_tokenizer(), dataset, seq_len=16, batch_size=2, val_fraction=1.0
        )
    with pytest.raises(DataModuleError, match="seq_len"):
        AdaptiveTokenizerDataModule(word_tokenizer(), dataset, seq_len=1, batch_size=2)
    with pytest.raises(DataModuleError, match="load_text_dataset"):
        AdaptiveTokenizerDataModule(
            word_tokenizer(), dataset.rename_column("text", "body"), seq_len=8, batch_size=2
        )


def test_too_little_data_for_a_validation_split_is_explained() -> None:
    with pytest.raises(DataModuleError, match="val_fraction=0"):
        make(datasets.Dataset.from_dict({"text": ["the dog"]}), seq_len=64)


def test_no_validation_split_gives_no_validation_loader() -> None:
    module = make(sentences(50), val_fraction=0.0)

    assert module.val_data is None
    assert module.val_dataloader() == []


def test_validation_loader_is_in_order_and_complete() -> None:
    module = make(sentences(300))

    batches = list(module.val_dataloader())

    assert torch.equal(
        torch.cat([b["input_ids"] for b in batches]), module.val_data.input_ids.long()
    )


def test_tokenization_is_cached_on_disk_and_reused(tmp_path: Path) -> None:
    dataset = sentences(120)
    first = make(dataset, cache_dir=tmp_path)
    stores = sorted(tmp_path.glob("tokens-*/tokens.bin"))
    assert len(stores) == 1
    stamp = stores[0].stat().st_mtime_ns

    second = make(dataset, cache_dir=tmp_path)
    other_tokenizer = make(dataset, word_tokenizer(pad_is_eos=True), cache_dir=tmp_path)

    assert stores[0].stat().st_mtime_ns == stamp  # read, not rewritten
    assert torch.equal(all_rows(first), all_rows(second))
    assert (
        len(list(tmp_path.glob("tokens-*/tokens.bin"))) == 2
    )  # a different tokenizer, a new store
    assert not torch.equal(all_rows(first), all_rows(other_tokenizer))
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary folder left behind


def test_prepare_data_fills_the_cache_that_setup_reads(tmp_path: Path) -> None:
    module = AdaptiveTokenizerDataModule(
        word_tokenizer(), sentences(80), seq_len=16, batch_size=4, cache_dir=tmp_path
    )

    module.prepare_data()  # Lightning: one process only
    (cached,) = tmp_path.glob("tokens-*/tokens.bin")
    stamp = cached.stat().st_mtime_ns
    module.setup("fit")  # every process

    assert cached.stat().st_mtime_ns == stamp
    assert module.num_train_tokens > 0


def test_token_store_is_a_flat_uint16_file_with_a_sidecar(tmp_path: Path) -> None:
    tokenizer = word_tokenizer()
    dataset = sentences(50)
    module = make(dataset, tokenizer, cache_dir=tmp_path, val_fraction=0.0)
    (store,) = tmp_path.glob("tokens-*")
    meta = json.loads((store / "meta.json").read_text())

    expected = []
    for text in dataset["text"]:
        expected += [
            *tokenizer(text, add_special_tokens=False)["input_ids"],
            tokenizer.eos_token_id,
        ]
    on_disk = np.fromfile(store / "tokens.bin", dtype=np.uint16)
    ends = np.fromfile(store / "documents.bin", dtype=np.int64)

    assert meta["dtype"] == "uint16" and meta["num_tokens"] == len(expected) == on_disk.size
    assert on_disk.tolist() == expected
    assert meta["num_documents"] == 50 == ends.size and int(ends[-1]) == len(expected)
    assert (
        meta["max_id"] == max(expected)
        and meta["tokenizer_fingerprint"]
        and meta["source_fingerprint"]
    )
    assert isinstance(module.store.tokens, np.memmap)  # training reads the file, not a copy


def test_large_vocabularies_are_stored_as_uint32() -> None:
    from lightning_pipeline.token_store import token_dtype

    assert token_dtype(65_536) == np.uint16
    assert token_dtype(65_537) == np.uint32


def test_dataset_items_survive_pickling_for_worker_processes(tmp_path: Path) -> None:
    import pickle

    module = make(sentences(100), cache_dir=tmp_path)
    data = module.train_data

    copy = pickle.loads(pickle.dumps(data))

    assert len(pickle.dumps(data.store)) < 2000  # the path travels, not the tokens
    assert torch.equal(copy[3]["input_ids"], data[3]["input_ids"])


def test_streamed_dataset_gives_the_same_rows_as_the_arrow_one(tmp_path: Path) -> None:
    dataset = sentences(120)
    arrow = make(dataset, cache_dir=tmp_path / "a")
    streamed = make(dataset.to_iterable_dataset(num_shards=3), cache_dir=tmp_path / "b")

    assert torch.equal(all_rows(arrow), all_rows(streamed))


def test_a_streamed_local_dataset_is_tokenized_into_the_store(tmp_path: Path) -> None:
    rows = sentences(90)
    data_file = tmp_path / "rows.jsonl"
    data_file.write_text(
        "".join(json.dumps({"text": t}) + "\n" for t in rows["text"]), encoding="utf-8"
    )
    streamed = datasets.load_dataset(
        "json", data_files=str(data_file), split="train", streaming=True
    )

    module = make(streamed, cache_dir=tmp_path / "cache", val_fraction=0.0)
    reference = make(rows, cache_dir=tmp_path / "reference", val_fraction=0.0)

    assert isinstance(streamed, datasets.IterableDataset)
    assert module.store.info.num_documents == 90
    assert torch.equal(all_rows(module), all_rows(reference))


def test_workers_read_the_memory_map(tmp_path: Path) -> None:
    module = make(sentences(100), cache_dir=tmp_path, num_workers=2, val_fraction=0.0)
    single = make(sentences(100), cache_dir=tmp_path, num_workers=0, val_fraction=0.0)

    loader, reference = module.train_dataloader(), single.train_dataloader()

    assert [b["input_ids"].tolist() for b in loader] == [b["input_ids"].tolist() for b in reference]


def test_stats_are_plain_json_values() -> None:
    import json

    stats = make(sentences(100)).stats()

    assert json.loads(json.dumps(stats)) == stats
    assert stats["num_train_rows"] > 0 and stats["seq_len"] == 16 and stats["packing"] is True
