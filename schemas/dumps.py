"""The Wikimedia dump mirror layout and its ``dumpstatus.json`` format.

A mirror (and ``WORKDIR/dumps/``) holds ``{wiki}/{date}/{file}``, where ``wiki`` is the language
code with '-' turned into '_' plus ``wiki`` (``zh-yue`` -> ``zh_yuewiki``), and each date folder
has a ``dumpstatus.json``::

    {"jobs": {"articlesmultistreamdump": {"status": "done",
               "files": {NAME: {"size": 123, "url": "/enwiki/...", "md5": "...", "sha1": "..."}}},
              "pagepropstable": {...}, ...},
     "version": "0.8"}
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

DUMPSTATUS = "dumpstatus.json"

# dumpstatus.json job names the pipeline reads.
JOB_ARTICLES_MULTISTREAM = "articlesmultistreamdump"
JOB_PAGE_PROPS = "pagepropstable"
JOB_ITEMS_PER_SITE = "wbitemspersitetable"  # on wikidatawiki only

# File name patterns (after the "{wiki}-{date}-" prefix).
_ARTICLES_RE = re.compile(r"pages-articles-multistream(?P<part>\d*)\.xml(?P<range>-p\d+p\d+)?\.bz2$")
_INDEX_RE = re.compile(r"pages-articles-multistream-index(?P<part>\d*)\.txt(?P<range>-p\d+p\d+)?\.bz2$")


def wiki_name(lang: str) -> str:
    """Database name of a language's Wikipedia: ``zh-yue`` -> ``zh_yuewiki``."""
    return lang.replace("-", "_") + "wiki"


def lang_of_wiki(wiki: str) -> str:
    """Inverse of :func:`wiki_name`: ``zh_yuewiki`` -> ``zh-yue``."""
    if not wiki.endswith("wiki"):
        raise ValueError(f"not a Wikipedia database name: {wiki!r}")
    return wiki[: -len("wiki")].replace("_", "-")


def dump_dir(root: str, lang: str, date: str) -> str:
    """``{root}/{wiki}/{date}`` joined with '/', valid for local paths and gs:// alike."""
    return f"{root.rstrip('/')}/{wiki_name(lang)}/{date}"


def articles_file_name(lang: str, date: str) -> str:
    return f"{wiki_name(lang)}-{date}-pages-articles-multistream.xml.bz2"


def index_file_name(lang: str, date: str) -> str:
    return f"{wiki_name(lang)}-{date}-pages-articles-multistream-index.txt.bz2"


def page_props_file_name(lang: str, date: str) -> str:
    return f"{wiki_name(lang)}-{date}-page_props.sql.gz"


def is_articles_file(name: str) -> bool:
    return _ARTICLES_RE.search(name) is not None


def is_index_file(name: str) -> bool:
    return _INDEX_RE.search(name) is not None


def index_name_for(articles_name: str) -> str:
    """The multistream index file that belongs to an articles file (parts included).

    ``enwiki-20261101-pages-articles-multistream1.xml-p1p41242.bz2`` ->
    ``enwiki-20261101-pages-articles-multistream-index1.txt-p1p41242.bz2``.
    """
    match = _ARTICLES_RE.search(articles_name)
    if match is None:
        raise ValueError(f"not a pages-articles-multistream file name: {articles_name!r}")
    prefix = articles_name[: match.start()]
    return f"{prefix}pages-articles-multistream-index{match['part']}.txt{match['range'] or ''}.bz2"


@dataclass(frozen=True)
class DumpFile:
    name: str
    size: int | None
    url: str | None
    md5: str | None
    sha1: str | None


@dataclass(frozen=True)
class DumpJob:
    name: str
    status: str
    files: tuple[DumpFile, ...] = field(default_factory=tuple)

    @property
    def done(self) -> bool:
        return self.status == "done"


@dataclass(frozen=True)
class DumpStatus:
    jobs: dict[str, DumpJob]
    version: str | None = None

    def job(self, name: str) -> DumpJob | None:
        return self.jobs.get(name)


def parse_dumpstatus(text: str | bytes) -> DumpStatus:
    """Parse a dumpstatus.json document; missing fields become None, unknown ones are ignored."""
    data = json.loads(text)
    if not isinstance(data, dict) or not isinstance(data.get("jobs"), dict):
        raise ValueError("dumpstatus.json has no 'jobs' object")
    jobs: dict[str, DumpJob] = {}
    for job_name, job in data["jobs"].items():
        if not isinstance(job, dict):
            continue
        files = []
        for file_name, info in sorted((job.get("files") or {}).items()):
            info = info if isinstance(info, dict) else {}
            size = info.get("size")
            files.append(
                DumpFile(
                    name=file_name,
                    size=int(size) if isinstance(size, int | str) and str(size).isdigit() else None,
                    url=info.get("url"),
                    md5=info.get("md5"),
                    sha1=info.get("sha1"),
                )
            )
        jobs[job_name] = DumpJob(name=job_name, status=str(job.get("status", "unknown")), files=tuple(files))
    return DumpStatus(jobs=jobs, version=data.get("version"))


def dumpstatus_to_json(jobs: dict[str, DumpJob], version: str = "0.8") -> str:
    """Serialize jobs the way Wikimedia does (used by the bundled sample mirror)."""
    out: dict = {"jobs": {}, "version": version}
    for name, job in sorted(jobs.items()):
        files = {}
        for f in job.files:
            entry: dict = {}
            if f.size is not None:
                entry["size"] = f.size
            if f.url is not None:
                entry["url"] = f.url
            if f.md5 is not None:
                entry["md5"] = f.md5
            if f.sha1 is not None:
                entry["sha1"] = f.sha1
            files[f.name] = entry
        out["jobs"][name] = {"status": job.status, "files": files}
    return json.dumps(out, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
