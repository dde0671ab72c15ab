"""The fetch plan: which files to download, from where, to where, and how to check them.

The launcher (``pipeline/fetch.py``) asks the mirror (through a :class:`Mirror`, in practice
``transforms.http.MirrorClient``) for each wiki's ``dumpstatus.json``, resolves ``--dump-date
latest`` with :func:`resolve_latest`, and :func:`make_plan` turns the jobs it needs into one
:class:`FileTask` per file. ``transforms/download.py`` downloads them.

Nothing the server says is trusted to build a path or a URL: file names are checked against a
strict pattern and must start with ``{wiki}-{date}-``, and download URLs are built from the mirror
base URL and that checked name (the ``url`` field of dumpstatus.json is not followed).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

from schemas.dumps import (
    DUMPSTATUS,
    JOB_ARTICLES_MULTISTREAM,
    JOB_ITEMS_PER_SITE,
    JOB_PAGE_PROPS,
    DumpJob,
    DumpStatus,
    dumpstatus_to_json,
    index_name_for,
    is_articles_file,
    is_index_file,
    parse_dumpstatus,
    wiki_name,
)

DEFAULT_MIRROR = "https://dumps.wikimedia.org"
DEFAULT_CONNECTIONS = 2  # Wikimedia asks for at most 2 concurrent connections per client
WIKIDATA_WIKI = "wikidatawiki"
JOB_ENTITIES = "entities"  # pseudo job name for the Wikidata entity JSON dump (no dumpstatus.json)

# --what values and the dumpstatus.json job each one needs.
WHAT_ARTICLES = "articles"
WHAT_PAGEPROPS = "pageprops"
WHAT_ITEMSPERSITE = "itemspersite"
WHAT_WIKIDATA_JSON = "wikidata-json"
WHAT_CHOICES: tuple[str, ...] = (WHAT_ARTICLES, WHAT_PAGEPROPS, WHAT_ITEMSPERSITE, WHAT_WIKIDATA_JSON)
DEFAULT_WHAT: tuple[str, ...] = (WHAT_ARTICLES, WHAT_PAGEPROPS)
WIKI_JOBS: dict[str, str] = {WHAT_ARTICLES: JOB_ARTICLES_MULTISTREAM, WHAT_PAGEPROPS: JOB_PAGE_PROPS}


_SAFE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,254}")
_DATE_RE = re.compile(r"\d{8}")
_WIKI_RE = re.compile(r"[a-z0-9_]+wiki")
_PART_RE = re.compile(r"multistream(?:-index)?\d+\.(?:xml|txt)")
_HREF_DATE_RE = re.compile(r"""href\s*=\s*["']?(?:\./)?(\d{8})/?["'>\s]""", re.IGNORECASE)


# ----------------------------------------------------------------------------------------------
# Errors


class FetchError(Exception):
    """A failure with a message meant for the user (one line, says what to do)."""


class PlanError(FetchError):
    """The mirror's dumpstatus.json cannot give a usable plan."""


class UnsafeNameError(PlanError):
    """A name from the server that could escape WORKDIR (``../x``, ``/etc/x``, ``a/b``)."""


class JobNotDoneError(PlanError):
    pass


# ----------------------------------------------------------------------------------------------
# Files of a dump


@dataclass(frozen=True, order=True)
class FileTask:
    """One file to download: where from, where to, and how to verify it."""

    wiki: str
    date: str
    job: str
    name: str
    url: str
    dest: str
    size: int | None = None
    sha1: str | None = None
    md5: str | None = None

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc

    @property
    def dump_key(self) -> str:
        return f"{self.wiki}/{self.date}"

    @property
    def check(self) -> str:
        """How the file is verified: sha1, md5, or (when nothing else is listed) its size."""
        return "sha1" if self.sha1 else "md5" if self.md5 else "size"


def check_file_name(name: str) -> str:
    """A file name from the server, accepted only if it cannot name anything but one plain file."""
    if not isinstance(name, str) or not _SAFE_NAME_RE.fullmatch(name) or ".." in name:
        raise UnsafeNameError(f"refusing unsafe file name {name!r} from the mirror")
    return name


def check_date(date: str) -> str:
    if not _DATE_RE.fullmatch(date):
        raise PlanError(f"bad dump date {date!r}: expected YYYYMMDD")
    return date


def check_wiki(wiki: str) -> str:
    if not _WIKI_RE.fullmatch(wiki):
        raise UnsafeNameError(f"refusing unsafe wiki name {wiki!r}")
    return wiki


def normalize_mirror(mirror: str) -> str:
    parts = urlsplit(mirror.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise PlanError(f"--mirror must be an http:// or https:// URL, got {mirror!r}")
    return mirror.strip().rstrip("/")


def dumps_root(out: str) -> str:
    """``WORKDIR/dumps``: the mirror layout is reproduced under it."""
    return out.rstrip("/") + "/dumps"


def check_contained(root: str, path: str) -> str:
    # Defence in depth: the components are already checked, but never hand out a path
    # that is not strictly below WORKDIR/dumps.
    if not path.startswith(root.rstrip("/") + "/") or "/../" in path or path.endswith("/.."):
        raise UnsafeNameError(f"refusing to write {path!r} outside {root!r}")
    return path


def dump_file_dest(out: str, wiki: str, date: str, name: str) -> str:
    root = dumps_root(out)
    return check_contained(root, f"{root}/{check_wiki(wiki)}/{check_date(date)}/{check_file_name(name)}")


def dump_file_url(mirror: str, wiki: str, date: str, name: str) -> str:
    return f"{mirror.rstrip('/')}/{check_wiki(wiki)}/{check_date(date)}/{check_file_name(name)}"


def dumpstatus_url(mirror: str, wiki: str, date: str) -> str:
    return f"{mirror.rstrip('/')}/{check_wiki(wiki)}/{check_date(date)}/{DUMPSTATUS}"


def entities_dir_url(mirror: str) -> str:
    return f"{mirror.rstrip('/')}/{WIKIDATA_WIKI}/{JOB_ENTITIES}"


def entities_file_name(date: str) -> str:
    return f"wikidata-{check_date(date)}-all.json.bz2"


def entities_task(
    mirror: str, out: str, date: str, size: int | None, sha1: str | None = None, md5: str | None = None
) -> FileTask:
    """The Wikidata entity JSON dump, ``{mirror}/wikidatawiki/entities/{date}/wikidata-{date}-all.json.bz2``."""
    name = entities_file_name(date)
    root = dumps_root(out)
    return FileTask(
        wiki=WIKIDATA_WIKI,
        date=date,
        job=JOB_ENTITIES,
        name=name,
        url=f"{entities_dir_url(mirror)}/{date}/{name}",
        dest=check_contained(root, f"{root}/{WIKIDATA_WIKI}/{JOB_ENTITIES}/{date}/{name}"),
        size=size,
        sha1=sha1,
        md5=md5,
    )


def parse_checksums_file(text: str) -> dict[str, str]:
    """``md5sum``/``sha1sum`` output (``HASH  NAME`` lines) -> {name: hash}."""
    sums: dict[str, str] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 2 and re.fullmatch(r"[0-9a-fA-F]{32,64}", fields[0]):
            sums[fields[1].lstrip("*")] = fields[0].lower()
    return sums


def parse_dump_dates(listing: str) -> list[str]:
    """Dump dates linked from a mirror's directory index page (``<a href="20261101/">``), sorted."""
    return sorted(set(_HREF_DATE_RE.findall(html.unescape(listing))))


def dates_in_text(text: str, wiki: str) -> list[str]:
    """Dates named in a ``latest/`` status or RSS file: ``{wiki}/20261101`` or ``{wiki}-20261101-``."""
    pattern = re.compile(rf"{re.escape(wiki)}[/-](\d{{8}})(?:\D|$)")
    return sorted(set(pattern.findall(text)))


_HEX = re.compile(r"[0-9a-fA-F]+")
_CHECKSUM_LENGTHS = {"sha1": 40, "md5": 32}


def parse_status_document(text: str | bytes) -> DumpStatus:
    """A dumpstatus.json from a mirror, checked before it is used; ValueError says what is wrong.

    The mirror's answer is untrusted input: a document with the wrong types (``files`` a list,
    a numeric sha1, a size that is not a number) or nested deeper than the JSON parser goes is
    refused with a message, never half-read.
    """
    try:
        data = json.loads(text)
    except RecursionError as error:
        raise ValueError("it is nested too deeply to be a dumpstatus.json") from error
    except ValueError as error:
        raise ValueError(f"it is not JSON ({error})") from error
    if not isinstance(data, dict) or not isinstance(data.get("jobs"), dict):
        raise ValueError("it has no 'jobs' object")
    for job_name, job in data["jobs"].items():
        if not isinstance(job, dict):
            continue  # a job without details is ignored, as Wikimedia's own tools do
        status = job.get("status")
        if status is not None and not isinstance(status, str):
            raise ValueError(f"job {job_name!r} has a status that is not text: {status!r:.60}")
        files = job.get("files")
        if files is None:
            continue
        if not isinstance(files, dict):
            raise ValueError(f"job {job_name!r} lists 'files' as {type(files).__name__}, not an object")
        for name, info in files.items():
            if not isinstance(info, dict):
                raise ValueError(f"job {job_name!r}, file {name!r:.80}: expected an object")
            size = info.get("size")
            if size is not None and not (
                (isinstance(size, int) and not isinstance(size, bool) and size >= 0)
                or (isinstance(size, str) and size.isdigit() and len(size) < 20)
            ):
                raise ValueError(
                    f"job {job_name!r}, file {name!r:.80}: size {size!r:.40} is not a byte count"
                )
            for key, length in _CHECKSUM_LENGTHS.items():
                value = info.get(key)
                if value in (None, ""):
                    continue
                if not isinstance(value, str) or len(value) != length or not _HEX.fullmatch(value):
                    raise ValueError(
                        f"job {job_name!r}, file {name!r:.80}: {key} {value!r:.60} is not a {key}"
                    )
    return parse_dumpstatus(text)


def jobs_for(what: Sequence[str], wiki: str) -> tuple[str, ...]:
    """dumpstatus.json jobs a wiki needs for the requested --what values."""
    if wiki == WIKIDATA_WIKI:
        return (JOB_ITEMS_PER_SITE,) if WHAT_ITEMSPERSITE in what else ()
    return tuple(WIKI_JOBS[w] for w in what if w in WIKI_JOBS)


def _job_files(job: DumpJob, wiki: str, date: str) -> list[str]:
    names = [check_file_name(f.name) for f in job.files]
    prefix = f"{wiki}-{date}-"
    for name in names:
        if not name.startswith(prefix):
            raise PlanError(f"{wiki} {date}: file {name!r} in job {job.name} does not belong to this dump")
    if job.name != JOB_ARTICLES_MULTISTREAM:
        return names
    wanted = [n for n in names if is_articles_file(n) or is_index_file(n)]
    # A wiki split into parts may also list the recombined single file: keep the parts only,
    # or the extract stage would read every page twice.
    if any(_PART_RE.search(n) for n in wanted):
        wanted = [n for n in wanted if _PART_RE.search(n)]
    present = set(wanted)
    for name in wanted:
        if is_articles_file(name) and index_name_for(name) not in present:
            raise PlanError(f"{wiki} {date}: {name} has no multistream index file in dumpstatus.json")
    return wanted


def plan_dump(
    status: DumpStatus, wiki: str, date: str, jobs: Sequence[str], mirror: str, out: str
) -> list[FileTask]:
    """The files of the given jobs of one dump, as download tasks; every job must be done."""
    check_wiki(wiki)
    check_date(date)
    tasks: list[FileTask] = []
    for job_name in jobs:
        job = status.job(job_name)
        if job is None:
            raise PlanError(f"{wiki} {date}: dumpstatus.json has no {job_name} job")
        if not job.done:
            raise JobNotDoneError(
                f"{wiki} {date}: job {job_name} is {job.status!r}, not 'done'; nothing is fetched "
                f"until it is; wait for it or use --dump-date latest"
            )
        names = _job_files(job, wiki, date)
        if not names:
            raise PlanError(f"{wiki} {date}: job {job_name} lists no files to fetch")
        by_name = {f.name: f for f in job.files}
        for name in names:
            info = by_name[name]
            tasks.append(
                FileTask(
                    wiki=wiki,
                    date=date,
                    job=job_name,
                    name=name,
                    url=dump_file_url(mirror, wiki, date, name),
                    dest=dump_file_dest(out, wiki, date, name),
                    size=info.size,
                    sha1=(info.sha1 or "").lower() or None,
                    md5=(info.md5 or "").lower() or None,
                )
            )
    return sorted(tasks)


def recorded_status(status: DumpStatus, jobs: Iterable[str], tasks: Sequence[FileTask]) -> str:
    """The dumpstatus.json written next to fetched files: only the fetched jobs and files."""
    names = {t.name for t in tasks}
    kept: dict[str, DumpJob] = {}
    for job_name in jobs:
        job = status.job(job_name)
        if job is not None:
            files = tuple(f for f in job.files if f.name in names)
            kept[job_name] = DumpJob(name=job_name, status=job.status, files=files)
    return dumpstatus_to_json(kept, version=status.version or "0.8")


# ----------------------------------------------------------------------------------------------
# Date resolution for --dump-date latest


@dataclass(frozen=True)
class LatestChoice:
    dates: dict[str, str]  # wiki -> chosen date
    shared: bool  # one date for all wikis
    newest: dict[str, str]  # wiki -> its own newest date with the needed jobs done


def resolve_latest(
    needs: dict[str, tuple[str, ...]],
    list_dates: Callable[[str], list[str]],
    load_status: Callable[[str, str], DumpStatus | None],
) -> LatestChoice:
    """Picks a dump date per wiki whose needed jobs are all done.

    ``needs`` maps wiki -> jobs. The newest date that is good for every wiki wins; if there is
    none, each wiki gets its own newest good date.
    ``list_dates(wiki)`` gives the mirror's dates; ``load_status`` returns None for a missing date.
    """
    cache: dict[tuple[str, str], bool] = {}

    def good(wiki: str, date: str) -> bool:
        if (wiki, date) not in cache:
            status = load_status(wiki, date)
            ok = status is not None
            for job_name in needs[wiki]:
                job = status.job(job_name) if status is not None else None
                ok = ok and job is not None and job.done
            cache[wiki, date] = ok
        return cache[wiki, date]

    dates = {wiki: sorted(set(list_dates(wiki)), reverse=True) for wiki in needs}
    newest: dict[str, str] = {}
    for wiki, candidates in dates.items():
        found = next((d for d in candidates if good(wiki, d)), None)
        if found is None:
            jobs = ", ".join(needs[wiki])
            raise PlanError(
                f"{wiki}: no dump on the mirror has {jobs} done (dates seen: "
                f"{', '.join(candidates[:5]) or 'none'}); try again later or another --mirror"
            )
        newest[wiki] = found
    ceiling = min(newest.values())
    shared = set.intersection(*(set(ds) for ds in dates.values())) if dates else set()
    for date in sorted((d for d in shared if d <= ceiling), reverse=True):
        if all(good(wiki, date) for wiki in needs):
            return LatestChoice({wiki: date for wiki in needs}, True, newest)
    return LatestChoice(newest, len(set(newest.values())) == 1, newest)


# ----------------------------------------------------------------------------------------------
# The plan of a run


@dataclass
class Plan:
    """What one run fetches: the tasks, the date of each wiki's dump, and what to record."""

    tasks: list[FileTask]
    dates: dict[str, str]  # wiki -> dump date
    statuses: dict[str, str]  # "wiki/date" -> dumpstatus.json to record once the dump is fetched
    notes: list[str] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(t.size or 0 for t in self.tasks)


def parse_what(text: str) -> list[str]:
    """``--what`` text -> the requested kinds of files, in order, without repeats."""
    what: list[str] = []
    for raw in text.split(","):
        item = raw.strip().lower()
        if not item:
            continue
        if item not in WHAT_CHOICES:
            raise PlanError(f"unknown --what value {raw.strip()!r}; choose from {', '.join(WHAT_CHOICES)}")
        if item not in what:
            what.append(item)
    if not what:
        raise PlanError(f"--what is empty; choose from {', '.join(WHAT_CHOICES)}")
    return what


def parse_dump_date(text: str) -> str:
    """``--dump-date`` text -> ``latest`` or a checked ``YYYYMMDD``."""
    dump_date = text.strip().lower()
    if dump_date != "latest":
        try:
            check_date(dump_date)
        except PlanError as err:
            raise PlanError(f"{err} or 'latest'") from err
    return dump_date


class Mirror(Protocol):
    """The reads a plan makes from the mirror (``transforms.http.MirrorClient`` over HTTP)."""

    mirror: str  # base URL

    def get_text(self, url: str) -> str | None: ...  # None when the mirror has no such file

    def list_dates(self, wiki: str) -> list[str]: ...

    def load_status(self, wiki: str, date: str) -> DumpStatus | None: ...

    def head_size(self, url: str) -> tuple[bool, int | None]: ...  # (exists, Content-Length)


def _gone(wiki: str, date: str, mirror: str) -> str:
    return (
        f"{wiki}: no dump dated {date} on {mirror} (HTTP 404); Wikimedia deletes dumps after a few "
        "months: use --dump-date latest or another --mirror"
    )


def plan_entities(
    client: Mirror, dump_date: str, out: str, notes: list[str], say: Callable[[str], None]
) -> FileTask:
    """The Wikidata entity JSON dump: its own dates, no dumpstatus.json."""
    base = entities_dir_url(client.mirror)
    listing = client.get_text(base + "/")
    dates = sorted(parse_dump_dates(listing) if listing else [], reverse=True)
    if dump_date == "latest":
        candidates = dates
    elif not dates or dump_date in dates:
        candidates = [dump_date]
    else:
        # Entity dumps run on their own days: take the newest one not after the requested date.
        candidates = [d for d in dates if d <= dump_date]
    for date in candidates:
        url = f"{base}/{date}/{entities_file_name(date)}"
        exists, size = client.head_size(url)
        if not exists:
            continue
        sha1 = md5 = None
        for kind in ("sha1", "md5"):
            text = client.get_text(f"{base}/{date}/wikidata-{date}-{kind}sums.txt")
            found = parse_checksums_file(text).get(entities_file_name(date)) if text else None
            if found:
                sha1, md5 = (found, None) if kind == "sha1" else (None, found)
                break
        task = entities_task(client.mirror, out, date, size, sha1=sha1, md5=md5)
        say(f"wikidata-json: entity dump {date}" + ("" if date == dump_date else f" (asked: {dump_date})"))
        if task.check == "size":
            what = f"its size ({size} bytes, from Content-Length)" if size is not None else "nothing"
            notes.append(
                f"{task.name}: the mirror has no checksum file for it; it is verified by {what} only"
            )
        return task
    raise PlanError(
        f"no Wikidata entity dump {'' if dump_date == 'latest' else f'for {dump_date} '}found under "
        f"{base}/; try --dump-date latest or another --mirror"
    )


def make_plan(
    langs: Sequence[str],
    dump_date: str,
    what: Sequence[str],
    out: str,
    client: Mirror,
    say: Callable[[str], None],
) -> Plan:
    """Reads the dumpstatus.json files and builds the list of files to fetch.

    ``say`` gets the choices made (dates for ``latest``, the entity dump); raises PlanError (and
    ``client`` its own FetchError) with a message for the user.
    """
    needs: dict[str, tuple[str, ...]] = {}
    lang_of: dict[str, str] = {}
    for lang in langs:
        wiki = wiki_name(lang)
        lang_of[wiki] = lang
        if jobs := jobs_for(what, wiki):
            needs[wiki] = jobs
    if WHAT_ITEMSPERSITE in what:
        needs[WIKIDATA_WIKI] = jobs_for(what, WIKIDATA_WIKI)
        lang_of.setdefault(WIKIDATA_WIKI, "wikidata")

    statuses: dict[str, DumpStatus] = {}
    if dump_date == "latest" and needs:
        loaded: dict[tuple[str, str], DumpStatus | None] = {}

        def load(wiki: str, date: str) -> DumpStatus | None:
            if (wiki, date) not in loaded:
                loaded[wiki, date] = client.load_status(wiki, date)
            return loaded[wiki, date]

        choice = resolve_latest(needs, client.list_dates, load)
        dates = choice.dates
        for wiki, date in dates.items():
            status = loaded.get((wiki, date))
            if status is not None:
                statuses[wiki] = status
            if len(dates) == 1:
                how = "the newest with the needed jobs done"
            elif choice.shared and choice.newest[wiki] != date:
                how = f"{choice.newest[wiki]} is newer, but {date} is the newest date good for all"
            elif choice.shared:
                how = "the newest, and good for all"
            else:
                how = "its own newest with the needed jobs done; no date is good for all"
            say(f"{lang_of[wiki]}: using dump {date} of {wiki} ({how})")
    else:
        dates = {wiki: dump_date for wiki in needs}

    problems: list[str] = []
    tasks: list[FileTask] = []
    recorded: dict[str, str] = {}
    for wiki, jobs in needs.items():
        date = dates[wiki]
        status = statuses.get(wiki) or client.load_status(wiki, date)
        if status is None:
            problems.append(_gone(wiki, date, client.mirror))
            continue
        try:
            planned = plan_dump(status, wiki, date, jobs, client.mirror, out)
        except PlanError as err:
            problems.append(str(err))
            continue
        tasks.extend(planned)
        recorded[f"{wiki}/{date}"] = recorded_status(status, jobs, planned)
    if problems:
        raise PlanError("; ".join(problems))

    notes: list[str] = []
    if WHAT_WIKIDATA_JSON in what:
        tasks.append(plan_entities(client, dump_date, out, notes, say))
    return Plan(tasks=sorted(tasks), dates=dates, statuses=recorded, notes=notes)
