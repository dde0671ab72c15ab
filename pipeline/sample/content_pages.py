"""Assembles each language's pages: hand-written ones, generated ones, and copies for ``scale > 1``."""

from __future__ import annotations

import functools
import importlib
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType

from pipeline.sample.content_base import ExpectedPage, PageSpec, render_article
from pipeline.sample.content_generated import Lexicon, entities_in, generated_blocks
from pipeline.sample.entities import (
    DISAMBIGUATION_QID,
    DISAMBIGUATION_TITLES,
    ENTITY_BY_QID,
    SAMPLE_LANGS,
    title_of,
)

# Page ids of copy k are k * COPY_ID_STRIDE + the original id; Q-ids grow by k * COPY_QID_STRIDE.
COPY_ID_STRIDE = 1_000_000
COPY_QID_STRIDE = 100_000_000


@dataclass(frozen=True)
class SamplePage:
    """One page of a sample wiki; ``expected`` is the extraction an article must give (None for
    redirects, other namespaces and the malformed pages, which only must not break a reader)."""

    page_id: int
    title: str
    namespace: int
    wikitext: str
    qid: str | None
    redirect_to: str | None
    is_disambiguation: bool
    expected: ExpectedPage | None
    # Generated from the entity table (repeated by scale > 1) rather than written by hand.
    generated: bool = False
    # Extra page_props values.
    shortdesc: str | None = None
    image: str | None = None


def _module(lang: str) -> ModuleType:
    if lang not in SAMPLE_LANGS:
        raise ValueError(f"the sample has no language {lang!r}; it has {', '.join(SAMPLE_LANGS)}")
    return importlib.import_module(f"pipeline.sample.content_{lang}")


def lexicon(lang: str) -> Lexicon:
    return _module(lang).LEXICON


def copy_qid(qid: str, k: int) -> str:
    return qid if k == 1 else f"Q{int(qid[1:]) + k * COPY_QID_STRIDE}"


def copy_title(title: str, k: int) -> str:
    return title if k == 1 else f"{title} ({k})"


def _to_page(spec: PageSpec, lang: str, page_id: int) -> SamplePage:
    expected: ExpectedPage | None = None
    if spec.blocks is not None:
        wikitext, expected = render_article(lang, spec.blocks)
    else:
        assert spec.wikitext is not None
        wikitext = spec.wikitext
    return SamplePage(
        page_id=page_id,
        title=spec.title,
        namespace=spec.namespace,
        wikitext=wikitext,
        qid=spec.qid,
        redirect_to=spec.redirect_to,
        is_disambiguation=spec.is_disambiguation,
        expected=expected,
        generated=spec.generated,
        shortdesc=spec.shortdesc,
        image=spec.image,
    )


@functools.cache
def _hand_specs(lang: str) -> tuple[PageSpec, ...]:
    specs = tuple(_module(lang).hand_pages())
    for spec in specs:
        if spec.qid == DISAMBIGUATION_QID:
            if spec.title != DISAMBIGUATION_TITLES[lang] or not spec.is_disambiguation:
                raise ValueError(f"{lang}: the disambiguation page must be {DISAMBIGUATION_TITLES[lang]!r}")
        elif spec.qid in ENTITY_BY_QID and title_of(spec.qid, lang) != spec.title:
            raise ValueError(
                f"{lang}: {spec.title!r} has {spec.qid}, whose title is {title_of(spec.qid, lang)!r}"
            )
    return specs


def generated_qids(lang: str) -> list[str]:
    """Entities whose article in ``lang`` is generated (not written by hand), in table order."""
    hand = {s.qid for s in _hand_specs(lang)}
    return [e.qid for e in entities_in(lang) if e.qid not in hand]


def _generated_spec(lang: str, qid: str, k: int, generated: frozenset[str]) -> PageSpec:
    def title_for(target: str) -> str:
        title = title_of(target, lang)
        assert title is not None
        return copy_title(title, k) if target in generated else title

    entity = ENTITY_BY_QID[qid]
    blocks = generated_blocks(entity, lexicon(lang), title_for, with_langlinks=k == 1)
    return PageSpec(title=title_for(qid), blocks=blocks, qid=copy_qid(qid, k), generated=True)


def _id_gap(title: str) -> int:
    return 1 + zlib.crc32(title.encode("utf-8")) % 53


@functools.cache
def _base_pages(lang: str) -> tuple[SamplePage, ...]:
    generated = frozenset(generated_qids(lang))
    specs = list(_hand_specs(lang)) + [_generated_spec(lang, q, 1, generated) for q in generated_qids(lang)]
    titles = [s.title for s in specs]
    duplicates = {t for t in titles if titles.count(t) > 1}
    if duplicates:
        raise ValueError(f"{lang}: duplicate titles {sorted(duplicates)}")
    # Ids in an order unrelated to how the content is written, with gaps, like a real wiki.
    specs.sort(key=lambda s: (zlib.crc32(s.title.encode("utf-8")), s.title))
    pages = []
    page_id = 9
    for spec in specs:
        page_id += _id_gap(spec.title)
        pages.append(_to_page(spec, lang, page_id))
    if page_id >= COPY_ID_STRIDE:
        raise ValueError("too many base pages for the copy id scheme")
    return tuple(pages)


def iter_pages(lang: str, scale: int = 1) -> Iterator[SamplePage]:
    """Pages of a language in page-id order; copies 2..scale of the generated articles follow."""
    if scale < 1:
        raise ValueError("scale must be >= 1")
    base = _base_pages(lang)
    yield from base
    if scale == 1:
        return
    generated = frozenset(generated_qids(lang))
    ids = {p.qid: p.page_id for p in base if p.generated}
    for k in range(2, scale + 1):
        for qid in sorted(generated, key=lambda q: ids[q]):
            spec = _generated_spec(lang, qid, k, generated)
            yield _to_page(spec, lang, k * COPY_ID_STRIDE + ids[qid])


def sample_pages(lang: str, scale: int = 1) -> list[SamplePage]:
    """Every page of a language's sample wiki (scale 1: the default sample), in page-id order."""
    return list(iter_pages(lang, scale))
