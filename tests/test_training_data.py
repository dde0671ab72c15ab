"""Shard reading, consistency checks, sampling order, sharding across ranks/workers, masking."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

pytest.importorskip("torch")

from training_fixtures import build_workdir

from schemas.shards import ShardMetadata
from schemas.tokens import BOS_ID, EOS_ID, PAD_ID
from schemas.vocab import ENTITY_MASK_ID, ENTITY_PAD_ID, ENTITY_UNK_ID
from training.data import (
    ExampleStream,
    LanguageOrder,
    LanguageSampler,
    StreamConfig,
    sampling_probabilities,
    torch_loader,
)
from training.errors import TrainingError
from training.masking import IGNORE, Masker, MaskingConfig, pad_ragged
from training.shards import MappedLanguage, open_shard_set
from training.trainer import PretrainOptions, resolve_paths
from training.vocab import load_word_vocab

pytestmark = pytest.mark.train


@pytest.fixture(scope="module")
def fixture(tmp_path_factory):
    return build_workdir(tmp_path_factory.mktemp("work"))


@pytest.fixture(scope="module")
def vocab(fixture):
    return load_word_vocab(fixture.tokenizer)


def _stream(fixture, vocab, **overrides) -> ExampleStream:
    shard_set = open_shard_set([fixture.shards])
    masking = overrides.pop("masking", MaskingConfig())
    config = StreamConfig(
        **{
            "seed": 3,
            "global_batch_size": 16,
            "micro_batch_size": 8,
            "shuffle_buffer": 32,
            "block_rows": 8,
            **overrides,
        }
    )
    masker = Masker(masking, vocab.mask_id, vocab.size, vocab.word_start_table())
    return ExampleStream([lang.files for lang in shard_set.languages], shard_set.sizes(), config, masker)


def test_reads_every_row_zero_copy(fixture):
    shard_set = open_shard_set([fixture.shards])
    assert shard_set.langs == sorted(fixture.langs)
    assert dict(zip(shard_set.langs, shard_set.sizes().tolist(), strict=True)) == fixture.rows
    before = pa.total_allocated_bytes()
    language = MappedLanguage(shard_set.languages[shard_set.langs.index("ja")].files)
    # Memory-mapped: opening allocates nothing on the Arrow heap, the views point into the files.
    assert pa.total_allocated_bytes() == before
    assert len(language.chunks) > 2  # several record batches over two files
    assert not language.chunks[0].word_values.flags.writeable
    expected = [record for record in fixture.texts() if record["lang"] == "ja"]
    rows = np.arange(language.rows)
    chunks, local = language.locate(rows)
    for row, chunk, index in zip(rows, chunks, local, strict=True):
        c = language.chunks[chunk]
        words = c.word_values[c.word_offsets[index] : c.word_offsets[index + 1]]
        starts = c.start_values[c.entity_offsets[index] : c.entity_offsets[index + 1]]
        assert words.tolist() == expected[row]["word_ids"]
        assert starts.tolist() == expected[row]["entity_starts"]
    language.close()


def _copy_workdir(fixture, target: Path) -> Path:
    shutil.copytree(fixture.root, target)
    return target


def test_refuses_a_mix_of_tokenizers(fixture, tmp_path):
    other = build_workdir(tmp_path / "other", langs=("de",), pages={"de": 20}, vocab_size=300)
    mixed = _copy_workdir(fixture, tmp_path / "mixed")
    shutil.rmtree(mixed / "shards" / "de")
    shutil.copytree(other.shards / "de", mixed / "shards" / "de")
    shutil.copy(other.shards / "_metadata" / "de.json", mixed / "shards" / "_metadata" / "de.json")
    # With the manifest the foreign shards are caught first (not in it / other sha256) ...
    with pytest.raises(TrainingError, match="manifest"):
        open_shard_set([mixed / "shards"])
    # ... without it, by comparing the languages' metadata.
    (mixed / "shards" / "_manifest.json").unlink()
    with pytest.raises(TrainingError, match=r"differ in tokenizer .*de: .*en, ja: "):
        open_shard_set([mixed / "shards"])
    # Two work directories built with different vocabularies are refused the same way.
    with pytest.raises(TrainingError, match="do not belong together"):
        open_shard_set([fixture.shards, other.shards], langs=None)


def test_refuses_other_settings_and_wrong_counts(fixture, tmp_path):
    work = _copy_workdir(fixture, tmp_path / "work")
    path = work / "shards" / "_metadata" / "ja.json"
    metadata = ShardMetadata.from_json(path.read_text())
    metadata.settings.max_seq_length = 256
    path.write_text(metadata.to_json())
    with pytest.raises(TrainingError, match="shard settings"):
        open_shard_set([work / "shards"])
    assert open_shard_set([work / "shards"], langs=["en", "de"]).langs == ["en", "de"]
    metadata.settings.max_seq_length = 128
    metadata.examples += 1
    path.write_text(metadata.to_json())
    with pytest.raises(TrainingError, match=r"says \d+ examples but its shards hold"):
        open_shard_set([work / "shards"])
    with pytest.raises(TrainingError, match="no shards for language"):
        open_shard_set([work / "shards"], langs=["fr"])


def test_refuses_a_tokenizer_that_is_not_the_shards_one(fixture, tmp_path):
    other = build_workdir(tmp_path / "other", langs=("en",), pages={"en": 10}, vocab_size=200)
    shard_set = open_shard_set([fixture.shards])
    options = PretrainOptions(
        data=[str(fixture.shards)], output=str(tmp_path / "run"), tokenizer=str(other.tokenizer)
    )
    with pytest.raises(TrainingError, match="not the one the shards were built with"):
        resolve_paths(options, shard_set)
    options = PretrainOptions(data=[str(fixture.shards)], output="x", entity_vocab=str(other.entity_vocab))
    with pytest.raises(TrainingError, match=r"entity vocabulary .* not the one"):
        resolve_paths(options, shard_set)


def test_language_sampling_follows_size_to_the_alpha():
    sizes = np.array([1_000_000, 10_000, 100])
    p = sampling_probabilities(sizes, 0.7)
    expected = sizes**0.7 / (sizes**0.7).sum()
    assert np.allclose(p, expected)
    assert np.allclose(sampling_probabilities(sizes, 0.0), 1 / 3)
    drawn = LanguageSampler(p, seed=1).languages(12_345, 300_000)
    frequency = np.bincount(drawn, minlength=3) / len(drawn)
    assert np.allclose(frequency, p, atol=0.005)
    sampler = LanguageSampler(p, seed=1)
    # Position-addressable: any window of the stream is the same however it is requested.
    assert np.array_equal(sampler.languages(70_000, 10), drawn[70_000 - 12_345 : 70_000 - 12_345 + 10])


def test_language_order_visits_every_row_once_per_epoch():
    order = LanguageOrder(rows=1000, seed=5, lang_index=0, shuffle_buffer=64, block_rows=16)
    epoch0 = order.rows_at(np.arange(0, 1000))
    epoch1 = order.rows_at(np.arange(1000, 2000))
    assert sorted(epoch0.tolist()) == list(range(1000)) == sorted(epoch1.tolist())
    assert not np.array_equal(epoch0, epoch1)
    assert not np.array_equal(epoch0, np.arange(1000))
    # Shuffle buffer: each window of 64 rows is 4 whole blocks of 16 contiguous rows, shuffled.
    aligned = LanguageOrder(rows=1024, seed=5, lang_index=0, shuffle_buffer=64, block_rows=16).rows_at(
        np.arange(1024)
    )
    for start in range(0, 1024, 64):
        window = aligned[start : start + 64]
        assert len(np.unique(window // 16)) == 4
        assert not np.array_equal(window, np.sort(window))
    # Random access gives the same rows as sequential access, in any order.
    positions = np.array([1999, 3, 1500, 64, 999])
    assert np.array_equal(order.rows_at(positions), np.concatenate([epoch0, epoch1])[positions])


def _step_examples(stream: ExampleStream, steps: int, **kwargs) -> dict[int, list[tuple[int, int]]]:
    out: dict[int, list[tuple[int, int]]] = {}
    for micro in stream.micro_batches(0, max_steps=steps, **kwargs):
        out.setdefault(micro.step, []).extend(zip(micro.langs.tolist(), micro.rows.tolist(), strict=True))
    return out


def test_ranks_split_the_global_batch_without_overlap(fixture, vocab):
    single = _step_examples(_stream(fixture, vocab), 6)
    ranks = [
        _step_examples(_stream(fixture, vocab, micro_batch_size=4, world_size=2, rank=rank), 6)
        for rank in range(2)
    ]
    for step, examples in single.items():
        rank0, rank1 = ranks[0][step], ranks[1][step]
        assert len(rank0) == len(rank1) == 8
        assert sorted(rank0 + rank1) == sorted(examples)
    # Within one pass over a language no row repeats (step batches are 16 of 279 rows).
    seen = [example for step in sorted(single) for example in single[step]]
    assert len(set(seen)) == len(seen)


def test_loader_workers_return_the_single_process_order(fixture, vocab):
    stream = _stream(fixture, vocab, micro_batch_size=4)
    counts = np.zeros(3, dtype=np.int64)
    plain = list(torch_loader(stream, 0, counts, max_steps=5, num_workers=0))
    workers = list(torch_loader(stream, 0, counts, max_steps=5, num_workers=2))
    assert len(plain) == len(workers) == 5 * 4
    for a, b in zip(plain, workers, strict=True):
        assert a.keys() == b.keys()
        for name in a:
            assert a[name].equal(b[name]), name


def test_resuming_at_a_step_gives_the_same_batches(fixture, vocab):
    stream = _stream(fixture, vocab, masking=MaskingConfig(whole_word_masking=True))
    full = list(stream.micro_batches(0, max_steps=40))  # 40 x 16 examples: more than one epoch
    counts = stream.counts_at_step(23)
    assert np.array_equal(counts, full[46].extra["counts"])
    resumed = list(
        _stream(fixture, vocab, masking=MaskingConfig(whole_word_masking=True)).micro_batches(
            23, counts, max_steps=40
        )
    )
    assert len(resumed) == len(full) - 46
    for a, b in zip(full[46:], resumed, strict=True):
        assert (a.step, a.micro) == (b.step, b.micro)
        for name in a.arrays:
            assert np.array_equal(a.arrays[name], b.arrays[name]), name


def _batch(fixture, vocab, rows=64, **config):
    stream = _stream(
        fixture, vocab, global_batch_size=rows, micro_batch_size=rows, masking=MaskingConfig(**config)
    )
    return next(stream.micro_batches(0, max_steps=1)), stream


def _original_words(fixture, stream, micro):
    records = {(r["lang"], r["row"]): r for r in fixture.texts()}
    langs = open_shard_set([fixture.shards]).langs
    return [records[(langs[lang], row)] for lang, row in zip(micro.langs, micro.rows, strict=True)]


def test_subword_masking_counts_and_replacements(fixture, vocab):
    micro, stream = _batch(fixture, vocab, rows=128)
    a = micro.arrays
    originals = _original_words(fixture, stream, micro)
    width = max(len(r["word_ids"]) for r in originals)
    assert a["input_ids"].shape == (128, width)  # padded to the longest sequence of the batch
    original = pad_ragged(
        np.concatenate([r["word_ids"] for r in originals]),
        np.array([len(r["word_ids"]) for r in originals]),
        PAD_ID,
    )
    targets = a["labels"] != IGNORE
    assert np.array_equal(a["labels"][targets], original[targets])
    assert np.array_equal(a["input_ids"][~targets], original[~targets])
    maskable = (original != BOS_ID) & (original != EOS_ID) & (original != PAD_ID)
    expected = np.maximum(1, np.rint(maskable.sum(1) * 0.15))
    assert np.array_equal(targets.sum(1), expected)
    assert not (targets & ~maskable).any()
    replaced = a["input_ids"][targets]
    share_mask = (replaced == vocab.mask_id).mean()
    share_kept = (replaced == original[targets]).mean()
    assert 0.74 < share_mask < 0.86
    assert 0.06 < share_kept < 0.16  # 10% kept plus random picks that hit the original
    random_ids = replaced[(replaced != vocab.mask_id) & (replaced != original[targets])]
    assert len(random_ids) and random_ids.min() >= 4 and random_ids.max() < vocab.mask_id
    assert np.array_equal(a["attention_mask"].sum(1), [len(r["word_ids"]) for r in originals])


def test_whole_word_masking_takes_whole_words(fixture, vocab):
    micro, _ = _batch(fixture, vocab, rows=64, whole_word_masking=True)
    a = micro.arrays
    table = vocab.word_start_table()
    targets = a["labels"] != IGNORE
    original = np.where(targets, a["labels"], a["input_ids"])
    for row in range(len(original)):
        length = a["attention_mask"][row].sum()
        words = original[row, 1 : length - 1]
        chosen = targets[row, 1 : length - 1]
        word_index = np.cumsum(table[words]) - 1
        for word in np.unique(word_index):
            part = chosen[word_index == word]
            assert part.all() or not part.any()
        expected = max(1, round(len(words) * 0.15))
        longest = np.bincount(word_index).max()
        assert expected <= chosen.sum() < expected + longest


def test_entity_masking_and_positions(fixture, vocab):
    micro, stream = _batch(fixture, vocab, rows=64, mask_words_in_entity_spans=True)
    a = micro.arrays
    originals = _original_words(fixture, stream, micro)
    lengths = np.array([len(r["entity_ids"]) for r in originals])
    assert a["entity_ids"].shape[1] == max(1, lengths.max())
    assert np.array_equal(a["entity_attention_mask"].sum(1), lengths)
    targets = a["entity_labels"] != IGNORE
    real = np.zeros_like(targets)
    for row, record in enumerate(originals):
        ids = np.array(record["entity_ids"], dtype=np.int64)
        real[row, : len(ids)] = ids > ENTITY_UNK_ID
        assert np.array_equal(
            np.where(
                targets[row, : len(ids)],
                a["entity_labels"][row, : len(ids)],
                a["entity_ids"][row, : len(ids)],
            ),
            ids,
        )
        for index, (start, end) in enumerate(
            zip(record["entity_starts"], record["entity_ends"], strict=True)
        ):
            positions = a["entity_position_ids"][row, index]
            assert positions[positions >= 0].tolist() == list(range(start, end))
            if targets[row, index]:
                # The words of a masked entity are masked too (this option) and are targets.
                assert (a["input_ids"][row, start:end] == vocab.mask_id).all()
                assert (a["labels"][row, start:end] != IGNORE).all()
        assert (a["entity_position_ids"][row, len(ids) :] == -1).all()
        assert (a["entity_ids"][row, len(ids) :] == ENTITY_PAD_ID).all()
    assert (a["entity_ids"][targets] == ENTITY_MASK_ID).all()
    assert not (targets & ~real).any()
    expected = np.where(real.sum(1) > 0, np.maximum(1, np.rint(real.sum(1) * 0.15)), 0)
    assert np.array_equal(targets.sum(1), expected)


def test_masking_is_deterministic_and_seeded(fixture, vocab):
    first, _ = _batch(fixture, vocab, rows=16)
    again, _ = _batch(fixture, vocab, rows=16)
    for name in first.arrays:
        assert np.array_equal(first.arrays[name], again.arrays[name])
    other = next(
        _stream(fixture, vocab, seed=4, global_batch_size=16, micro_batch_size=16).micro_batches(
            0, max_steps=1
        )
    )
    assert not np.array_equal(first.rows, other.rows) or not np.array_equal(
        first.arrays["labels"], other.arrays["labels"]
    )


def test_manifest_checksums_are_verified_on_request(fixture, tmp_path):
    work = _copy_workdir(fixture, tmp_path / "work")
    shard = sorted((work / "shards" / "en").glob("*.arrow"))[0]
    manifest = json.loads((work / "shards" / "_manifest.json").read_text())
    for entry in manifest["shards"]:
        if entry["path"].endswith(shard.name):
            entry["sha256"] = "0" * 64
    (work / "shards" / "_manifest.json").write_text(json.dumps(manifest))
    open_shard_set([work / "shards"])  # sizes and rows still agree
    with pytest.raises(TrainingError, match="sha256 differs"):
        open_shard_set([work / "shards"], verify_checksums=True)
