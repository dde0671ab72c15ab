"""Arrow schemas of the vocab stage's tables and the names of its other outputs.

Layout under the work directory (file names of the vocabulary itself are in ``schemas.vocab``)::

    vocab/entity_vocab.jsonl        luke format, one entity per line
    vocab/entity_vocab.json         Hugging Face MLukeTokenizer format
    vocab/entities.parquet          ENTITIES_SCHEMA, one row per entity, sorted by id
    vocab/mentions/{lang}.parquet   MENTIONS_SCHEMA: the mention dictionary of a language
    vocab/titles/{lang}.parquet     TITLES_SCHEMA: every title (redirects included) -> entity id
    vocab/stats.json                what ``mluke-data vocab stats`` shows
    vocab/report.json               where every link went, per language, and the run's settings
"""

from __future__ import annotations

import pyarrow as pa

TITLES_DIR = "titles"
VOCAB_REPORT = "report.json"

# One title of an entity in one language with the number of links that land on it there
# (after redirect resolution).
ENTITY_TITLE_TYPE = pa.struct(
    [
        pa.field("lang", pa.string(), nullable=False),
        pa.field("title", pa.string(), nullable=False),
        pa.field("count", pa.int64(), nullable=False),
    ]
)

ENTITIES_SCHEMA = pa.schema(
    [
        pa.field("id", pa.int32(), nullable=False),
        pa.field("wikidata_id", pa.string(), nullable=False),
        # Links to the entity summed over every language.
        pa.field("count", pa.int64(), nullable=False),
        # Distinct languages with at least one link to the entity.
        pa.field("num_languages", pa.int32(), nullable=False),
        # Sorted by (lang, title); a language can hold two titles when two pages share an item.
        pa.field("titles", pa.list_(ENTITY_TITLE_TYPE), nullable=False),
    ]
)

MENTIONS_SCHEMA = pa.schema(
    [
        pa.field("lang", pa.string(), nullable=False),
        # Normalized anchor text (schemas.mentions.normalize_mention).
        pa.field("mention", pa.string(), nullable=False),
        pa.field("entity_id", pa.int32(), nullable=False),
        # The entity's title in this language as the key of entity_vocab.json ("en:Berlin"), and
        # its Wikidata item: the table is usable without the rest of the vocabulary.
        pa.field("entity", pa.string(), nullable=False),
        pa.field("wikidata_id", pa.string(), nullable=False),
        # Links with this anchor text that land on this entity.
        pa.field("count", pa.int64(), nullable=False),
        # Links with this anchor text, whatever their target (in the vocabulary or not).
        pa.field("mention_count", pa.int64(), nullable=False),
        # p(entity | mention) = count / mention_count.
        pa.field("commonness", pa.float64(), nullable=False),
        # Pages of the language whose paragraph text contains the mention, linked or not
        # (schemas.mentions states where a mention occurs), and pages where it is a link anchor.
        # Both are per mention: the same on every row of a mention.
        pa.field("doc_count", pa.int64(), nullable=False),
        pa.field("link_doc_count", pa.int64(), nullable=False),
        # p(link | mention) = link_doc_count / doc_count.
        pa.field("link_prob", pa.float64(), nullable=False),
    ]
)

TITLES_SCHEMA = pa.schema(
    [
        pa.field("lang", pa.string(), nullable=False),
        pa.field("title", pa.string(), nullable=False),
        pa.field("entity_id", pa.int32(), nullable=False),
        # True when the title is a redirect that resolves to the entity's page.
        pa.field("redirect", pa.bool_(), nullable=False),
    ]
)


def language_table_name(lang: str) -> str:
    """File name of a per-language table under ``mentions/`` or ``titles/``."""
    return f"{lang}.parquet"
