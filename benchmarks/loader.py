"""Loader throughput: masked 512-token sequences per second on one CPU core.

Compares, in the same run and on the same rows of the same memory-mapped shards:

- ``vectorized``: training's loader (language sampling, shuffled order, gather from the mapped
  Arrow files, dynamic padding, numpy masking of the whole batch, torch tensors);
- ``per-example``: the straightforward approach of the luke repository's pretraining batch worker:
  per example a Python loop over the tokens, a permutation of the candidates and a loop over the
  chosen ones for 80/10/10, entity rows filled one by one, every example padded to the maximum
  lengths (512 words, 128 entities x 30 positions), then stacked. Same masking rules and counts;
  it reads the same memory-mapped rows (luke also decodes TFRecords, not counted here).

Synthetic shards (written under benchmarks/work/loader, git-ignored): full 512-token sequences,
~30 entity mentions of 1-6 tokens each, a 250,002-id word vocabulary, 1.2M entities.

    python benchmarks/loader.py [--sequences 20000] [--batch 32]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from schemas.shards import SHARD_SCHEMA
from schemas.tokens import BOS_ID, EOS_ID, PAD_ID, WordIdConvention
from schemas.vocab import ENTITY_MASK_ID, ENTITY_PAD_ID, ENTITY_UNK_ID
from training.data import ExampleStream, StreamConfig
from training.masking import IGNORE, Masker, MaskingConfig

WORK = Path(__file__).resolve().parent / "work" / "loader"
CONVENTION = WordIdConvention(250_000)
ENTITY_VOCAB = 1_200_000
SEQ_LEN = 512
MAX_ENTITIES = 128


def write_shards(
    sequences: int, langs: tuple[str, ...] = ("en", "ja", "sw"), seed: int = 0
) -> list[list[Path]]:
    rng = np.random.default_rng(seed)
    files: list[list[Path]] = []
    weights = np.array([0.6, 0.3, 0.1])
    for lang, weight in zip(langs, weights, strict=True):
        rows = int(sequences * weight)
        path = WORK / f"{lang}-00000-of-00001.arrow"
        files.append([path])
        if path.exists() and pa.ipc.open_file(pa.memory_map(str(path))).read_all().num_rows == rows:
            continue
        WORK.mkdir(parents=True, exist_ok=True)
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, SHARD_SCHEMA) as writer:
            for start in range(0, rows, 1024):
                count = min(1024, rows - start)
                words = rng.integers(4, CONVENTION.mask_id, size=(count, SEQ_LEN), dtype=np.int32)
                words[:, 0], words[:, -1] = BOS_ID, EOS_ID
                mentions = rng.integers(20, 40, size=count)
                entity_ids, starts, ends = [], [], []
                for m in mentions:
                    slots = np.sort(rng.choice(np.arange(1, SEQ_LEN - 8, 8), size=m, replace=False))
                    starts.append(slots.astype(np.int32))
                    ends.append((slots + rng.integers(1, 7, size=m)).astype(np.int32))
                    entity_ids.append(rng.integers(4, ENTITY_VOCAB, size=m, dtype=np.int32))
                batch = pa.record_batch(
                    [
                        pa.array([lang] * count, pa.string()),
                        pa.array(np.arange(start, start + count), pa.int64()),
                        pa.array(np.full(count, -1), pa.int32()),
                        pa.array(list(words), pa.list_(pa.int32())),
                        pa.array(entity_ids, pa.list_(pa.int32())),
                        pa.array(starts, pa.list_(pa.int32())),
                        pa.array(ends, pa.list_(pa.int32())),
                    ],
                    schema=SHARD_SCHEMA,
                )
                writer.write_batch(batch)
    return files


def sizes_of(files: list[list[Path]]) -> np.ndarray:
    return np.array([pa.ipc.open_file(pa.memory_map(str(f[0]))).read_all().num_rows for f in files])


class PerExampleMasker:
    """The luke repository's approach, as its pretraining batch worker does it: per example, a
    Python loop over the tokens to collect candidates (words joined with their subwords for
    whole-word masking), a permutation of the candidates and a loop over the chosen ones for
    80/10/10, entity masking and position rows per entity, every example padded to the maximum
    lengths, then stacked."""

    def __init__(
        self,
        config: MaskingConfig,
        mask_id: int,
        word_start: np.ndarray | None,
        max_seq: int,
        max_entities: int,
    ) -> None:
        self.config = config
        self.mask_id = mask_id
        self.word_start = word_start
        self.max_seq = max_seq
        self.max_entities = max_entities

    def example(
        self, word_ids: np.ndarray, entity_ids: np.ndarray, starts: np.ndarray, ends: np.ndarray
    ) -> dict:
        cfg = self.config
        size = len(word_ids)
        output_word_ids = np.full(self.max_seq, PAD_ID, dtype=np.int64)
        output_word_ids[:size] = word_ids
        attention_mask = np.zeros(self.max_seq, dtype=np.int64)
        attention_mask[:size] = 1
        labels = np.full(self.max_seq, IGNORE, dtype=np.int64)
        candidates: list[list[int]] = []
        for i, word in enumerate(word_ids):
            if word in (BOS_ID, EOS_ID, PAD_ID):
                continue
            if (
                cfg.whole_word_masking
                and candidates
                and not self.word_start[word]
                and candidates[-1][-1] == i - 1
            ):
                candidates[-1].append(i)
            else:
                candidates.append([i])
        tokens = sum(len(group) for group in candidates)
        to_predict = max(1, round(tokens * cfg.word_mask_prob)) if tokens else 0
        predicted = 0
        for group_index in np.random.permutation(len(candidates)):
            if predicted >= to_predict:
                break
            for index in candidates[group_index]:
                labels[index] = word_ids[index]
                draw = random.random()
                if draw < cfg.mask_replace_prob:
                    output_word_ids[index] = self.mask_id
                elif draw < cfg.mask_replace_prob + cfg.random_replace_prob:
                    output_word_ids[index] = random.randint(4, self.mask_id - 1)
                predicted += 1

        output_entity_ids = np.zeros(self.max_entities, dtype=np.int64)
        entity_attention_mask = np.zeros(self.max_entities, dtype=np.int64)
        entity_labels = np.full(self.max_entities, IGNORE, dtype=np.int64)
        position_ids = np.full((self.max_entities, cfg.max_mention_length), -1, dtype=np.int64)
        entity_candidates = []
        for n, (entity, start, end) in enumerate(zip(entity_ids, starts, ends, strict=True)):
            output_entity_ids[n] = entity
            entity_attention_mask[n] = 1
            span = list(range(start, end))[: cfg.max_mention_length]
            position_ids[n, : len(span)] = span
            if entity not in (ENTITY_PAD_ID, ENTITY_UNK_ID):
                entity_candidates.append(n)
        if entity_candidates:
            count = max(1, round(len(entity_candidates) * cfg.entity_mask_prob))
            for n in np.random.permutation(entity_candidates)[:count]:
                entity_labels[n] = output_entity_ids[n]
                output_entity_ids[n] = ENTITY_MASK_ID
        return {
            "input_ids": output_word_ids,
            "attention_mask": attention_mask,
            "labels": labels,
            "entity_ids": output_entity_ids,
            "entity_attention_mask": entity_attention_mask,
            "entity_position_ids": position_ids,
            "entity_labels": entity_labels,
        }

    def batch(self, rows: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]) -> dict:
        examples = [self.example(*row) for row in rows]
        return {key: np.stack([example[key] for example in examples]) for key in examples[0]}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sequences", type=int, default=20_000, help="rows in the synthetic shards")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--vectorized-batches", type=int, default=1200)
    parser.add_argument("--baseline-batches", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=12)
    args = parser.parse_args()

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    import torch

    torch.set_num_threads(1)
    files = write_shards(args.sequences)
    sizes = sizes_of(files)
    word_start = np.random.default_rng(1).random(CONVENTION.vocab_size) < 0.6
    results = []
    for whole_word in (False, True):
        config = MaskingConfig(whole_word_masking=whole_word)
        masker = Masker(config, CONVENTION.mask_id, CONVENTION.vocab_size, word_start)
        stream = ExampleStream(files, sizes, StreamConfig(7, args.batch, args.batch), masker)
        mapped = stream._open()
        baseline = PerExampleMasker(config, CONVENTION.mask_id, word_start, SEQ_LEN, MAX_ENTITIES)
        random.seed(7)
        np.random.seed(7)
        batches = stream.micro_batches(0)
        counts = np.zeros(len(sizes), dtype=np.int64)
        baseline_step = 0
        times = {"vectorized": 0.0, "per-example": 0.0}
        produced = {"vectorized": 0, "per-example": 0}
        # Interleaved rounds, so that load from other processes hits both sides alike.
        for _ in range(args.rounds):
            started = time.perf_counter()
            for _ in range(args.vectorized_batches // args.rounds):
                micro = next(batches)
                tensors = {name: torch.from_numpy(array) for name, array in micro.arrays.items()}
                produced["vectorized"] += len(tensors["input_ids"])
            times["vectorized"] += time.perf_counter() - started

            started = time.perf_counter()
            for _ in range(args.baseline_batches // args.rounds):
                langs, positions = stream.global_batch(baseline_step, counts)
                counts += np.bincount(langs, minlength=len(sizes))
                baseline_step += 1
                rows = stream.rows_of(langs, positions)
                examples = []
                for lang, row in zip(langs.tolist(), rows.tolist(), strict=True):
                    chunk_index, local = mapped[lang].locate(np.array([row]))
                    c = mapped[lang].chunks[int(chunk_index[0])]
                    i = int(local[0])
                    w0, w1 = c.word_offsets[i], c.word_offsets[i + 1]
                    e0, e1 = c.entity_offsets[i], c.entity_offsets[i + 1]
                    examples.append(
                        (
                            c.word_values[w0:w1],
                            c.entity_values[e0:e1],
                            c.start_values[e0:e1],
                            c.end_values[e0:e1],
                        )
                    )
                arrays = baseline.batch(examples)
                tensors = {name: torch.from_numpy(array) for name, array in arrays.items()}
                produced["per-example"] += len(tensors["input_ids"])
            times["per-example"] += time.perf_counter() - started
        stream.close()
        rates = {side: produced[side] / times[side] for side in times}
        results.append(("whole-word" if whole_word else "subword", rates["vectorized"], rates["per-example"]))

    print(f"loader benchmark: {SEQ_LEN}-token sequences, batch {args.batch}, one CPU core")
    print(f"{'masking':<12}{'vectorized seq/s':>18}{'per-example seq/s':>20}{'speed-up':>10}")
    for name, vectorized, straightforward in results:
        print(f"{name:<12}{vectorized:>18,.0f}{straightforward:>20,.0f}{vectorized / straightforward:>9.1f}x")


if __name__ == "__main__":
    main()
