"""A small but realistic work directory for the training tests, standing in for the shards stage.

``build_workdir(root)`` writes, following schemas/shards.py, schemas/tokens.py and schemas/vocab.py:

    tokenizer/sentencepiece.bpe.model   a unigram sentencepiece model trained here on the corpus
    vocab/entity_vocab.jsonl            luke format, special entities 0..3, then by link count
    vocab/entity_vocab.json             Hugging Face MLukeTokenizer format
    shards/{lang}/{lang}-0000i-of-0000n.arrow, shards/_metadata/{lang}.json, shards/_manifest.json
    texts.jsonl                         (test aid) the text and character spans behind every row

The corpus is generated from sentence templates in English, German and Japanese whose slots are
filled with entities that have titles in every language (so their ids are shared across languages
as Wikidata would make them); a few linked entities are missing from the vocabulary and their
links are dropped, as in mLUKE. Text is tokenized like the shards stage does it: segments between
link boundaries separately (a space before a link goes with the link), so each link is a whole
token span; sentences of a page are packed greedily into sequences.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import sentencepiece as spm

from schemas.shards import (
    MANIFEST,
    SHARD_SCHEMA,
    SHARDS_DIR,
    Manifest,
    ManifestEntry,
    ShardMetadata,
    ShardSettings,
    metadata_file,
)
from schemas.tokens import BOS_ID, EOS_ID, WordIdConvention
from schemas.vocab import (
    ENTITY_VOCAB_HF_JSON,
    ENTITY_VOCAB_JSONL,
    FIRST_ENTITY_ID,
    SPECIAL_ENTITIES,
    VOCAB_DIR,
    hf_entity_key,
)

LANGS = ("en", "de", "ja")

# key: (kind, en title, de title, ja title)
ENTITIES: list[tuple[str, str, str, str, str]] = [
    ("berlin", "city", "Berlin", "Berlin", "ベルリン"),
    ("tokyo", "city", "Tokyo", "Tokio", "東京"),
    ("paris", "city", "Paris", "Paris", "パリ"),
    ("london", "city", "London", "London", "ロンドン"),
    ("munich", "city", "Munich", "München", "ミュンヘン"),
    ("vienna", "city", "Vienna", "Wien", "ウィーン"),
    ("rome", "city", "Rome", "Rom", "ローマ"),
    ("kyoto", "city", "Kyoto", "Kyōto", "京都"),
    ("osaka", "city", "Osaka", "Osaka", "大阪"),
    ("hamburg", "city", "Hamburg", "Hamburg", "ハンブルク"),
    ("madrid", "city", "Madrid", "Madrid", "マドリード"),
    ("cologne", "city", "Cologne", "Köln", "ケルン"),
    ("germany", "country", "Germany", "Deutschland", "ドイツ"),
    ("japan", "country", "Japan", "Japan", "日本"),
    ("france", "country", "France", "Frankreich", "フランス"),
    ("uk", "country", "United Kingdom", "Vereinigtes Königreich", "イギリス"),
    ("austria", "country", "Austria", "Österreich", "オーストリア"),
    ("italy", "country", "Italy", "Italien", "イタリア"),
    ("spain", "country", "Spain", "Spanien", "スペイン"),
    ("rhine", "river", "Rhine", "Rhein", "ライン川"),
    ("danube", "river", "Danube", "Donau", "ドナウ川"),
    ("seine", "river", "Seine", "Seine", "セーヌ川"),
    ("thames", "river", "Thames", "Themse", "テムズ川"),
    ("tiber", "river", "Tiber", "Tiber", "テヴェレ川"),
    ("elbe", "river", "Elbe", "Elbe", "エルベ川"),
    ("einstein", "person", "Albert Einstein", "Albert Einstein", "アルベルト・アインシュタイン"),
    ("bach", "person", "Johann Sebastian Bach", "Johann Sebastian Bach", "ヨハン・ゼバスティアン・バッハ"),
    ("mozart", "person", "Wolfgang Amadeus Mozart", "Wolfgang Amadeus Mozart", "モーツァルト"),
    ("curie", "person", "Marie Curie", "Marie Curie", "マリ・キュリー"),
    ("soseki", "person", "Natsume Sōseki", "Natsume Sōseki", "夏目漱石"),
    ("beethoven", "person", "Ludwig van Beethoven", "Ludwig van Beethoven", "ベートーヴェン"),
    ("utokyo", "university", "University of Tokyo", "Universität Tokio", "東京大学"),
    (
        "humboldt",
        "university",
        "Humboldt University of Berlin",
        "Humboldt-Universität zu Berlin",
        "ベルリン・フンボルト大学",
    ),
    ("sorbonne", "university", "University of Paris", "Universität Paris", "パリ大学"),
    ("physics", "field", "physics", "Physik", "物理学"),
    ("music", "field", "music", "Musik", "音楽"),
    ("literature", "field", "literature", "Literatur", "文学"),
    ("chemistry", "field", "chemistry", "Chemie", "化学"),
]
# Linked in the text but not in the vocabulary: their links are dropped.
OUT_OF_VOCAB = {"hamburg", "elbe", "chemistry"}

TEMPLATES: dict[str, list[str]] = {
    "en": [
        "{city} is a city in {country}.",
        "The {river} flows through {city} before it reaches the sea.",
        "{person} was born in {city} in {year}.",
        "{person} studied {field} at the {university}.",
        "In {year}, {person} moved to {city} and worked on {field}.",
        "The population of {city} grew quickly after {year}.",
        "Many tourists visit {city} every summer to see the old bridges.",
        "Rain fell for three days and the streets of the old town were quiet.",
        "The museum near the river shows paintings, maps and old instruments.",
    ],
    "de": [
        "{city} ist eine Stadt in {country}.",
        "Der Fluss {river} fließt durch {city}, bevor er das Meer erreicht.",
        "{person} wurde {year} in {city} geboren.",
        "{person} studierte {field} an der {university}.",
        "Im Jahr {year} zog {person} nach {city} und arbeitete über {field}.",
        "Viele Touristen besuchen {city} im Sommer, um die alten Brücken zu sehen.",
        "Es regnete drei Tage lang, und die Straßen der Altstadt waren still.",
        "Das Museum am Fluss zeigt Gemälde, Karten und alte Instrumente.",
    ],
    "ja": [
        "{city}は{country}の都市である。",
        "{river}は海に注ぐ前に{city}を流れる。",
        "{person}は{year}年に{city}で生まれた。",
        "{person}は{university}で{field}を学んだ。",
        "{year}年、{person}は{city}に移り、{field}の研究を行った。",
        "多くの観光客が夏に{city}を訪れ、古い橋を見る。",
        "三日間雨が降り、旧市街の通りは静かだった。",
        "川の近くの博物館には絵画や地図、古い楽器が展示されている。",
    ],
}

LANG_INDEX = {"en": 2, "de": 3, "ja": 4}


@dataclass
class Sentence:
    text: str
    links: list[tuple[int, int, str]]  # character start, end, entity key


@dataclass
class Fixture:
    root: Path
    langs: tuple[str, ...]
    entity_ids: dict[str, int]  # entity key -> id
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def shards(self) -> Path:
        return self.root / SHARDS_DIR

    @property
    def tokenizer(self) -> Path:
        return self.root / "tokenizer" / "sentencepiece.bpe.model"

    @property
    def entity_vocab(self) -> Path:
        return self.root / VOCAB_DIR / ENTITY_VOCAB_JSONL

    def texts(self) -> list[dict]:
        with open(self.root / "texts.jsonl", encoding="utf-8") as handle:
            return [json.loads(line) for line in handle]


def _fill(template: str, lang: str, rng: random.Random, by_kind: dict[str, list[tuple]]) -> Sentence:
    text = ""
    links: list[tuple[int, int, str]] = []
    rest = template
    while "{" in rest:
        before, _, after = rest.partition("{")
        slot, _, rest = after.partition("}")
        text += before
        if slot == "year":
            text += str(rng.randint(1700, 2000))
            continue
        entity = rng.choice(by_kind[slot])
        title = entity[2 + LANGS.index(lang)] if lang in LANGS else entity[2]
        links.append((len(text), len(text) + len(title), entity[0]))
        text += title
    return Sentence(text + rest, links)


def generate_pages(lang: str, pages: int, seed: int) -> list[tuple[str, list[Sentence]]]:
    rng = random.Random(f"{seed}-{lang}")
    by_kind: dict[str, list[tuple]] = {}
    for entity in ENTITIES:
        by_kind.setdefault(entity[1], []).append(entity)
    out = []
    for _ in range(pages):
        topic = rng.choice(ENTITIES)[0]
        sentences = [_fill(rng.choice(TEMPLATES[lang]), lang, rng, by_kind) for _ in range(rng.randint(2, 9))]
        out.append((topic, sentences))
    return out


def train_sentencepiece(sentences: list[str], vocab_size: int) -> bytes:
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences),
        model_writer=model,
        vocab_size=vocab_size,
        hard_vocab_limit=False,
        model_type="unigram",
        character_coverage=1.0,
        num_threads=1,
        minloglevel=2,
    )
    return model.getvalue()


def tokenize_with_links(
    processor: spm.SentencePieceProcessor,
    convention: WordIdConvention,
    text: str,
    links: list[tuple[int, int]],
) -> tuple[list[int], list[tuple[int, int]]]:
    """Word ids (no <s>/</s>) and token spans: segments between link boundaries are encoded apart,
    a space before a link belongs to the link's segment."""
    cuts = sorted({position for span in links for position in span})
    boundaries = []
    for cut in cuts:
        boundaries.append(cut - 1 if cut > 0 and text[cut - 1] == " " else cut)
    ids: list[int] = []
    token_at: dict[int, int] = {}
    cursor = 0
    for cut, boundary in zip(cuts, boundaries, strict=True):
        if boundary > cursor:
            ids += [convention.to_word_id(p) for p in processor.encode(text[cursor:boundary])]
            cursor = boundary
        token_at[cut] = len(ids)
    ids += [convention.to_word_id(p) for p in processor.encode(text[cursor:])]
    return ids, [(token_at[start], token_at[end]) for start, end in links]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_workdir(
    root: Path,
    langs: tuple[str, ...] = LANGS,
    pages: dict[str, int] | None = None,
    shards_per_lang: int = 2,
    vocab_size: int = 700,
    seed: int = 0,
    settings: ShardSettings | None = None,
    rows_per_batch: int = 16,
) -> Fixture:
    root = Path(root)
    settings = settings or ShardSettings(max_seq_length=128, max_entity_length=16, max_mention_length=30)
    pages = pages or {"en": 120, "de": 80, "ja": 50}
    corpus = {lang: generate_pages(lang, pages.get(lang, 40), seed) for lang in langs}

    tokenizer_dir = root / "tokenizer"
    tokenizer_dir.mkdir(parents=True, exist_ok=True)
    all_sentences = [s.text for lang in langs for _, page in corpus[lang] for s in page]
    tokenizer_path = tokenizer_dir / "sentencepiece.bpe.model"
    tokenizer_path.write_bytes(train_sentencepiece(all_sentences, vocab_size))
    processor = spm.SentencePieceProcessor(model_file=str(tokenizer_path))
    convention = WordIdConvention(processor.get_piece_size())

    # Entity vocab: special entities first, then by link count over all languages.
    counts: Counter[str] = Counter()
    for lang in langs:
        for topic, page in corpus[lang]:
            counts[topic] += 0
            for sentence in page:
                counts.update(key for _, _, key in sentence.links)
    ranked = sorted((key for key in counts if key not in OUT_OF_VOCAB), key=lambda k: (-counts[k], k))
    entity_ids = {key: FIRST_ENTITY_ID + index for index, key in enumerate(ranked)}
    titles = {entity[0]: entity for entity in ENTITIES}
    vocab_dir = root / VOCAB_DIR
    vocab_dir.mkdir(parents=True, exist_ok=True)
    lines = [
        json.dumps({"id": index, "entities": [[token, "en"]], "count": 0}, ensure_ascii=False)
        for index, token in enumerate(SPECIAL_ENTITIES)
    ]
    hf_vocab: dict[str, int] = {token: index for index, token in enumerate(SPECIAL_ENTITIES)}
    for key in ranked:
        entity = titles[key]
        names = [[entity[2 + LANGS.index(lang)], lang] for lang in LANGS]
        lines.append(
            json.dumps({"id": entity_ids[key], "entities": names, "count": counts[key]}, ensure_ascii=False)
        )
        for title, lang in names:
            hf_vocab[hf_entity_key(lang, title)] = entity_ids[key]
    (vocab_dir / ENTITY_VOCAB_JSONL).write_text("\n".join(lines) + "\n", encoding="utf-8")
    (vocab_dir / ENTITY_VOCAB_HF_JSON).write_text(
        json.dumps(hf_vocab, ensure_ascii=False, indent=0), encoding="utf-8"
    )
    tokenizer_sha = _sha256(tokenizer_path)
    vocab_sha = _sha256(vocab_dir / ENTITY_VOCAB_JSONL)

    fixture = Fixture(root, tuple(langs), entity_ids)
    manifest_entries: list[ManifestEntry] = []
    text_records = []
    page_id = 1000
    for lang in langs:
        rows: list[dict] = []
        for topic, page in corpus[lang]:
            page_id += 1
            current: dict = {
                "ids": [],
                "entities": [],
                "starts": [],
                "ends": [],
                "texts": [],
                "spans": [],
                "keys": [],
            }
            char_offset = 0

            def flush(
                current: dict,
                rows: list[dict] = rows,
                page_id: int = page_id,
                topic: str = topic,
                lang: str = lang,
            ) -> None:
                if current["ids"]:
                    rows.append(
                        {
                            "lang": lang,
                            "page_id": page_id,
                            "page_entity_id": entity_ids.get(topic, -1),
                            "word_ids": [BOS_ID, *current["ids"], EOS_ID],
                            "entity_ids": current["entities"],
                            "entity_starts": current["starts"],
                            "entity_ends": current["ends"],
                            "text": " ".join(current["texts"]),
                            "char_spans": current["spans"],
                            "entity_keys": current["keys"],
                        }
                    )

            for sentence in page:
                kept = [link for link in sentence.links if link[2] in entity_ids]
                ids, spans = tokenize_with_links(
                    processor, convention, sentence.text, [(s, e) for s, e, _ in kept]
                )
                if len(ids) < settings.min_sentence_length or len(ids) > settings.max_seq_length - 2:
                    continue
                too_long = len(current["ids"]) + len(ids) > settings.max_seq_length - 2
                too_many = len(current["entities"]) + len(kept) > settings.max_entity_length
                if too_long or too_many:
                    flush(current)
                    current = {
                        "ids": [],
                        "entities": [],
                        "starts": [],
                        "ends": [],
                        "texts": [],
                        "spans": [],
                        "keys": [],
                    }
                    char_offset = 0
                base = len(current["ids"]) + 1  # after <s>
                for (start, end), (cs, ce, key) in zip(spans, kept, strict=True):
                    current["entities"].append(entity_ids[key])
                    current["starts"].append(base + start)
                    current["ends"].append(base + end)
                    current["spans"].append([char_offset + cs, char_offset + ce])
                    current["keys"].append(hf_entity_key(lang, titles[key][2 + LANGS.index(lang)]))
                current["ids"] += ids
                current["texts"].append(sentence.text)
                char_offset += len(sentence.text) + 1
            flush(current)

        lang_dir = root / SHARDS_DIR / lang
        lang_dir.mkdir(parents=True, exist_ok=True)
        names = []
        per_shard = -(-len(rows) // shards_per_lang)
        for index in range(shards_per_lang):
            part = rows[index * per_shard : (index + 1) * per_shard]
            name = f"{lang}-{index:05d}-of-{shards_per_lang:05d}.arrow"
            path = lang_dir / name
            with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, SHARD_SCHEMA) as writer:
                for start in range(0, len(part), rows_per_batch):
                    chunk = part[start : start + rows_per_batch]
                    writer.write_batch(
                        pa.record_batch(
                            [pa.array([row[f.name] for row in chunk], type=f.type) for f in SHARD_SCHEMA],
                            schema=SHARD_SCHEMA,
                        )
                    )
            names.append(name)
            manifest_entries.append(
                ManifestEntry(
                    path=f"{SHARDS_DIR}/{lang}/{name}",
                    lang=lang,
                    rows=len(part),
                    bytes=path.stat().st_size,
                    sha256=_sha256(path),
                )
            )
        for row_number, row in enumerate(rows):
            text_records.append(
                {
                    "lang": lang,
                    "row": row_number,
                    "text": row["text"],
                    "char_spans": row["char_spans"],
                    "entities": row["entity_keys"],
                    "word_ids": row["word_ids"],
                    "entity_ids": row["entity_ids"],
                    "entity_starts": row["entity_starts"],
                    "entity_ends": row["entity_ends"],
                }
            )
        metadata = ShardMetadata(
            lang=lang,
            examples=len(rows),
            tokens=sum(len(row["word_ids"]) for row in rows),
            mentions=sum(len(row["entity_ids"]) for row in rows),
            settings=settings,
            tokenizer_sha256=tokenizer_sha,
            entity_vocab_sha256=vocab_sha,
            word_vocab_size=convention.vocab_size,
            entity_vocab_size=len(lines),
            shards=names,
        )
        metadata_path = root / SHARDS_DIR / metadata_file(lang)
        metadata_path.parent.mkdir(parents=True, exist_ok=True)
        metadata_path.write_text(metadata.to_json(), encoding="utf-8")
        fixture.rows[lang] = len(rows)
    manifest = Manifest(
        shards=manifest_entries, tokenizer_sha256=tokenizer_sha, entity_vocab_sha256=vocab_sha
    )
    (root / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
    with open(root / "texts.jsonl", "w", encoding="utf-8") as handle:
        for record in text_records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return fixture
