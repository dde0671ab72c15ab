"""The entity vocabulary's fixed ids and file names."""

from __future__ import annotations

# Fixed special entity ids (the luke reference took their order from a Python set).
ENTITY_PAD = "[PAD]"
ENTITY_UNK = "[UNK]"
ENTITY_MASK = "[MASK]"
ENTITY_MASK2 = "[MASK2]"  # Hugging Face's MLukeTokenizer needs it
SPECIAL_ENTITIES: tuple[str, ...] = (ENTITY_PAD, ENTITY_UNK, ENTITY_MASK, ENTITY_MASK2)
ENTITY_PAD_ID = 0
ENTITY_UNK_ID = 1
ENTITY_MASK_ID = 2
ENTITY_MASK2_ID = 3
FIRST_ENTITY_ID = 4

VOCAB_DIR = "vocab"
ENTITY_VOCAB_JSONL = "entity_vocab.jsonl"  # luke repository format
ENTITY_VOCAB_HF_JSON = "entity_vocab.json"  # Hugging Face MLukeTokenizer format
ENTITIES_PARQUET = "entities.parquet"
MENTIONS_DIR = "mentions"
VOCAB_STATS = "stats.json"


def hf_entity_key(lang: str, title: str) -> str:
    """Key of an entity title in Hugging Face's entity_vocab.json: ``en:Berlin``."""
    return f"{lang}:{title}"
