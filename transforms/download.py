"""The fetch stage's transform, :class:`FetchDumps`: verified, resumable downloads of the plan.

``FetchDumps`` keys the plan's :class:`~transforms.fetch_plan.FileTask` elements into
``--connections`` groups per host and :class:`DownloadFiles` downloads each group one file after
another with :func:`download_file`, so a host never sees more concurrent downloads than that.
Each file goes to chunk files first and is renamed into place only once verified
(``transforms/download_chunks.py``); a dump's ``dumpstatus.json`` is written once all its files
are in place, and ``fetch-report.json`` lists every file of the run.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import apache_beam as beam
import requests
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import MetricsFilter

from schemas.dumps import DUMPSTATUS, dumpstatus_to_json, parse_dumpstatus
from transforms.download_chunks import (
    JOINING_SUFFIX,
    chunk_index,
    chunk_path,
    delete_files,
    list_chunks,
    new_hashers,
    place_verified,
    verify_file,
)
from transforms.errors import write_failure
from transforms.fetch_plan import DEFAULT_CONNECTIONS, FetchError, FileTask, check_contained, dumps_root
from transforms.files import write_atomically
from transforms.http import (
    NETWORK_ERRORS,
    NotFoundError,
    Retryable,
    RetrySettings,
    http_failure,
    request_same_host,
    retry_delay,
    short_error,
    user_agent,
)

_LOG = logging.getLogger(__name__)

STATUS_DOWNLOADED = "downloaded"
STATUS_SKIPPED = "skipped"
STATUS_FAILED = "failed"
REPORT_NAME = "fetch-report.json"  # under WORKDIR/dumps/
COUNTERS = "fetch"  # namespace of the Beam counters


class ChecksumError(FetchError):
    pass


def human_bytes(n: float) -> str:
    """``1536`` -> ``1.5 KiB``: sizes in messages and progress lines."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


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


def connection_groups(tasks: Sequence[FileTask], connections: int) -> int:
    """How many groups :func:`assign_connections` makes (at least 1): the useful worker count."""
    return max(1, len({key for key, _ in assign_connections(tasks, connections)}))


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
            delete_files(path for path, _ in chunks)
            chunks, offset = [], 0
        if task.size is not None and offset == task.size and (chunks or task.size == 0):
            if not chunks:
                # An empty file: one empty chunk stands for it.
                empty = chunk_path(task.dest, 0)
                FileSystems.create(empty, compression_type=CompressionTypes.UNCOMPRESSED).close()
            return
        if offset == 0:
            transfer.hashers, transfer.hashed_from_zero = new_hashers(task), True
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
                        delete_files(path for path, _ in chunks)
                        raise FetchError(_size_differs(task, served))
                    delete_files(path for path, _ in chunks)
                    raise Retryable("HTTP 416 on resume: starting over")
                if resp.status_code >= 400:
                    failure = http_failure(resp, task.url)
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
                    delete_files(path for path, _ in chunks)
                    chunks, offset = [], 0
                    transfer.hashers, transfer.hashed_from_zero = new_hashers(task), True
                index = chunk_index(chunks[-1][0]) + 1 if chunks else 0
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
                        delete_files([path])
            if too_big:
                delete_files(path for path, _ in list_chunks(task.dest))
                raise FetchError(
                    f"{task.name}: the mirror lists no size for it and it is larger than "
                    f"{human_bytes(settings.max_unlisted_bytes)}; refused (raise --max-unlisted-gb if "
                    "the file really is that large)"
                )
            if task.size is None or offset + received >= task.size:
                return
            # The response ended cleanly but early (no Content-Length to catch it): resume.
            raise Retryable(f"response ended at byte {offset + received} of {task.size}")
        except NETWORK_ERRORS as err:
            reason, retry_after = short_error(err), None
        except Retryable as err:
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
        delete_files([task.dest])
    delete_files([task.dest + JOINING_SUFFIX])
    transfer = _Transfer(task=task)
    problem = None
    for round_ in (1, 2):  # a checksum mismatch is retried once from scratch
        _receive(transfer, session, settings, events, sleep)
        hashers = transfer.hashers if transfer.hashed_from_zero else None
        problem = place_verified(task, settings.block_size, hashers)
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
        self.bytes = Metrics.counter(COUNTERS, "bytes")
        self.retries = Metrics.counter(COUNTERS, "retries")
        self.resumes = Metrics.counter(COUNTERS, "resumes")
        self.downloaded = Metrics.counter(COUNTERS, "files_downloaded")
        self.skipped = Metrics.counter(COUNTERS, "files_skipped")
        self.failed = Metrics.counter(COUNTERS, "files_failed")

    def on_bytes(self, n: int) -> None:
        self.bytes.inc(n)

    def on_retry(self, task: FileTask, reason: str, delay: float) -> None:
        self.retries.inc()
        _LOG.warning("%s: %s; retrying in %.1f s", task.name, reason, delay)

    def on_resume(self, task: FileTask, offset: int) -> None:
        self.resumes.inc()
        _LOG.info("%s: resuming at byte %d", task.name, offset)


def read_counters(result: Any) -> dict[str, int]:
    """The ``fetch`` counters of a finished pipeline (empty when the runner reports none)."""
    try:
        query = result.metrics().query(MetricsFilter().with_namespace(COUNTERS))
    except Exception:  # some runners do not report metrics
        return {}
    counters: dict[str, int] = {}
    for counter in query.get("counters", []):
        value = counter.committed if counter.committed is not None else counter.attempted
        counters[counter.key.metric.name] = counters.get(counter.key.metric.name, 0) + int(value or 0)
    return counters


def write_text_atomically(path: str, text: str) -> None:
    write_atomically(path, text.encode("utf-8"))


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
        path = check_contained(self._root, f"{self._root}/{key}/{DUMPSTATUS}")
        existing = None
        if FileSystems.exists(path):
            with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
                existing = f.read().decode("utf-8", errors="replace")
        try:
            write_text_atomically(path, merge_status_json(existing, self._statuses[key]))
        except OSError as error:
            raise write_failure(path, error) from error
        yield path


def read_report(path: str) -> list[dict[str, Any]]:
    """The files listed in a ``fetch-report.json`` (see :class:`FetchDumps`)."""
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        return json.loads(f.read().decode("utf-8"))["files"]


def _write_report(results: list[FetchResult], path: str) -> str:
    files = [r.to_json() for r in sorted(results, key=lambda r: r.dest)]
    try:
        write_text_atomically(path, json.dumps({"files": files}, indent=1, ensure_ascii=False) + "\n")
    except OSError as error:
        raise write_failure(path, error) from error
    return path


class FetchDumps(beam.PTransform):
    """Downloads planned files, at most ``connections`` at a time per host.

    Output: one FetchResult per task. Side effects: the files under ``WORKDIR/dumps/``, a
    ``dumpstatus.json`` per fully fetched dump listing what was fetched, and ``report_path``
    (JSON, one entry per file) for the launcher.
    """

    def __init__(
        self,
        tasks: Sequence[FileTask],
        *,
        out: str,
        statuses: dict[str, str],
        connections: int = DEFAULT_CONNECTIONS,
        agent: str = "",
        settings: RetrySettings | None = None,
        report_path: str | None = None,
    ) -> None:
        super().__init__()
        self._keyed = assign_connections(tasks, connections)
        self._out = out
        self._statuses = statuses
        self._agent = agent or user_agent(None)
        self._settings = settings or RetrySettings()
        self._report_path = report_path

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.PCollection:
        results = (
            pbegin
            | "Plan" >> beam.Create(self._keyed, reshuffle=False)
            | "OneGroupPerConnection" >> beam.GroupByKey()
            | "Download" >> beam.ParDo(DownloadFiles(self._agent, self._settings))
        )
        _ = (
            results
            | "KeyByDump" >> beam.Map(lambda r: (r.dump_key, r))
            | "GroupByDump" >> beam.GroupByKey()
            | "RecordDumpStatus" >> beam.ParDo(RecordDumpStatus(self._statuses, self._out))
        )
        if self._report_path is not None:
            _ = (
                results
                | "CollectResults" >> beam.combiners.ToList()
                | "WriteReport" >> beam.Map(_write_report, self._report_path)
            )
        return results
