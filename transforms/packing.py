"""One page -> pretraining examples (rows of ``schemas.shards.SHARD_SCHEMA``). Pure functions.

The rules, in order (each counted under the name in brackets):

1. Every link's target goes through ``entity_of`` (the caller resolves redirects and looks the
   title up in the entity vocabulary). A target outside the vocabulary is dropped
   [``links_outside_vocab``], or kept as ``[UNK]`` with ``include_unk_entities`` [``links_unk``].
2. Each paragraph is split into sentences with ICU [``sentences_split``]; a kept link crossing a
   sentence boundary joins the sentences it touches [``sentence_merges``: boundaries removed].
3. Each sentence is tokenized around its links (``transforms.tokenization``) [``sentences``].
   Links that get no token span: overlapping an earlier link [``links_overlapping``], no tokens
   [``links_empty``], outside every sentence [``links_outside_sentences``].
4. A mention longer than ``max_mention_length`` tokens is dropped, its tokens stay
   [``mentions_too_long``]. (luke cut such mentions to their first tokens silently.)
5. A sentence with fewer than ``min_sentence_length`` tokens [``sentences_too_short``] or more than
   ``max_seq_length - 2`` tokens [``sentences_too_long``] is dropped with its mentions
   [``mentions_in_dropped_sentences``]. This is luke's rule: the length counts the sentence's
   subword tokens (no <s>/</s>), it applies to every sentence on its own after rule 2, and a
   dropped sentence is simply left out of the packing, so the sequence goes on with the next
   kept sentence of the page.
6. A kept sentence with more than ``max_entity_length`` mentions keeps its first
   ``max_entity_length`` ones [``mentions_over_entity_limit``].
7. Consecutive kept sentences of the page (across paragraphs) are packed greedily: a sentence
   joins the current sequence while the sequence stays within ``max_seq_length - 2`` tokens and
   ``max_entity_length`` mentions, else it starts a new sequence [``sequences``]. (luke packed by
   tokens only and then cut the entities of a full sequence at 128.)
8. A sequence without mentions is dropped [``sequences_without_entities``,
   ``tokens_without_entities``]; the others become examples [``examples``] with ``<s>`` first and
   ``</s>`` last [``tokens``: all word ids, <s> and </s> included], mention positions shifted by one
   for ``<s>``, ``end`` exclusive [``mentions``].

Identities (tested): ``links = links_outside_vocab + links_overlapping + links_empty +
links_outside_sentences + mentions_too_long + mentions_in_dropped_sentences +
mentions_over_entity_limit + mentions``; ``sentences = sentences_too_short + sentences_too_long +
sentences_kept``; ``sequences = examples + sequences_without_entities``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from schemas.shards import ShardSettings
from schemas.tokens import BOS_ID, EOS_ID
from schemas.vocab import ENTITY_UNK_ID
from transforms.sentences import merge_across_links, split_sentences
from transforms.tokenization import SentenceBatch, TokenizedSentence, Tokenizer

# Every counter build_examples reports, present even when zero (one call is one page: the caller
# counts pages).
COUNTERS: tuple[str, ...] = (
    "paragraphs",
    "links",
    "links_outside_vocab",
    "links_unk",
    "links_overlapping",
    "links_empty",
    "links_outside_sentences",
    "sentences_split",
    "sentence_merges",
    "sentences",
    "sentences_too_short",
    "sentences_too_long",
    "sentences_kept",
    "mentions_too_long",
    "mentions_in_dropped_sentences",
    "mentions_over_entity_limit",
    "sequences",
    "sequences_without_entities",
    "tokens_without_entities",
    "examples",
    "tokens",
    "mentions",
)

Mention = tuple[int, int, int]  # (token_start, token_end, entity_id), sentence positions


def _plan_paragraph(
    paragraph: Mapping[str, Any],
    lang: str,
    entity_of: Callable[[str], int | None],
    settings: ShardSettings,
    stats: Counter[str],
    batch: SentenceBatch,
) -> tuple[list[int], range]:
    """Rules 1 and 2 for one paragraph; its sentences go into ``batch``. Returns the entity id of
    each kept link and the positions of the paragraph's sentences in the batch."""
    text: str = paragraph["text"]
    links = paragraph["links"] or []
    stats["paragraphs"] += 1
    stats["links"] += len(links)
    kept_links: list[Mapping[str, Any]] = []
    entity_ids: list[int] = []
    if links:
        outside = unknown = 0
        for link in links:
            entity_id = entity_of(link["target"])
            if entity_id is None:
                if not settings.include_unk_entities:
                    outside += 1
                    continue
                entity_id = ENTITY_UNK_ID
                unknown += 1
            kept_links.append(link)
            entity_ids.append(entity_id)
        stats["links_outside_vocab"] += outside
        stats["links_unk"] += unknown

    spans = split_sentences(text, lang)
    stats["sentences_split"] += len(spans)
    merged = merge_across_links(spans, kept_links) if kept_links else spans
    stats["sentence_merges"] += len(spans) - len(merged)
    return entity_ids, batch.add(text, merged, kept_links)


def _kept_sentences(
    tokenized: list[TokenizedSentence],
    entity_ids: list[int],
    settings: ShardSettings,
    stats: Counter[str],
) -> tuple[list[tuple[list[int], list[Mention]]], int]:
    """Rules 3 to 6 for one paragraph's tokenized sentences; also the number of links placed."""
    max_tokens = settings.max_seq_length - 2
    min_length = settings.min_sentence_length
    max_mention = settings.max_mention_length
    max_entities = settings.max_entity_length
    kept: list[tuple[list[int], list[Mention]]] = []
    placed = too_long_mentions = too_short = too_long = in_dropped = over_limit = 0
    for sentence in tokenized:
        if sentence.skipped_links:
            for _, reason in sentence.skipped_links:
                stats[f"links_{reason}"] += 1
            placed += len(sentence.skipped_links)
        placed += len(sentence.spans)
        mentions: list[Mention] = []
        for token_start, token_end, link_index in sentence.spans:
            if token_end - token_start > max_mention:
                too_long_mentions += 1
            else:
                mentions.append((token_start, token_end, entity_ids[link_index]))
        length = len(sentence.word_ids)
        if length < min_length or length > max_tokens:
            if length < min_length:
                too_short += 1
            else:
                too_long += 1
            in_dropped += len(mentions)
            continue
        if len(mentions) > max_entities:
            over_limit += len(mentions) - max_entities
            mentions = mentions[:max_entities]
        kept.append((sentence.word_ids, mentions))
    stats["sentences"] += len(tokenized)
    stats["sentences_kept"] += len(kept)
    stats["sentences_too_short"] += too_short
    stats["sentences_too_long"] += too_long
    stats["mentions_too_long"] += too_long_mentions
    stats["mentions_in_dropped_sentences"] += in_dropped
    stats["mentions_over_entity_limit"] += over_limit
    return kept, placed


def _example(
    lang: str, page_id: int, page_entity_id: int, words: list[int], mentions: list[Mention]
) -> dict[str, Any]:
    return {
        "lang": lang,
        "page_id": page_id,
        "page_entity_id": page_entity_id,
        "word_ids": [BOS_ID, *words, EOS_ID],
        "entity_ids": [entity_id for _, _, entity_id in mentions],
        # +1 for <s>.
        "entity_starts": [start + 1 for start, _, _ in mentions],
        "entity_ends": [end + 1 for _, end, _ in mentions],
    }


def build_examples(
    page: Mapping[str, Any],
    entity_of: Callable[[str], int | None],
    tokenizer: Tokenizer,
    settings: ShardSettings,
    page_entity_id: int,
) -> tuple[list[dict[str, Any]], Counter[str]]:
    """Examples (SHARD_SCHEMA rows as dicts) of one PAGE_SCHEMA row and the counts of every rule.

    ``entity_of(target_title)`` gives the entity id of a link target or None when it is outside
    the vocabulary; ``page_entity_id`` is the page's own entity id or -1.
    """
    stats: Counter[str] = Counter(dict.fromkeys(COUNTERS, 0))
    lang: str = page["lang"]
    # Every sentence of the page is tokenized in one batch (rule 3), then the rules run per paragraph.
    batch = SentenceBatch(tokenizer)
    plans = [
        _plan_paragraph(paragraph, lang, entity_of, settings, stats, batch)
        for paragraph in page["paragraphs"] or []
    ]
    tokenized = batch.tokenize()
    sentences: list[tuple[list[int], list[Mention]]] = []
    for entity_ids, positions in plans:
        kept, placed = _kept_sentences(
            tokenized[positions.start : positions.stop], entity_ids, settings, stats
        )
        stats["links_outside_sentences"] += len(entity_ids) - placed  # one entity id per kept link
        sentences.extend(kept)

    max_tokens = settings.max_seq_length - 2
    examples: list[dict[str, Any]] = []
    words: list[int] = []
    mentions: list[Mention] = []

    def flush() -> None:
        if not words:
            return
        stats["sequences"] += 1
        if not mentions:
            stats["sequences_without_entities"] += 1
            stats["tokens_without_entities"] += len(words)
            return
        example = _example(lang, int(page["page_id"]), page_entity_id, words, mentions)
        stats["examples"] += 1
        stats["tokens"] += len(example["word_ids"])
        stats["mentions"] += len(mentions)
        examples.append(example)

    for sentence_words, sentence_mentions in sentences:
        if words and (
            len(words) + len(sentence_words) > max_tokens
            or len(mentions) + len(sentence_mentions) > settings.max_entity_length
        ):
            flush()
            words, mentions = [], []
        if sentence_mentions:
            offset = len(words)
            mentions.extend(
                (start + offset, end + offset, entity_id) for start, end, entity_id in sentence_mentions
            )
        words.extend(sentence_words)
    flush()
    return examples, stats
