"""The order in which training sees the examples: deterministic, position-addressable, resumable.

The global example stream is a sequence of slots 0, 1, 2, ...; step t's global batch is slots
``[t * G, (t + 1) * G)`` for the global batch size G, whatever the number of ranks, loader workers
or accumulation steps. Each slot gets

- a language, drawn with p ~ size^alpha from a generator seeded by (seed, slot block);
- the next position of that language's own stream. A language stream walks its rows epoch after
  epoch: rows are cut into blocks of contiguous rows, the blocks are permuted per epoch, and
  consecutive permuted blocks are gathered into windows the size of the shuffle buffer, whose rows
  are shuffled. Reading stays sequential within a block (friendly to memory-mapped files on disk)
  while examples from far apart mix.

Everything is a pure function of (seed, slot) given the per-language counts at the start of a
step, so a checkpoint only needs the step number and those counts to continue exactly. A micro-batch
is a fixed slice of its step's global batch: rank r's m-th micro-batch is slice ``m * world + r``,
so ranks never overlap and their union is the single-process batch. Loader workers take whole
micro-batches round-robin, which is the order torch's DataLoader returns them in.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from schemas.tokens import PAD_ID
from schemas.vocab import ENTITY_PAD_ID

from .masking import IGNORE, Masker
from .shards import Chunk, MappedLanguage, gather_batch

# Seed-sequence tags keep the generators of different purposes independent.
_LANGUAGE_TAG = 1
_BLOCK_TAG = 2
_WINDOW_TAG = 3
_MASK_TAG = 4
SAMPLER_BLOCK = 1 << 16


def sampling_probabilities(sizes: np.ndarray, alpha: float) -> np.ndarray:
    """p_i ~ size_i ** alpha (alpha 1: proportional, 0: uniform), as in XLM-R and mLUKE."""
    weights = np.asarray(sizes, dtype=np.float64) ** alpha
    return weights / weights.sum()


def _generator(*key: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(k) for k in key])))


def batch_generator(seed: int, step: int, slice_index: int) -> np.random.Generator:
    """The masking generator of one micro-batch: counter-based (Philox), so creating one per batch
    costs microseconds and batches never share a stream (the draws advance the counter's lowest
    word, the batch is in the others)."""
    mask64 = (1 << 64) - 1
    return np.random.Generator(
        np.random.Philox(key=seed & mask64, counter=[0, step & mask64, slice_index & mask64, _MASK_TAG])
    )


class LanguageSampler:
    """The language of every slot, generated in blocks of SAMPLER_BLOCK slots."""

    def __init__(self, probabilities: np.ndarray, seed: int) -> None:
        self.cumulative = np.cumsum(probabilities)
        self.cumulative[-1] = 1.0
        self.seed = seed
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()

    def _block(self, index: int) -> np.ndarray:
        block = self._cache.get(index)
        if block is None:
            draws = _generator(self.seed, _LANGUAGE_TAG, index).random(SAMPLER_BLOCK)
            block = np.searchsorted(self.cumulative, draws, side="right").astype(np.int64)
            self._cache[index] = block
            while len(self._cache) > 2:
                self._cache.popitem(last=False)
        return block

    def languages(self, start: int, count: int) -> np.ndarray:
        parts = []
        position = start
        end = start + count
        while position < end:
            index, offset = divmod(position, SAMPLER_BLOCK)
            take = min(end - position, SAMPLER_BLOCK - offset)
            parts.append(self._block(index)[offset : offset + take])
            position += take
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)

    def counts_before(self, slot: int, languages: int) -> np.ndarray:
        """Per-language number of slots before ``slot`` (replays the draws)."""
        counts = np.zeros(languages, dtype=np.int64)
        position = 0
        while position < slot:
            take = min(slot - position, SAMPLER_BLOCK * 16)
            counts += np.bincount(self.languages(position, take), minlength=languages)
            position += take
        return counts


class LanguageOrder:
    """Row order of one language: permuted blocks, shuffled within windows of the buffer size."""

    def __init__(self, rows: int, seed: int, lang_index: int, shuffle_buffer: int, block_rows: int) -> None:
        self.rows = rows
        self.seed = seed
        self.lang_index = lang_index
        self.block_rows = max(1, min(block_rows, shuffle_buffer))
        self.window_blocks = max(1, shuffle_buffer // self.block_rows)
        self.blocks = -(-rows // self.block_rows)
        self._epochs: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._windows: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()

    def _epoch(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """(permuted block ids, row start of every window) of an epoch."""
        found = self._epochs.get(epoch)
        if found is None:
            perm = _generator(self.seed, _BLOCK_TAG, self.lang_index, epoch).permutation(self.blocks)
            sizes = np.minimum(self.block_rows, self.rows - perm * self.block_rows)
            window_sizes = np.add.reduceat(sizes, np.arange(0, self.blocks, self.window_blocks))
            found = (perm, np.concatenate([[0], np.cumsum(window_sizes)]))
            self._epochs[epoch] = found
            while len(self._epochs) > 2:
                self._epochs.popitem(last=False)
        return found

    def _window(self, epoch: int, window: int) -> np.ndarray:
        rows = self._windows.get((epoch, window))
        if rows is None:
            perm, _ = self._epoch(epoch)
            blocks = perm[window * self.window_blocks : (window + 1) * self.window_blocks]
            starts = blocks * self.block_rows
            sizes = np.minimum(self.block_rows, self.rows - starts)
            offsets = np.cumsum(sizes) - sizes
            total = int(sizes.sum())
            rows = np.repeat(starts, sizes) + (np.arange(total) - np.repeat(offsets, sizes))
            rows = _generator(self.seed, _WINDOW_TAG, self.lang_index, epoch, window).permutation(rows)
            self._windows[(epoch, window)] = rows
            while len(self._windows) > 4:
                self._windows.popitem(last=False)
        return rows

    def rows_at(self, positions: np.ndarray) -> np.ndarray:
        """Row numbers at positions of the language's endless stream."""
        epochs, within = np.divmod(positions, self.rows)
        if len(positions) and epochs.min() == epochs.max():
            _, window_starts = self._epoch(int(epochs[0]))
            windows = np.searchsorted(window_starts, within, side="right") - 1
            if windows.min() == windows.max():  # the common case: one window
                window = int(windows[0])
                return self._window(int(epochs[0]), window)[within - window_starts[window]]
        out = np.empty(len(positions), dtype=np.int64)
        for epoch in np.unique(epochs):
            in_epoch = np.flatnonzero(epochs == epoch)
            _, window_starts = self._epoch(int(epoch))
            windows = np.searchsorted(window_starts, within[in_epoch], side="right") - 1
            for window in np.unique(windows):
                where = in_epoch[windows == window]
                rows = self._window(int(epoch), int(window))
                out[where] = rows[within[where] - window_starts[window]]
        return out


@dataclass
class StreamConfig:
    seed: int
    global_batch_size: int
    micro_batch_size: int
    world_size: int = 1
    rank: int = 0
    sampling_smoothing: float = 0.7
    shuffle_buffer: int = 16384
    block_rows: int = 256
    length_multiple: int = 8  # words + entities padded to a multiple of this (tensor-core tiles)

    @property
    def accumulation(self) -> int:
        return self.global_batch_size // (self.micro_batch_size * self.world_size)


@dataclass
class MicroBatch:
    step: int
    micro: int  # index of this micro-batch within the rank's share of the step
    arrays: dict[str, np.ndarray]
    langs: np.ndarray  # language index per example
    rows: np.ndarray  # row within the language per example
    tokens: int  # non-padding word tokens
    extra: dict = field(default_factory=dict)


class ExampleStream:
    """Yields a rank's masked micro-batches from a step on, for one loader worker of several."""

    def __init__(
        self,
        files: list[list[Path]],
        sizes: np.ndarray,
        config: StreamConfig,
        masker: Masker,
    ) -> None:
        if config.global_batch_size % (config.micro_batch_size * config.world_size):
            raise ValueError("the global batch size must be a multiple of micro batch size x world size")
        self.files = files
        self.sizes = np.asarray(sizes, dtype=np.int64)
        self.config = config
        self.masker = masker
        self.probabilities = sampling_probabilities(self.sizes, config.sampling_smoothing)
        self.sampler = LanguageSampler(self.probabilities, config.seed)
        self.orders = [
            LanguageOrder(int(rows), config.seed, index, config.shuffle_buffer, config.block_rows)
            for index, rows in enumerate(self.sizes)
        ]
        self._mapped: list[MappedLanguage] | None = None

    # Workers receive the stream by pickling (spawn) or fork: reopen the mappings in each process.
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_mapped"] = None
        return state

    def _open(self) -> list[MappedLanguage]:
        if self._mapped is None:
            self._mapped = [MappedLanguage(files) for files in self.files]
            found = [language.rows for language in self._mapped]
            if found != [int(size) for size in self.sizes]:
                raise RuntimeError(f"shard rows changed since they were checked: {found}")
            self._chunks: list[Chunk] = [chunk for language in self._mapped for chunk in language.chunks]
            # Every chunk's first row in one global numbering (languages one after the other), so
            # that one searchsorted locates any batch.
            self._row_base = np.concatenate([[0], np.cumsum(self.sizes)])[:-1]
            self._chunk_starts = np.concatenate(
                [
                    language.chunk_starts[:-1] + base
                    for language, base in zip(self._mapped, self._row_base, strict=True)
                ]
            )
        return self._mapped

    def close(self) -> None:
        if self._mapped is not None:
            for language in self._mapped:
                language.close()
            self._mapped = None

    def counts_at_step(self, step: int) -> np.ndarray:
        return self.sampler.counts_before(step * self.config.global_batch_size, len(self.sizes))

    def global_batch(self, step: int, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(language, position in the language stream) of every slot of a step."""
        langs = self.sampler.languages(step * self.config.global_batch_size, self.config.global_batch_size)
        # Occurrence number of each slot among the step's slots of the same language.
        order = np.argsort(langs, kind="stable")
        sorted_langs = langs[order]
        group_start = np.searchsorted(sorted_langs, sorted_langs, side="left")
        positions = np.empty(len(langs), dtype=np.int64)
        positions[order] = counts[sorted_langs] + np.arange(len(langs)) - group_start
        return langs, positions

    def rows_of(self, langs: np.ndarray, positions: np.ndarray) -> np.ndarray:
        rows = np.empty(len(langs), dtype=np.int64)
        for lang in np.unique(langs):
            where = np.flatnonzero(langs == lang)
            rows[where] = self.orders[lang].rows_at(positions[where])
        return rows

    def make_batch(
        self, step: int, slice_index: int, langs: np.ndarray, rows: np.ndarray
    ) -> dict[str, np.ndarray]:
        """Gathers, pads and masks examples; masking is seeded by (seed, step, slice)."""
        self._open()
        global_rows = self._row_base[langs] + rows
        chunk_ids = np.searchsorted(self._chunk_starts, global_rows, side="right") - 1
        local_rows = global_rows - self._chunk_starts[chunk_ids]
        padded = gather_batch(self._chunks, chunk_ids, local_rows, (PAD_ID, ENTITY_PAD_ID))
        masked = self.masker(*padded, batch_generator(self.config.seed, step, slice_index))
        return device_ready(masked, self.config.length_multiple)

    def micro_batches(
        self,
        start_step: int,
        counts: np.ndarray | None = None,
        worker: int = 0,
        num_workers: int = 1,
        max_steps: int | None = None,
    ) -> Iterator[MicroBatch]:
        cfg = self.config
        counts = self.counts_at_step(start_step) if counts is None else np.array(counts, dtype=np.int64)
        accumulation = cfg.accumulation
        micro_index = 0  # counts this rank's micro-batches from start_step
        step = start_step
        while max_steps is None or step < max_steps:
            mine = [m for m in range(accumulation) if (micro_index + m) % num_workers == worker]
            if mine:
                langs, positions = self.global_batch(step, counts)
                slices = [m * cfg.world_size + cfg.rank for m in mine]
                # The rows of this process's slices, looked up together (one pass per language).
                picked = np.concatenate(
                    [np.arange(q * cfg.micro_batch_size, (q + 1) * cfg.micro_batch_size) for q in slices]
                )
                picked_rows = self.rows_of(langs[picked], positions[picked])
                for index, (m, slice_index) in enumerate(zip(mine, slices, strict=True)):
                    part = slice(index * cfg.micro_batch_size, (index + 1) * cfg.micro_batch_size)
                    batch_langs, rows = langs[picked][part], picked_rows[part]
                    arrays = self.make_batch(step, slice_index, batch_langs, rows)
                    tokens = int(np.count_nonzero(arrays["attention_mask"]))
                    yield MicroBatch(step, m, arrays, batch_langs, rows, tokens, {"counts": counts.copy()})
                counts = counts + np.bincount(langs, minlength=len(self.sizes))
            else:
                langs = self.sampler.languages(step * cfg.global_batch_size, cfg.global_batch_size)
                counts = counts + np.bincount(langs, minlength=len(self.sizes))
            micro_index += accumulation
            step += 1


def pad_entities_to_multiple(arrays: dict[str, np.ndarray], multiple: int) -> dict[str, np.ndarray]:
    """Pads the entity axis so that words + entities is a multiple of ``multiple``.

    Padded entities are [PAD] with attention mask 0, no position and no label: no word attends to
    them and no loss sees them, so the outputs at real positions do not change.
    """
    words = arrays["input_ids"].shape[1]
    entities = arrays["entity_ids"].shape[1]
    extra = -(words + entities) % multiple if multiple > 1 else 0
    if not extra:
        return arrays
    fill = {
        "entity_ids": ENTITY_PAD_ID,
        "entity_attention_mask": 0,
        "entity_position_ids": -1,
        "entity_labels": IGNORE,
    }
    out = dict(arrays)
    for name, value in fill.items():
        array = arrays[name]
        widths = [(0, 0)] * array.ndim
        widths[1] = (0, extra)
        out[name] = np.pad(array, widths, constant_values=value)
    return out


def prediction_targets(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat positions of the prediction targets and their labels (host side, so the device never
    has to find them with a data-dependent shape)."""
    flat = labels.reshape(-1)
    index = np.flatnonzero(flat != IGNORE)
    return index, flat[index]


def device_ready(arrays: dict[str, np.ndarray], length_multiple: int) -> dict[str, np.ndarray]:
    """A masked batch with its entity axis padded and the target positions listed."""
    out = pad_entities_to_multiple(arrays, length_multiple)
    out["word_target_index"], out["word_target_ids"] = prediction_targets(out["labels"])
    out["entity_target_index"], out["entity_target_ids"] = prediction_targets(out["entity_labels"])
    return out


def torch_loader(
    stream: ExampleStream,
    start_step: int,
    counts: np.ndarray,
    max_steps: int,
    num_workers: int = 0,
    pin_memory: bool = False,
):
    """A torch DataLoader over the stream; workers take micro-batches round-robin (same order)."""
    import torch
    from torch.utils.data import DataLoader, IterableDataset, get_worker_info

    class _Dataset(IterableDataset):
        def __iter__(self):
            info = get_worker_info()
            worker, workers = (0, 1) if info is None else (info.id, info.num_workers)
            for micro in stream.micro_batches(start_step, counts, worker, workers, max_steps):
                batch = {name: torch.from_numpy(array) for name, array in micro.arrays.items()}
                batch["step"] = torch.tensor(micro.step)
                batch["micro"] = torch.tensor(micro.micro)
                batch["tokens"] = torch.tensor(micro.tokens)
                yield batch

    # A private generator: creating the iterator must not consume the global torch RNG (dropout).
    return DataLoader(
        _Dataset(),
        batch_size=None,
        num_workers=num_workers,
        pin_memory=pin_memory,
        generator=torch.Generator().manual_seed(0),
        persistent_workers=False,
        prefetch_factor=4 if num_workers else None,
    )
