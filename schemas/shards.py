"""The pretraining shards: Arrow IPC files per language, their metadata and the manifest.

Layout under the work directory::

    shards/{lang}/{lang}-00000-of-00008.arrow   Arrow IPC file format, SHARD_SCHEMA (nothing else here)
    shards/_metadata/{lang}.json                ShardMetadata
    shards/_manifest.json                       Manifest: every shard with rows, bytes, sha256
    shards/README.md                            Hugging Face dataset card, one config per language

Each language folder holds shard files only, so ``pyarrow.dataset.dataset("shards/en",
format="arrow")`` and ``datasets.load_dataset("arrow", data_dir="shards/en")`` read it as it is;
metadata and manifest sit in ``_``-prefixed names that pyarrow's dataset discovery skips. The
tokenizer and vocabulary hashes and the build settings are also in every shard's Arrow schema
metadata (``SCHEMA_METADATA_KEYS``), so a single file says what it was built with.

One row is one training sequence: ``word_ids`` is the complete model input including ``<s>``
first and ``</s>`` last (see schemas.tokens); entity spans are token positions into ``word_ids``,
``end`` exclusive.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa

from schemas.tokens import MAX_MENTION_LENGTH

SHARDS_DIR = "shards"
# Bumped when the files a shards build writes change shape, so `build` does not take shards of an
# older layout for done.
LAYOUT_VERSION = 2
# Per-language metadata: shards/_metadata/{lang}.json (see metadata_file).
METADATA_DIR = "_metadata"
# Relative to the work directory.
MANIFEST = f"{SHARDS_DIR}/_manifest.json"
DATASET_CARD = f"{SHARDS_DIR}/README.md"
SHARD_SUFFIX = "arrow"
# Keys of the Arrow schema metadata every shard carries (values are UTF-8 text; settings is JSON).
SCHEMA_METADATA_KEYS = (
    "mluke.lang",
    "mluke.tokenizer_sha256",
    "mluke.entity_vocab_sha256",
    "mluke.word_vocab_size",
    "mluke.entity_vocab_size",
    "mluke.settings",
)


def metadata_file(lang: str) -> str:
    """Path of a language's ShardMetadata relative to the shards directory."""
    return f"{METADATA_DIR}/{lang}.json"


SHARD_SCHEMA = pa.schema(
    [
        pa.field("lang", pa.string(), nullable=False),
        pa.field("page_id", pa.int64(), nullable=False),
        # Entity id of the page the sequence comes from, or -1 when it is not in the vocabulary.
        pa.field("page_entity_id", pa.int32(), nullable=False),
        pa.field("word_ids", pa.list_(pa.int32()), nullable=False),
        pa.field("entity_ids", pa.list_(pa.int32()), nullable=False),
        pa.field("entity_starts", pa.list_(pa.int32()), nullable=False),
        pa.field("entity_ends", pa.list_(pa.int32()), nullable=False),
    ]
)


@dataclass
class ShardSettings:
    max_seq_length: int = 512
    max_entity_length: int = 128
    max_mention_length: int = MAX_MENTION_LENGTH
    min_sentence_length: int = 5
    include_unk_entities: bool = False


@dataclass
class ShardMetadata:
    lang: str
    examples: int
    tokens: int
    mentions: int
    settings: ShardSettings
    # sha256 of the sentencepiece model file and of entity_vocab.jsonl.
    tokenizer_sha256: str
    entity_vocab_sha256: str
    word_vocab_size: int
    entity_vocab_size: int
    shards: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True, ensure_ascii=False) + "\n"

    def schema_metadata(self) -> dict[str, str]:
        """What every shard of the language carries in its Arrow schema metadata."""
        return schema_metadata(
            self.lang,
            self.tokenizer_sha256,
            self.entity_vocab_sha256,
            self.word_vocab_size,
            self.entity_vocab_size,
            self.settings,
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> ShardMetadata:
        data = json.loads(text)
        data["settings"] = ShardSettings(**data["settings"])
        return cls(**data)


def schema_metadata(
    lang: str,
    tokenizer_sha256: str,
    entity_vocab_sha256: str,
    word_vocab_size: int,
    entity_vocab_size: int,
    settings: ShardSettings,
) -> dict[str, str]:
    values = (
        lang,
        tokenizer_sha256,
        entity_vocab_sha256,
        str(word_vocab_size),
        str(entity_vocab_size),
        json.dumps(asdict(settings), sort_keys=True),
    )
    return dict(zip(SCHEMA_METADATA_KEYS, values, strict=True))


@dataclass
class ManifestEntry:
    path: str  # relative to the work directory
    lang: str
    rows: int
    bytes: int
    sha256: str


@dataclass
class Manifest:
    shards: list[ManifestEntry]
    tokenizer_sha256: str
    entity_vocab_sha256: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        data = json.loads(text)
        data["shards"] = [ManifestEntry(**entry) for entry in data["shards"]]
        return cls(**data)
