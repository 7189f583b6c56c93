from __future__ import annotations

import json

import pytest
from tokenizers import Tokenizer

from adaptive_tokenizer import (
    DatasetError,
    FastBPETrainer,
    SpecialTokens,
    TokenizerValidator,
    VocabSizeError,
    trim_bpe_to_size,
)


@pytest.fixture(scope="module")
def trainer() -> FastBPETrainer:
    return FastBPETrainer(show_progress=False)


@pytest.mark.parametrize("target", [260, 300, 777, 3001])
def test_bpe_hits_exact_size_from_minimum_upward(trainer, corpus, target):
    tok = trainer.train_on_dataset(corpus, target)

    assert len(tok) == target
    assert max(tok.get_vocab().values()) == target - 1
    assert TokenizerValidator.validate(tok, target).passed


def test_bpe_pads_with_reserved_tokens_when_data_runs_out_of_merges(trainer, corpus):
    tok = trainer.train_on_dataset(corpus, 20_000)

    vocab = tok.get_vocab()
    assert len(tok) == 20_000
    assert "<|reserved_0|>" in vocab
    assert max(vocab.values()) == 19_999
    # reserved tokens are inert: encoding their spelling never produces them
    reserved_ids = {i for t, i in vocab.items() if t.startswith("<|reserved_")}
    assert not reserved_ids & set(tok("<|reserved_0|> text")["input_ids"])


def test_bpe_special_tokens_have_fixed_ids(trainer, corpus):
    tok = trainer.train_on_dataset(corpus, 300)

    assert (tok.pad_token_id, tok.unk_token_id, tok.bos_token_id, tok.eos_token_id) == (0, 1, 2, 3)
    assert (tok.pad_token, tok.unk_token, tok.bos_token, tok.eos_token) == (
        "<pad>",
        "<unk>",
        "<s>",
        "</s>",
    )


def test_bpe_custom_special_tokens_take_the_first_ids(trainer, corpus):
    tok = trainer.train_on_dataset(
        corpus, 400, special_tokens=["[PAD]", "[UNK]", "[BOS]", "[EOS]", "[SEP]"]
    )

    assert [
        tok.convert_tokens_to_ids(t) for t in ["[PAD]", "[UNK]", "[BOS]", "[EOS]", "[SEP]"]
    ] == [0, 1, 2, 3, 4]
    assert len(tok) == 400


def test_bpe_round_trips_any_unicode_exactly(trainer, corpus, unicode_lines):
    tok = trainer.train_on_dataset(corpus, 500)

    for text in [*unicode_lines, "  leading and trailing  ", "x\r\ny", "never seen: Ωλφα ∑∫"]:
        assert tok.decode(tok(text)["input_ids"]) == text


def test_bpe_below_byte_alphabet_points_to_character_level(trainer, corpus):
    with pytest.raises(VocabSizeError, match="character"):
        trainer.train_on_dataset(corpus, 259)


def test_bpe_rejects_empty_and_non_string_data(trainer):
    with pytest.raises(DatasetError, match="no text"):
        trainer.train_on_dataset(["", ""], 300)
    with pytest.raises(DatasetError, match="strings"):
        trainer.train_on_dataset(["ok", 3], 300)
    with pytest.raises(DatasetError, match="single string"):
        trainer.train_on_dataset("just one string", 300)


def test_trim_drops_last_merges_and_keeps_a_working_tokenizer(trainer, corpus):
    big = trainer.train_on_dataset(corpus, 600).backend_tokenizer

    small = trim_bpe_to_size(big, 400)

    assert small.get_vocab_size() == 400
    assert max(small.get_vocab().values()) == 399
    merges = json.loads(small.to_str())["model"]["merges"]
    assert len(merges) == 400 - 260
    text = "the king and the queen"
    assert all(i < 400 for i in small.encode(text).ids)
    assert small.decode(small.encode(text).ids) == text
    # the kept merges are the first ones: same encoding as a tokenizer trained to 400 directly
    direct = trainer.train_on_dataset(corpus, 400).backend_tokenizer
    assert small.encode(text).ids == direct.encode(text).ids


def test_trained_ids_match_raw_tokenizers_training(trainer, corpus):
    from tokenizers import ByteLevelBPETokenizer

    raw = ByteLevelBPETokenizer()
    raw.train_from_iterator(
        corpus,
        vocab_size=500,
        min_frequency=2,
        special_tokens=SpecialTokens().all(),
        show_progress=False,
    )
    ours = trainer.train_on_dataset(corpus, 500)

    text = "".join(corpus[:20])
    assert ours(text)["input_ids"] == raw.encode(text).ids


class _CountingTrainer(FastBPETrainer):
    """Counts real trainings (the training itself still runs)."""

    trainings = 0

    def _train(self, *args, **kwargs):
        type(self).trainings += 1
        return super()._train(*args, **kwargs)


def test_cache_hit_skips_training_and_returns_the_same_tokenizer(tmp_path, corpus):
    trainer = _CountingTrainer(show_progress=False)
    first = trainer.train_on_dataset(corpus, 450, cache_dir=tmp_path)
    second = trainer.train_on_dataset(list(corpus), 450, cache_dir=tmp_path)

    assert _CountingTrainer.trainings == 1
    assert second.get_vocab() == first.get_vocab()
    assert second.backend_tokenizer.to_str() == first.backend_tokenizer.to_str()
    assert len(list(tmp_path.glob("bpe-*"))) == 1


def test_cache_key_follows_data_and_settings(tmp_path, corpus):
    trainer = _CountingTrainer(show_progress=False)
    _CountingTrainer.trainings = 0
    trainer.train_on_dataset(corpus, 450, cache_dir=tmp_path)
    trainer.train_on_dataset([*corpus, "one more line\n"], 450, cache_dir=tmp_path)
    trainer.train_on_dataset(corpus, 451, cache_dir=tmp_path)
    _CountingTrainer(min_frequency=3, show_progress=False).train_on_dataset(
        corpus, 450, cache_dir=tmp_path
    )

    assert _CountingTrainer.trainings == 4
    assert len(list(tmp_path.glob("bpe-*"))) == 4


def test_generator_input_is_spooled_and_shares_the_cache_with_a_list(tmp_path, corpus):
    trainer = _CountingTrainer(show_progress=False)
    _CountingTrainer.trainings = 0
    from_generator = trainer.train_on_dataset((line for line in corpus), 450, cache_dir=tmp_path)
    from_list = trainer.train_on_dataset(corpus, 450, cache_dir=tmp_path)

    assert _CountingTrainer.trainings == 1
    assert from_list.get_vocab() == from_generator.get_vocab()
    assert from_generator(corpus[-1])["input_ids"] == from_list(corpus[-1])["input_ids"]


def test_generator_without_cache_streams_in_one_pass(corpus):
    consumed = []

    def stream():
        for line in corpus:
            consumed.append(line)
            yield line

    tok = FastBPETrainer(show_progress=False).train_on_dataset(stream(), 300)

    assert len(tok) == 300
    assert len(consumed) == len(corpus)


def test_corrupt_cache_entry_is_retrained(tmp_path, corpus):
    trainer = _CountingTrainer(show_progress=False)
    _CountingTrainer.trainings = 0
    trainer.train_on_dataset(corpus, 450, cache_dir=tmp_path)
    (entry,) = tmp_path.glob("bpe-*")
    (entry / "tokenizer.json").write_text("{not json")

    tok = trainer.train_on_dataset(corpus, 450, cache_dir=tmp_path)

    assert len(tok) == 450
    assert _CountingTrainer.trainings == 2


def test_hf_dataset_input_uses_its_text_column(tmp_path, corpus_factory):
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_dict({"id": list(range(300)), "content": corpus_factory(300)[:300]})

    tok = FastBPETrainer(show_progress=False, text_column="content").train_on_dataset(
        ds, 400, cache_dir=tmp_path
    )
    again = FastBPETrainer(show_progress=False, text_column="content").train_on_dataset(
        ds, 400, cache_dir=tmp_path
    )

    assert len(tok) == 400
    assert again.get_vocab() == tok.get_vocab()
    with pytest.raises(DatasetError, match="column"):
        FastBPETrainer(show_progress=False, text_column="missing").train_on_dataset(ds, 400)


def test_saved_bpe_tokenizer_round_trips(tmp_path, trainer, corpus):
    from transformers import PreTrainedTokenizerFast

    tok = trainer.train_on_dataset(corpus, 1000)
    tok.save_pretrained(str(tmp_path))
    loaded = PreTrainedTokenizerFast.from_pretrained(str(tmp_path))

    assert len(loaded) == 1000
    assert loaded(corpus[3])["input_ids"] == tok(corpus[3])["input_ids"]
    assert Tokenizer.from_file(str(tmp_path / "tokenizer.json")).get_vocab_size() == 1000


def test_streaming_iterable_dataset_is_read_once_per_call_and_cached(tmp_path, corpus):
    datasets = pytest.importorskip("datasets")

    def rows():
        for i, line in enumerate(corpus):
            yield {"id": i, "text": line}

    stream = datasets.IterableDataset.from_generator(rows)
    trainer = _CountingTrainer(show_progress=False)
    _CountingTrainer.trainings = 0

    first = trainer.train_on_dataset(stream, 450, cache_dir=tmp_path)
    second = trainer.train_on_dataset(stream, 450, cache_dir=tmp_path)
    from_list = trainer.train_on_dataset(corpus, 450, cache_dir=tmp_path)

    assert _CountingTrainer.trainings == 1
    assert first.get_vocab() == second.get_vocab() == from_list.get_vocab()
    with pytest.raises(DatasetError, match="no 'body' column"):
        FastBPETrainer(show_progress=False, text_column="body").train_on_dataset(stream, 450)
