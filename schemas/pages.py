"""Arrow schemas of the extract stage's outputs: pages, redirects and dead letters."""

from __future__ import annotations

import pyarrow as pa

LINK_TYPE = pa.struct(
    [
        # Offsets are Python string indices into the paragraph text: text[start:end] is the
        # anchor text a reader sees, link trail included.
        pa.field("start", pa.int32(), nullable=False),
        pa.field("end", pa.int32(), nullable=False),
        # Normalized target title (namespace 0, no #fragment, first letter per the site's case rule).
        pa.field("target", pa.string(), nullable=False),
    ]
)

PARAGRAPH_TYPE = pa.struct(
    [
        pa.field("text", pa.string(), nullable=False),
        # True for paragraphs before the first heading (the article's lead section).
        pa.field("is_lead", pa.bool_(), nullable=False),
        pa.field("links", pa.list_(LINK_TYPE), nullable=False),
    ]
)

PAGE_SCHEMA = pa.schema(
    [
        pa.field("lang", pa.string(), nullable=False),
        pa.field("page_id", pa.int64(), nullable=False),
        pa.field("revision_id", pa.int64()),
        pa.field("title", pa.string(), nullable=False),
        pa.field("namespace", pa.int32(), nullable=False),
        pa.field("is_disambiguation", pa.bool_(), nullable=False),
        pa.field("categories", pa.list_(pa.string()), nullable=False),
        pa.field("paragraphs", pa.list_(PARAGRAPH_TYPE), nullable=False),
    ]
)

REDIRECT_SCHEMA = pa.schema(
    [
        pa.field("lang", pa.string(), nullable=False),
        pa.field("page_id", pa.int64(), nullable=False),
        pa.field("title", pa.string(), nullable=False),
        # Normalized target title; the #fragment of section redirects is dropped.
        pa.field("target", pa.string(), nullable=False),
    ]
)

DEAD_LETTER_SCHEMA = pa.schema(
    [
        pa.field("lang", pa.string(), nullable=False),
        pa.field("page_id", pa.int64()),
        pa.field("title", pa.string()),
        pa.field("stage", pa.string(), nullable=False),
        # A short machine-readable bucket (too_large, timeout, parse_error, ...).
        pa.field("reason", pa.string(), nullable=False),
        # The error message or traceback tail, for a human.
        pa.field("error", pa.string(), nullable=False),
        # Where the page came from: "path@start-end".
        pa.field("source", pa.string(), nullable=False),
    ]
)

# Output folders of the extract stage, relative to the work directory.
PAGES_DIR = "pages"
REDIRECTS_DIR = "redirects"
ERRORS_DIR = "errors"
REPORTS_DIR = "reports"
EXTRACT_REPORT = "extract.json"

# Dead-letter reasons of the extract stage.
DEAD_LETTER_REASONS = (
    "too_large",  # wikitext above --max-page-chars
    "timeout",  # the parser did not finish within --parse-timeout seconds
    "parser_crash",  # the isolated parser process died (memory limit, segfault)
    "parse_error",  # the parser or the extraction rules raised
    "recursion",  # RecursionError on deeply nested markup
    "missing_text",  # no <text> (deleted revision, stub dump)
    "bad_page_xml",  # a <page> element without title or id, or with broken XML
    # Read problems (no page id; counted under read_problem.*):
    "corrupt_stream",  # a damaged bz2 stream of a multistream dump (its pages counted from the index)
    "truncated_file",  # a file cut off mid-way: every complete page before the cut is kept
    "bad_xml",  # broken XML in a whole-file dump: pages before the error are kept
    "empty_file",  # a file without data
)


def shard_name(lang: str, index: int, count: int, suffix: str = "parquet") -> str:
    """File name of one output shard of a language, e.g. ``en-00003-of-00012.parquet``."""
    return f"{lang}-{index:05d}-of-{count:05d}.{suffix}"
