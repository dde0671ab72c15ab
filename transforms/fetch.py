"""Downloading Wikimedia dumps: the plan, date resolution, and verified, resumable downloads.

The launcher (``pipeline/fetch.py``) reads each wiki's ``dumpstatus.json`` over HTTP and turns it
into :class:`FileTask` elements with :func:`plan_dump`; the Beam pipeline hands each task to
:func:`download_file` through the :class:`DownloadFiles` DoFn.

A download never writes to its final name before the bytes are verified: data goes to numbered
chunk files ``NAME.part-0000``, ``NAME.part-0001``... next to the destination (one per HTTP
response, so an interrupted download resumes with a Range request from the sum of their sizes,
on any FileSystems backend, none of which can append). When all bytes are in, the chunks are
hashed (and joined if there is more than one), compared with the sha1 or md5 from dumpstatus.json,
and only then renamed into place.

Nothing the server says is trusted to build a path or a URL: file names are checked against a
strict pattern and must start with ``{wiki}-{date}-``, and download URLs are built from the mirror
base URL and that checked name (the ``url`` field of dumpstatus.json is not followed).
"""

from __future__ import annotations

import email.utils
import hashlib
import html
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from typing import Any
from urllib.parse import urljoin, urlsplit

import apache_beam as beam
import requests
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

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
)
from transforms.errors import write_failure
from transforms.files import write_atomically

_LOG = logging.getLogger(__name__)

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

STATUS_DOWNLOADED = "downloaded"
STATUS_SKIPPED = "skipped"
STATUS_FAILED = "failed"

CHUNK_SUFFIX = ".part-"
JOINING_SUFFIX = ".joining"
_CHUNK_RE = re.compile(r"\.part-(\d{4,})$")

_SAFE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,254}")
_DATE_RE = re.compile(r"\d{8}")
_WIKI_RE = re.compile(r"[a-z0-9_]+wiki")
_PART_RE = re.compile(r"multistream(?:-index)?\d+\.(?:xml|txt)")
_HREF_DATE_RE = re.compile(r"""href\s*=\s*["']?(?:\./)?(\d{8})/?["'>\s]""", re.IGNORECASE)


def _version() -> str:
    try:
        return metadata.version("mluke-data")
    except metadata.PackageNotFoundError:
        return "0.1.0"


def user_agent(contact: str | None) -> str:
    """The User-Agent Wikimedia asks for: tool name, version and a way to reach its operator."""
    who = " ".join((contact or "").split()) or "unset; set --contact or MLUKE_CONTACT"
    return f"mluke-data/{_version()} (+contact: {who}) python-requests/{requests.__version__}"


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


class NotFoundError(FetchError):
    """HTTP 404/410: on Wikimedia mirrors this means the dump date has been deleted."""


class ChecksumError(FetchError):
    pass


class UnreachableError(FetchError):
    """Connection errors or timeouts until the retries ran out."""


# ----------------------------------------------------------------------------------------------
# Plan


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


def _contained(root: str, path: str) -> str:
    # Defence in depth: the components are already checked, but never hand out a path
    # that is not strictly below WORKDIR/dumps.
    if not path.startswith(root.rstrip("/") + "/") or "/../" in path or path.endswith("/.."):
        raise UnsafeNameError(f"refusing to write {path!r} outside {root!r}")
    return path


def dump_file_dest(out: str, wiki: str, date: str, name: str) -> str:
    root = dumps_root(out)
    return _contained(root, f"{root}/{check_wiki(wiki)}/{check_date(date)}/{check_file_name(name)}")


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
        dest=_contained(root, f"{root}/{WIKIDATA_WIKI}/{JOB_ENTITIES}/{date}/{name}"),
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


def merge_status_json(existing: str | None, new: str) -> str:
    """Adds the jobs of ``new`` to an existing local dumpstatus.json (jobs fetched by earlier runs)."""
    fresh = parse_dumpstatus(new)
    if not existing:
        return dumpstatus_to_json(fresh.jobs, version=fresh.version or "0.8")
    try:
        old = parse_dumpstatus(existing)
    except ValueError:
        return dumpstatus_to_json(fresh.jobs, version=fresh.version or "0.8")
    jobs = {**old.jobs, **fresh.jobs}
    return dumpstatus_to_json(jobs, version=fresh.version or old.version or "0.8")


def assign_connections(tasks: Sequence[FileTask], connections: int) -> list[tuple[str, FileTask]]:
    """Keys tasks into at most ``connections`` groups per host, balancing bytes (largest first).

    Each group is downloaded sequentially by one worker, so a host never sees more than
    ``connections`` concurrent downloads from this job.
    """
    if connections < 1:
        raise ValueError("connections must be >= 1")
    by_host: dict[str, list[FileTask]] = {}
    for task in tasks:
        by_host.setdefault(task.host, []).append(task)
    keyed: list[tuple[str, FileTask]] = []
    for host in sorted(by_host):
        loads = [0] * connections
        for task in sorted(by_host[host], key=lambda t: (-(t.size or 0), t.dest)):
            slot = min(range(connections), key=lambda i: (loads[i], i))
            loads[slot] += task.size or 1
            keyed.append((f"{host}#{slot}", task))
    return keyed


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


# ----------------------------------------------------------------------------------------------
# HTTP with retries


@dataclass(frozen=True)
class RetrySettings:
    """Retry and timeout policy (small values in tests keep them fast)."""

    max_attempts: int = 8  # consecutive attempts without progress before giving up
    backoff_base_s: float = 2.0
    backoff_max_s: float = 120.0
    max_retry_after_s: float = 600.0
    connect_timeout_s: float = 30.0
    read_timeout_s: float = 60.0
    block_size: int = 1 << 20
    # A file whose size the mirror does not list is refused once it grows past this.
    max_unlisted_bytes: int = 256 << 30
    max_redirects: int = 5

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.connect_timeout_s, self.read_timeout_s)


RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_NETWORK_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = datetime.now(UTC).timestamp() if now is None else now
    return max(0.0, when.timestamp() - current)


def retry_delay(attempt: int, settings: RetrySettings, retry_after: str | None = None) -> float:
    """Exponential backoff for the ``attempt``-th failure (1-based), at least what Retry-After asks."""
    backoff = min(settings.backoff_max_s, settings.backoff_base_s * (2 ** max(0, attempt - 1)))
    asked = parse_retry_after(retry_after)
    if asked is not None:
        return max(backoff, min(asked, settings.max_retry_after_s))
    return backoff


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def _http_failure(resp: requests.Response, url: str) -> Exception:
    if resp.status_code in (404, 410):
        return NotFoundError(f"{url}: HTTP {resp.status_code}")
    if resp.status_code in RETRYABLE_STATUS or resp.status_code >= 500:
        return _Retryable(f"HTTP {resp.status_code}", resp.headers.get("Retry-After"))
    return FetchError(f"{url}: HTTP {resp.status_code} {resp.reason}")


class RedirectError(FetchError):
    pass


def request_same_host(
    session: requests.Session, method: str, url: str, settings: RetrySettings, **kwargs: Any
) -> requests.Response:
    """A request that follows redirects only within the mirror's own scheme and host.

    Nothing the server says decides where data comes from: a redirect to another host is
    refused with a message naming it (pass that host as ``--mirror`` to use it).
    """
    current = url
    for _ in range(settings.max_redirects + 1):
        resp = session.request(method, current, timeout=settings.timeout, allow_redirects=False, **kwargs)
        if not resp.is_redirect:
            return resp
        location = urljoin(current, resp.headers.get("Location", ""))
        resp.close()
        here, there = urlsplit(current), urlsplit(location)
        if (here.scheme, here.netloc) != (there.scheme, there.netloc):
            raise RedirectError(
                f"{url}: the mirror redirects to another host ({there.scheme}://{there.netloc}); refused "
                f"(to download from there, pass --mirror {there.scheme}://{there.netloc})"
            )
        current = location
    raise RedirectError(f"{url}: more than {settings.max_redirects} redirects")


def http_request(
    session: requests.Session,
    method: str,
    url: str,
    settings: RetrySettings,
    *,
    on_retry: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> requests.Response:
    """A small (non-streamed) request with retries; raises NotFoundError or FetchError."""
    attempt = 0
    while True:
        network = False
        try:
            resp = request_same_host(session, method, url, settings)
            if resp.status_code < 400:
                return resp
            failure = _http_failure(resp, url)
            if not isinstance(failure, _Retryable):
                raise failure
            reason, retry_after = failure.reason, failure.retry_after
        except _NETWORK_ERRORS as err:
            reason, retry_after, network = _short_error(err), None, True
        attempt += 1
        if attempt >= settings.max_attempts:
            error = UnreachableError if network else FetchError
            raise error(f"{url}: {reason} (gave up after {attempt} attempts)")
        if on_retry is not None:
            on_retry(reason)
        sleep(retry_delay(attempt, settings, retry_after))


def _short_error(err: BaseException) -> str:
    text = str(err)
    for marker in ("Connection refused", "timed out", "Name or service not known", "IncompleteRead"):
        if marker in text:
            return f"{type(err).__name__} ({marker})"
    return f"{type(err).__name__}: {text[:200]}"


# ----------------------------------------------------------------------------------------------
# Files through FileSystems


def _size(path: str) -> int | None:
    found = FileSystems.match([path])[0].metadata_list
    return found[0].size_in_bytes if found else None


def _delete(paths: Iterable[str]) -> None:
    paths = [p for p in paths if FileSystems.exists(p)]
    if paths:
        FileSystems.delete(paths)


def list_chunks(dest: str) -> list[tuple[str, int]]:
    """The partial-download chunks of ``dest``, in order, with their sizes."""
    found = FileSystems.match([dest + CHUNK_SUFFIX + "*"])[0].metadata_list
    chunks = []
    for meta in found:
        match = _CHUNK_RE.search(meta.path)
        if match and meta.path[: match.start()] == dest:
            chunks.append((int(match[1]), meta.path, meta.size_in_bytes))
    return [(path, size) for _, path, size in sorted(chunks)]


def chunk_path(dest: str, index: int) -> str:
    return f"{dest}{CHUNK_SUFFIX}{index:04d}"


def _new_hashers(task: FileTask) -> dict[str, Any]:
    hashers: dict[str, Any] = {}
    if task.sha1:
        hashers["sha1"] = hashlib.sha1(usedforsecurity=False)
    elif task.md5:
        hashers["md5"] = hashlib.md5(usedforsecurity=False)
    return hashers


def _copy_hashing(sources: Sequence[str], target: str | None, task: FileTask, block: int) -> tuple[str, int]:
    """Reads ``sources`` in order (writing them to ``target`` if given); returns (digest, size)."""
    hashers = _new_hashers(task)
    size = 0
    writer = FileSystems.create(target, compression_type=CompressionTypes.UNCOMPRESSED) if target else None
    try:
        for source in sources:
            with FileSystems.open(source, compression_type=CompressionTypes.UNCOMPRESSED) as reader:
                while data := reader.read(block):
                    size += len(data)
                    for h in hashers.values():
                        h.update(data)
                    if writer is not None:
                        writer.write(data)
    finally:
        if writer is not None:
            writer.close()
    digest = next(iter(hashers.values())).hexdigest() if hashers else ""
    return digest, size


def _mismatch(task: FileTask, digest: str, size: int) -> str | None:
    """None when (digest, size) verifies ``task``, else what is wrong."""
    if task.size is not None and size != task.size:
        return f"size {size} bytes, expected {task.size}"
    expected = task.sha1 or task.md5
    if expected and digest != expected:
        return f"{task.check} {digest}, expected {expected}"
    return None


_MAGIC = {".bz2": (b"BZh", "bz2"), ".gz": (b"\x1f\x8b", "gzip")}


def content_problem(name: str, head: bytes) -> str | None:
    """What is wrong with a file's first bytes for its kind (by name), or None.

    The check used when the mirror lists no checksum: an error page served with status 200 must
    not be taken for a dump.
    """
    lowered = head.lstrip()[:64].lower()
    looks_html = lowered.startswith((b"<!doctype html", b"<html", b"<head", b"<body"))
    for suffix, (magic, kind) in _MAGIC.items():
        if name.endswith(suffix):
            if head.startswith(magic):
                return None
            what = "an HTML page" if looks_html else f"{head[:8]!r}"
            return f"content is not {kind} data (starts with {what})"
    if looks_html:
        return "content is an HTML page, not a dump file"
    if name.endswith(".xml") and not head.lstrip(b"\xef\xbb\xbf\xff\xfe\x00 \t\r\n").startswith(b"<"):
        return f"content is not XML (starts with {head[:8]!r})"
    if name.endswith(".json") and not head.lstrip().startswith((b"{", b"[")):
        return f"content is not JSON (starts with {head[:8]!r})"
    return None


def _head(path: str, n: int = 512) -> bytes:
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as reader:
        return reader.read(n)


def verify_file(path: str, task: FileTask, block: int = 1 << 20) -> str | None:
    """None when the file at ``path`` verifies against ``task``, else what is wrong."""
    size = _size(path)
    if size is None:
        return "missing"
    if task.size is not None and size != task.size:
        return f"size {size} bytes, expected {task.size}"
    digest, size = _copy_hashing([path], None, task, block)
    problem = _mismatch(task, digest, size)
    if problem is None and task.check == "size":
        problem = content_problem(task.name, _head(path))
    return problem


# ----------------------------------------------------------------------------------------------
# One download


class DownloadEvents:
    """Callbacks a download reports to (the DoFn turns them into Beam counters and log lines)."""

    def on_bytes(self, n: int) -> None:
        pass

    def on_retry(self, task: FileTask, reason: str, delay: float) -> None:
        pass

    def on_resume(self, task: FileTask, offset: int) -> None:
        pass


@dataclass(frozen=True)
class FetchResult:
    wiki: str
    date: str
    job: str
    name: str
    dest: str
    status: str
    bytes: int = 0
    verified: str = ""
    message: str = ""

    @property
    def dump_key(self) -> str:
        return f"{self.wiki}/{self.date}"

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _result(task: FileTask, status: str, transferred: int = 0, message: str = "") -> FetchResult:
    return FetchResult(
        wiki=task.wiki,
        date=task.date,
        job=task.job,
        name=task.name,
        dest=task.dest,
        status=status,
        bytes=transferred,
        verified=task.check if status != STATUS_FAILED else "",
        message=message,
    )


@dataclass
class _Transfer:
    """State of one download across its HTTP responses."""

    task: FileTask
    transferred: int = 0
    hashers: dict[str, Any] = field(default_factory=dict)
    hashed_from_zero: bool = False  # hashers saw every byte of the chunks, in order
    # The most bytes ever in place: only a response that passes it is progress (a server that
    # ignores Range and sends the same short body again makes none).
    high_water: int = 0


def _receive(
    transfer: _Transfer,
    session: requests.Session,
    settings: RetrySettings,
    events: DownloadEvents,
    sleep: Callable[[float], None],
) -> None:
    """Gets all bytes of the task into chunk files, resuming with Range after each interruption."""
    task = transfer.task
    attempt = 0
    while True:
        chunks = list_chunks(task.dest)
        offset = sum(size for _, size in chunks)
        if task.size is not None and offset > task.size:
            _LOG.warning("%s: partial data is longer than the file; starting over", task.name)
            _delete(path for path, _ in chunks)
            chunks, offset = [], 0
        if task.size is not None and offset == task.size and (chunks or task.size == 0):
            if not chunks:
                # An empty file: one empty chunk stands for it.
                empty = chunk_path(task.dest, 0)
                FileSystems.create(empty, compression_type=CompressionTypes.UNCOMPRESSED).close()
            return
        if offset == 0:
            transfer.hashers, transfer.hashed_from_zero = _new_hashers(task), True
        received = 0
        try:
            headers = {"Range": f"bytes={offset}-"} if offset else {}
            if offset:
                events.on_resume(task, offset)
            with request_same_host(session, "GET", task.url, settings, headers=headers, stream=True) as resp:
                if resp.status_code == 416 and offset:
                    # Our range starts at or past the end of the server's file.
                    if task.size is None:
                        return
                    served = _served_size(resp)
                    if served is not None and served != task.size:
                        _delete(path for path, _ in chunks)
                        raise FetchError(_size_differs(task, served))
                    _delete(path for path, _ in chunks)
                    raise _Retryable("HTTP 416 on resume: starting over")
                if resp.status_code >= 400:
                    failure = _http_failure(resp, task.url)
                    if isinstance(failure, NotFoundError):
                        raise NotFoundError(
                            f"{task.name}: HTTP {resp.status_code} at {task.url}; the {task.date} dump "
                            "is gone from this mirror (Wikimedia deletes dumps after a few months): "
                            "use --dump-date latest or another --mirror"
                        )
                    raise failure
                served = _served_size(resp)
                if task.size is not None and served is not None and served != task.size:
                    raise FetchError(_size_differs(task, served))
                if offset and not _resumes_at(resp, offset):
                    # The server ignored the Range header (or answered another range): start over.
                    _delete(path for path, _ in chunks)
                    chunks, offset = [], 0
                    transfer.hashers, transfer.hashed_from_zero = _new_hashers(task), True
                index = (int(_CHUNK_RE.search(chunks[-1][0])[1]) + 1) if chunks else 0  # type: ignore[index]
                too_big = False
                path = chunk_path(task.dest, index)
                writer = FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED)
                try:
                    for block in resp.iter_content(settings.block_size):
                        if not block:
                            continue
                        writer.write(block)
                        received += len(block)
                        transfer.transferred += len(block)
                        if transfer.hashed_from_zero:
                            for h in transfer.hashers.values():
                                h.update(block)
                        events.on_bytes(len(block))
                        if task.size is not None and offset + received > task.size:
                            break  # more than the listed size: verification rejects it
                        if task.size is None and offset + received > settings.max_unlisted_bytes:
                            too_big = True
                            break
                finally:
                    writer.close()
                    if received == 0:
                        _delete([path])
            if too_big:
                _delete(path for path, _ in list_chunks(task.dest))
                raise FetchError(
                    f"{task.name}: the mirror lists no size for it and it is larger than "
                    f"{human_bytes(settings.max_unlisted_bytes)}; refused (raise --max-unlisted-gb if "
                    "the file really is that large)"
                )
            if task.size is None or offset + received >= task.size:
                return
            # The response ended cleanly but early (no Content-Length to catch it): resume.
            raise _Retryable(f"response ended at byte {offset + received} of {task.size}")
        except _NETWORK_ERRORS as err:
            reason, retry_after = _short_error(err), None
        except _Retryable as err:
            reason, retry_after = err.reason, err.retry_after
        # Progress resets the count: a flaky connection that keeps delivering new data is not
        # dead; bytes that only replace ones already had are no progress.
        reached = offset + received
        attempt = 1 if reached > transfer.high_water else attempt + 1
        transfer.high_water = max(transfer.high_water, reached)
        if attempt >= settings.max_attempts:
            raise FetchError(
                f"{task.name}: {reason} (gave up after {attempt} attempts); run the same command "
                "again to resume"
            )
        delay = retry_delay(attempt, settings, retry_after)
        events.on_retry(task, reason, delay)
        sleep(delay)


def _served_size(resp: requests.Response) -> int | None:
    """The size of the whole file as the server states it (Content-Range total, or the
    Content-Length of a 200), or None when it does not say."""
    total = re.search(r"/(\d+)\s*$", resp.headers.get("Content-Range", ""))
    if total:
        return int(total[1])
    length = resp.headers.get("Content-Length", "")
    if resp.status_code == 200 and length.isdigit():
        return int(length)
    return None


def _size_differs(task: FileTask, served: int) -> str:
    return (
        f"{task.name}: the mirror serves {served} bytes but dumpstatus.json lists {task.size}; "
        "the mirror may be mid-update: try again later or another --mirror"
    )


def _resumes_at(resp: requests.Response, offset: int) -> bool:
    if resp.status_code != 206:
        return False
    match = re.match(r"bytes\s+(\d+)-", resp.headers.get("Content-Range", ""))
    return bool(match) and int(match[1]) == offset


def _place(transfer: _Transfer, block: int) -> str | None:
    """Verifies the chunks and renames the verified file into place; else returns the problem."""
    task = transfer.task
    chunks = [path for path, _ in list_chunks(task.dest)]
    if len(chunks) == 1 and transfer.hashed_from_zero:
        hashers = transfer.hashers
        digest = next(iter(hashers.values())).hexdigest() if hashers else ""
        source = chunks[0]
        size = _size(source) or 0
    elif len(chunks) == 1:
        source = chunks[0]
        digest, size = _copy_hashing([source], None, task, block)
    else:
        source = task.dest + JOINING_SUFFIX
        digest, size = _copy_hashing(chunks, source, task, block)
    problem = _mismatch(task, digest, size)
    if problem is None and task.check == "size":
        problem = content_problem(task.name, _head(source))
    if problem is not None:
        _delete([*chunks, task.dest + JOINING_SUFFIX])
        return problem
    FileSystems.rename([source], [task.dest])
    _delete(c for c in chunks if c != source)
    return None


def download_file(
    task: FileTask,
    session: requests.Session,
    settings: RetrySettings,
    events: DownloadEvents | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> FetchResult:
    """Downloads, verifies and places one file; a verified file already in place is skipped.

    Raises FetchError (NotFoundError, ChecksumError...) with a message for the user.
    """
    events = events or DownloadEvents()
    if FileSystems.exists(task.dest):
        problem = verify_file(task.dest, task, settings.block_size)
        if problem is None:
            return _result(task, STATUS_SKIPPED, message="already present and verified")
        _LOG.warning("%s is present but does not verify (%s): fetching it again", task.dest, problem)
        _delete([task.dest])
    _delete([task.dest + JOINING_SUFFIX])
    transfer = _Transfer(task=task)
    problem = None
    for round_ in (1, 2):  # a checksum mismatch is retried once from scratch
        _receive(transfer, session, settings, events, sleep)
        problem = _place(transfer, settings.block_size)
        if problem is None:
            return _result(task, STATUS_DOWNLOADED, transfer.transferred)
        _LOG.warning("%s does not verify (%s)%s", task.name, problem, "; downloading again" * (round_ == 1))
        if round_ == 1:
            events.on_retry(task, f"checksum mismatch ({problem})", 0.0)
    raise ChecksumError(
        f"{task.name} failed verification twice ({problem}); the bad copies were deleted; "
        "the mirror's file may be corrupt: try another --mirror"
    )


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
# Beam


class DownloadFiles(beam.DoFn):
    """Downloads one connection group's files one after another; yields a FetchResult per file.

    Expected failures (404, checksum, gave up retrying) become ``failed`` results rather than
    exceptions, so the other files still download and the launcher can report them all.
    """

    def __init__(self, agent: str, settings: RetrySettings) -> None:
        self._agent = agent
        self._settings = settings
        self._session: requests.Session | None = None

    def setup(self) -> None:
        self._session = requests.Session()
        self._session.headers["User-Agent"] = self._agent
        self._session.headers["Accept-Encoding"] = "identity"  # the dump bytes, not a re-encoding

    def teardown(self) -> None:
        if self._session is not None:
            self._session.close()

    def process(self, element: tuple[str, Iterable[FileTask]]) -> Iterator[FetchResult]:
        _, tasks = element
        assert self._session is not None
        events = _CountingEvents()
        for task in sorted(tasks, key=lambda t: (-(t.size or 0), t.dest)):
            _LOG.info("fetching %s (%s)", task.url, human_bytes(task.size or 0))
            try:
                result = download_file(task, self._session, self._settings, events)
            except (FetchError, requests.RequestException) as err:
                result = _result(task, STATUS_FAILED, message=str(err))
                events.failed.inc()
                _LOG.error("%s", err)
            except OSError as err:  # the work directory: disk full, no permission
                result = _result(task, STATUS_FAILED, message=str(write_failure(task.dest, err)))
                events.failed.inc()
                _LOG.error("%s", err)
            else:
                (events.skipped if result.status == STATUS_SKIPPED else events.downloaded).inc()
                _LOG.info("%s %s", result.status, task.dest)
            yield result


class _CountingEvents(DownloadEvents):
    def __init__(self) -> None:
        self.bytes = Metrics.counter("fetch", "bytes")
        self.retries = Metrics.counter("fetch", "retries")
        self.resumes = Metrics.counter("fetch", "resumes")
        self.downloaded = Metrics.counter("fetch", "files_downloaded")
        self.skipped = Metrics.counter("fetch", "files_skipped")
        self.failed = Metrics.counter("fetch", "files_failed")

    def on_bytes(self, n: int) -> None:
        self.bytes.inc(n)

    def on_retry(self, task: FileTask, reason: str, delay: float) -> None:
        self.retries.inc()
        _LOG.warning("%s: %s; retrying in %.1f s", task.name, reason, delay)

    def on_resume(self, task: FileTask, offset: int) -> None:
        self.resumes.inc()
        _LOG.info("%s: resuming at byte %d", task.name, offset)


def write_text_atomically(path: str, text: str) -> None:
    write_atomically(path, text.encode("utf-8"))


class RecordDumpStatus(beam.DoFn):
    """Writes ``{wiki}/{date}/dumpstatus.json`` once every file of that dump is in place.

    The local copy lists only the jobs and files that were fetched and verified, so later stages
    never see a job whose files are not all there.
    """

    def __init__(self, statuses: dict[str, str], out: str) -> None:
        self._statuses = statuses
        self._root = dumps_root(out)

    def process(self, element: tuple[str, Iterable[FetchResult]]) -> Iterator[str]:
        key, results = element
        results = list(results)
        if key not in self._statuses or any(r.status == STATUS_FAILED for r in results):
            return
        path = _contained(self._root, f"{self._root}/{key}/{DUMPSTATUS}")
        existing = None
        if FileSystems.exists(path):
            with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
                existing = f.read().decode("utf-8", errors="replace")
        try:
            write_text_atomically(path, merge_status_json(existing, self._statuses[key]))
        except OSError as error:
            raise write_failure(path, error) from error
        yield path
