"""The bundled multilingual sample wiki: a deterministic generator of a Wikimedia dump mirror.

``write_sample_mirror(root)`` writes, for each sample language, what a mirror serves under
``{root}/{wiki}/{date}/`` (multistream articles dump and index, page_props table, dumpstatus.json)
plus the Wikidata side (``wb_items_per_site`` table and the JSON entity dump). ``sample_pages`` and
``SAMPLE_ENTITIES`` are the truth tests compare pipeline outputs with.

``scale=N`` adds copies 2..N of the generated articles for benchmarks: ``scale=70`` gives about
21,000 pages and 22 MB of wikitext over the ten languages. ``python -m pipeline.sample OUTDIR`` writes
the mirror from a shell.
"""

from __future__ import annotations

from pipeline.sample.content_base import ExpectedPage
from pipeline.sample.content_pages import SamplePage, sample_pages
from pipeline.sample.entities import SAMPLE_DATE, SAMPLE_ENTITIES, SAMPLE_LANGS
from pipeline.sample.mirror import write_sample_mirror

__all__ = [
    "SAMPLE_DATE",
    "SAMPLE_ENTITIES",
    "SAMPLE_LANGS",
    "ExpectedPage",
    "SamplePage",
    "sample_pages",
    "write_sample_mirror",
]
