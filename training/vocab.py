"""The word and entity vocabularies as training sees them: sentencepiece model and entity vocab files."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sentencepiece as spm

from schemas.tokens import BOS_ID, EOS_ID, PAD_ID, UNK_ID, WordIdConvention
from schemas.vocab import SPECIAL_ENTITIES, hf_entity_key

from .errors import TrainingError

WORD_START = "\u2581"  # sentencepiece's "▁": the piece begins a whitespace-separated word
SENTENCEPIECE_FILE = "sentencepiece.bpe.model"
TOKENIZER_DIR = "tokenizer"


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class WordVocab:
    """A sentencepiece model with the shards' word-id convention (schemas.tokens)."""

    path: Path
    processor: spm.SentencePieceProcessor
    convention: WordIdConvention

    @property
    def size(self) -> int:
        return self.convention.vocab_size

    @property
    def mask_id(self) -> int:
        return self.convention.mask_id

    def encode(self, text: str) -> list[int]:
        """Word ids of ``text`` without <s> and </s>."""
        return [self.convention.to_word_id(piece) for piece in self.processor.encode(text)]

    def word_start_table(self) -> np.ndarray:
        """``table[word_id]`` is True when that id begins a word (pieces starting with "▁").

        Special ids count as word starts so that they never join a neighbouring word; whole-word
        masking never selects them anyway.
        """
        table = np.ones(self.size, dtype=bool)
        for piece_id in range(3, self.processor.get_piece_size()):
            piece = self.processor.id_to_piece(piece_id)
            table[self.convention.to_word_id(piece_id)] = piece.startswith(WORD_START) or (
                self.processor.is_control(piece_id) or self.processor.is_unknown(piece_id)
            )
        for special in (BOS_ID, PAD_ID, EOS_ID, UNK_ID, self.mask_id):
            table[special] = True
        return table


def find_sentencepiece(path: str | Path) -> Path:
    """A sentencepiece model file, or the one inside a directory."""
    path = Path(path)
    if path.is_dir():
        candidates = [path / SENTENCEPIECE_FILE, *sorted(path.glob("*.model"))]
        for candidate in candidates:
            if candidate.is_file():
                return candidate
        raise TrainingError(f"no sentencepiece model (*.model) in {path}")
    if not path.is_file():
        raise TrainingError(f"sentencepiece model {path} does not exist")
    return path


def load_word_vocab(path: str | Path) -> WordVocab:
    model = find_sentencepiece(path)
    try:
        processor = spm.SentencePieceProcessor(model_file=str(model))
    except (RuntimeError, OSError) as error:
        raise TrainingError(f"{model} is not a sentencepiece model: {error}") from None
    if (processor.unk_id(), processor.bos_id(), processor.eos_id()) != (0, 1, 2):
        raise TrainingError(
            f"{model}: the word-id convention needs <unk>=0 <s>=1 </s>=2 in the sentencepiece model "
            f"(found {processor.unk_id()}, {processor.bos_id()}, {processor.eos_id()})"
        )
    return WordVocab(model, processor, WordIdConvention(processor.get_piece_size()))


@dataclass
class EntityVocab:
    """The luke-format entity vocabulary (entity_vocab.jsonl): one entity per line."""

    path: Path
    size: int
    # Hugging Face MLukeTokenizer keys ("en:Berlin", "[PAD]") -> id.
    hf_keys: dict[str, int]

    def hf_json(self) -> str:
        return json.dumps(self.hf_keys, ensure_ascii=False, indent=0, sort_keys=True) + "\n"


def load_entity_vocab(path: str | Path) -> EntityVocab:
    path = Path(path)
    if not path.is_file():
        raise TrainingError(f"entity vocabulary {path} does not exist")
    hf_keys: dict[str, int] = {}
    max_id = -1
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                entity_id = int(record["id"])
                titles = record["entities"]
            except (ValueError, KeyError, TypeError):
                raise TrainingError(f"{path}:{number}: not a luke entity vocabulary line") from None
            max_id = max(max_id, entity_id)
            for title, lang in titles:
                key = title if title in SPECIAL_ENTITIES else hf_entity_key(lang, title)
                hf_keys.setdefault(key, entity_id)
    missing = [token for token in SPECIAL_ENTITIES if token not in hf_keys]
    if missing:
        raise TrainingError(f"{path}: special entities {', '.join(missing)} are missing")
    return EntityVocab(path, max_id + 1, hf_keys)
