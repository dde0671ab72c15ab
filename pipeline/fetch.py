"""``mluke-data fetch``: download the Wikimedia dumps the later stages need, verified and resumable.

The launcher (this process) reads each wiki's ``dumpstatus.json`` from the mirror, resolves
``--dump-date latest``, and builds the plan: one :class:`FileTask` per file. The Beam pipeline
(:class:`FetchDumps`) keys the tasks into ``--connections`` groups per host and downloads each
group sequentially, so a host never sees more concurrent downloads than that, writing through
FileSystems (local paths or gs:// alike).

Progress: on a local runner the launcher polls the sizes of the partial and finished files while
the pipeline runs (this works whatever process does the downloading) and shows a rich display on
a terminal or a plain log line every few seconds otherwise. Beam counters in the ``fetch``
namespace (bytes, files_downloaded, files_skipped, files_failed, retries, resumes) are kept on
every runner.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import apache_beam as beam
import click
import requests
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.options import (
    BEAM_COMMAND_SETTINGS,
    BEAM_EPILOG,
    UserError,
    beam_options,
    create_pipeline,
    is_local_runner,
    pipeline_options,
)
from schemas.dumps import DumpStatus, wiki_name
from transforms.errors import write_failure
from transforms.fetch import (
    CHUNK_SUFFIX,
    DEFAULT_CONNECTIONS,
    DEFAULT_MIRROR,
    DEFAULT_WHAT,
    STATUS_DOWNLOADED,
    STATUS_FAILED,
    STATUS_SKIPPED,
    WHAT_CHOICES,
    WHAT_ITEMSPERSITE,
    WHAT_WIKIDATA_JSON,
    WIKIDATA_WIKI,
    DownloadFiles,
    FetchError,
    FetchResult,
    FileTask,
    NotFoundError,
    PlanError,
    RecordDumpStatus,
    RetrySettings,
    UnreachableError,
    assign_connections,
    check_date,
    dates_in_text,
    dumps_root,
    dumpstatus_url,
    entities_dir_url,
    entities_file_name,
    entities_task,
    http_request,
    human_bytes,
    jobs_for,
    normalize_mirror,
    parse_checksums_file,
    parse_dump_dates,
    parse_status_document,
    plan_dump,
    recorded_status,
    resolve_latest,
    user_agent,
    write_text_atomically,
)
from transforms.languages import parse_language_list

# Module-level so tests (and embedding code) can shorten the waits.
RETRY_SETTINGS = RetrySettings()
LAUNCHER_MAX_ATTEMPTS = 4  # plan requests give up sooner than downloads
PLAIN_PROGRESS_INTERVAL_S = 10.0
TTY_REFRESH_S = 0.5
REPORT_NAME = "fetch-report.json"
WIKIMEDIA_HOST = "dumps.wikimedia.org"


# ----------------------------------------------------------------------------------------------
# The Beam pipeline


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
        settings: RetrySettings = RETRY_SETTINGS,
        report_path: str | None = None,
    ) -> None:
        super().__init__()
        self._keyed = assign_connections(tasks, connections)
        self._out = out
        self._statuses = statuses
        self._agent = agent or user_agent(None)
        self._settings = settings
        self._report_path = report_path

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.PCollection:
        results = (
            pbegin
            | "Plan" >> beam.Create(self._keyed)
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


# ----------------------------------------------------------------------------------------------
# Talking to the mirror from the launcher


class MirrorClient:
    """The launcher's reads from the mirror: listings, dumpstatus.json, HEAD for sizes."""

    def __init__(self, mirror: str, agent: str, settings: RetrySettings) -> None:
        self.mirror = mirror
        self.session = requests.Session()
        self.session.headers["User-Agent"] = agent
        self.settings = dataclasses.replace(
            settings, max_attempts=min(settings.max_attempts, LAUNCHER_MAX_ATTEMPTS)
        )

    def close(self) -> None:
        self.session.close()

    def request(self, method: str, url: str) -> requests.Response | None:
        """The response, or None for 404/410; a UserError when the mirror cannot be reached."""
        try:
            return http_request(self.session, method, url, self.settings)
        except NotFoundError:
            return None
        except UnreachableError as err:
            raise UserError(
                f"cannot reach the mirror {self.mirror} ({err}); check --mirror and the network"
            ) from err
        except FetchError as err:
            raise UserError(f"the mirror {self.mirror} refused a request: {err}") from err

    def get_text(self, url: str) -> str | None:
        resp = self.request("GET", url)
        return None if resp is None else resp.text

    def list_dates(self, wiki: str) -> list[str]:
        """Dates of a wiki's dumps from the mirror's index page, or from ``latest/`` files."""
        listing = None
        try:
            listing = self.get_text(f"{self.mirror}/{wiki}/")
        except UserError as err:
            if isinstance(err.__cause__, UnreachableError):
                raise
        dates = parse_dump_dates(listing) if listing else []
        if dates:
            return dates
        for name in ("dumpstatus.json", f"{wiki}-latest-pages-articles-multistream.xml.bz2-rss.xml"):
            text = self.get_text(f"{self.mirror}/{wiki}/latest/{name}")
            if text and (dates := dates_in_text(text, wiki)):
                return dates
        return []

    def load_status(self, wiki: str, date: str) -> DumpStatus | None:
        text = self.get_text(dumpstatus_url(self.mirror, wiki, date))
        if text is None:
            return None
        try:
            return parse_status_document(text)
        except ValueError as err:
            raise UserError(
                f"{wiki} {date}: unusable dumpstatus.json at {dumpstatus_url(self.mirror, wiki, date)}: "
                f"{err}; try another --mirror or --dump-date"
            ) from err

    def head_size(self, url: str) -> tuple[bool, int | None]:
        """(exists, Content-Length)."""
        resp = self.request("HEAD", url)
        if resp is None:
            return False, None
        length = resp.headers.get("Content-Length")
        return True, int(length) if length and length.isdigit() else None


# ----------------------------------------------------------------------------------------------
# The plan


@dataclass
class Plan:
    tasks: list[FileTask]
    dates: dict[str, str]  # wiki -> dump date
    statuses: dict[str, str]  # "wiki/date" -> dumpstatus.json to record once the dump is fetched
    notes: list[str] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(t.size or 0 for t in self.tasks)


def parse_what(text: str) -> list[str]:
    what: list[str] = []
    for raw in text.split(","):
        item = raw.strip().lower()
        if not item:
            continue
        if item not in WHAT_CHOICES:
            raise UserError(f"unknown --what value {raw.strip()!r}; choose from {', '.join(WHAT_CHOICES)}")
        if item not in what:
            what.append(item)
    if not what:
        raise UserError(f"--what is empty; choose from {', '.join(WHAT_CHOICES)}")
    return what


def _gone(wiki: str, date: str, mirror: str) -> str:
    return (
        f"{wiki}: no dump dated {date} on {mirror} (HTTP 404); Wikimedia deletes dumps after a few "
        "months: use --dump-date latest or another --mirror"
    )


def _plan_entities(
    client: MirrorClient, dump_date: str, out: str, notes: list[str], say: Callable[[str], None]
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
    raise UserError(
        f"no Wikidata entity dump {'' if dump_date == 'latest' else f'for {dump_date} '}found under "
        f"{base}/; try --dump-date latest or another --mirror"
    )


def make_plan(
    langs: Sequence[str],
    dump_date: str,
    what: Sequence[str],
    out: str,
    client: MirrorClient,
    say: Callable[[str], None],
) -> Plan:
    """Reads the dumpstatus.json files and builds the list of files to fetch."""
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

        try:
            choice = resolve_latest(needs, client.list_dates, load)
        except PlanError as err:
            raise UserError(str(err)) from err
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
        raise UserError("; ".join(problems))

    notes: list[str] = []
    if WHAT_WIKIDATA_JSON in what:
        tasks.append(_plan_entities(client, dump_date, out, notes, say))
    return Plan(tasks=sorted(tasks), dates=dates, statuses=recorded, notes=notes)


# ----------------------------------------------------------------------------------------------
# What is already there, and progress


def _sizes_in(directories: set[str]) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for directory in sorted(directories):
        try:
            found = FileSystems.match([directory + "/*"])[0].metadata_list
        except Exception:  # a directory that does not exist yet, or a transient listing error
            continue
        sizes.update({m.path: m.size_in_bytes for m in found})
    return sizes


def file_states(tasks: Sequence[FileTask]) -> dict[str, tuple[str, int]]:
    """dest -> (state, bytes): 'present' (size matches), 'partial', 'mismatch' or 'missing'."""
    sizes = _sizes_in({t.dest.rsplit("/", 1)[0] for t in tasks})
    states: dict[str, tuple[str, int]] = {}
    for task in tasks:
        partial = sum(size for path, size in sizes.items() if path.startswith(task.dest + CHUNK_SUFFIX))
        if task.dest in sizes and not partial:
            ok = task.size is None or sizes[task.dest] == task.size
            states[task.dest] = ("present" if ok else "mismatch", sizes[task.dest])
        elif partial:
            states[task.dest] = ("partial", partial)
        else:
            states[task.dest] = ("missing", 0)
    return states


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


def _shorten(name: str, width: int = 40) -> str:
    # The tail carries the part number and range, the part that tells files apart.
    return name if len(name) <= width else "…" + name[-(width - 1) :]


class ProgressMonitor:
    """Polls the destination folders while the pipeline runs and reports bytes, rate and ETA.

    Polling files (rather than listening to workers) works for in-process and multi-process
    local runs alike. A terminal gets a rich display (overall and one bar per active file);
    anything else gets one plain line every ``PLAIN_PROGRESS_INTERVAL_S`` seconds.
    """

    def __init__(self, tasks: Sequence[FileTask], tty: bool) -> None:
        self._tasks = list(tasks)
        self._tty = tty
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fetch-progress", daemon=True)
        self._total = sum(t.size or 0 for t in tasks)

    def __enter__(self) -> ProgressMonitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _snapshot(self) -> tuple[int, int, dict[str, tuple[str, int]]]:
        states = file_states(self._tasks)
        done = sum(1 for state, _ in states.values() if state == "present")
        current = sum(
            min(n, t.size) if t.size is not None else n for t in self._tasks for _, n in [states[t.dest]]
        )
        return done, current, states

    def _run(self) -> None:
        try:
            if self._tty:
                self._run_rich()
            else:
                self._run_plain()
        except Exception as err:  # progress must never break the download
            click.echo(f"progress display stopped: {err}", err=True)

    def _run_plain(self) -> None:
        start = time.monotonic()
        _, first, _ = self._snapshot()
        while not self._stop.wait(PLAIN_PROGRESS_INTERVAL_S):
            done, current, _ = self._snapshot()
            elapsed = time.monotonic() - start
            rate = (current - first) / elapsed if elapsed > 0 else 0.0
            left = self._total - current
            eta = _duration(left / rate) if rate > 0 and left > 0 else "?"
            pct = 100.0 * current / self._total if self._total else 100.0
            click.echo(
                f"fetch: {done}/{len(self._tasks)} files, {human_bytes(current)} of "
                f"{human_bytes(self._total)} ({pct:.0f}%), {human_bytes(rate)}/s, ETA {eta}",
                err=True,
            )

    def _run_rich(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        bars: dict[str, Any] = {}
        with progress:
            overall = progress.add_task(f"all {len(self._tasks)} files", total=self._total or None)
            while True:
                done, current, states = self._snapshot()
                progress.update(overall, completed=current, description=f"{done}/{len(self._tasks)} files")
                for task in self._tasks:
                    state, n = states[task.dest]
                    if state == "partial" and task.dest not in bars:
                        bars[task.dest] = progress.add_task(f"  {_shorten(task.name)}", total=task.size)
                    if task.dest in bars:
                        progress.update(bars[task.dest], completed=n)
                        if state == "present":
                            progress.remove_task(bars.pop(task.dest))
                if self._stop.wait(TTY_REFRESH_S):
                    break


# ----------------------------------------------------------------------------------------------
# The command


def _files(n: int) -> str:
    return f"{n} file" if n == 1 else f"{n} files"


def _print_plan(plan: Plan, say: Callable[[str], None]) -> None:
    states = file_states(plan.tasks)
    present = [t for t in plan.tasks if states[t.dest][0] == "present"]
    partial = sum(states[t.dest][1] for t in plan.tasks if states[t.dest][0] == "partial")
    present_bytes = sum(t.size or 0 for t in present)
    for task in plan.tasks:
        state, n = states[task.dest]
        detail = {
            "present": "present (size matches; verified when fetching)",
            "partial": f"partial, {human_bytes(n)} (will resume)",
            "mismatch": f"present with the wrong size ({human_bytes(n)}; will fetch again)",
            "missing": "to fetch",
        }[state]
        size = human_bytes(task.size) if task.size is not None else "size unknown"
        say(f"  {task.wiki} {task.date} {task.job:<24} {task.name}  {size}  {detail}")
        say(f"      {task.url} -> {task.dest}")
    say(
        f"plan: {_files(len(plan.tasks))}, {human_bytes(plan.total_bytes)} in all; already present: "
        f"{_files(len(present))}, {human_bytes(present_bytes)}; to fetch: "
        f"{human_bytes(plan.total_bytes - present_bytes - partial)}"
        + (f" (+{human_bytes(partial)} already partially downloaded)" if partial else "")
    )


def _counters(result: Any) -> dict[str, int]:
    try:
        query = result.metrics().query(MetricsFilter().with_namespace("fetch"))
    except Exception:  # some runners do not report metrics
        return {}
    counters: dict[str, int] = {}
    for counter in query.get("counters", []):
        value = counter.committed if counter.committed is not None else counter.attempted
        counters[counter.key.metric.name] = counters.get(counter.key.metric.name, 0) + int(value or 0)
    return counters


def _read_report(path: str) -> list[dict[str, Any]]:
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
        return json.loads(f.read().decode("utf-8"))["files"]


def _normalize_out(out: str) -> str:
    if out.startswith("file://"):
        raise UserError("--out takes a plain local path or a gs:// (or other FileSystems) path, not file://")
    return out if "://" in out else os.path.abspath(out)


def run_fetch(
    *,
    langs: str,
    dump_date: str,
    out: str,
    mirror: str = DEFAULT_MIRROR,
    what: str = ",".join(DEFAULT_WHAT),
    connections: int = DEFAULT_CONNECTIONS,
    dry_run: bool = False,
    contact: str | None = None,
    beam_args: Sequence[str] = (),
    workers: int | None = None,
    messages_to_stderr: bool = False,
    max_unlisted_gb: float | None = None,
) -> Plan:
    """Everything ``mluke-data fetch`` does; returns the plan. Raises UserError on user mistakes.

    ``messages_to_stderr`` keeps stdout free for a caller's own output (``build --json``).
    """

    def say(text: str) -> None:
        click.echo(text, err=messages_to_stderr)

    def warn(text: str) -> None:
        click.echo(text, err=True)

    try:
        lang_list = parse_language_list(langs)
    except ValueError as err:
        raise UserError(f"{err}; use Wikipedia language codes such as en, ja, zh-yue") from err
    what_list = parse_what(what)
    dump_date = dump_date.strip().lower()
    if dump_date != "latest":
        try:
            check_date(dump_date)
        except PlanError as err:
            raise UserError(f"{err} or 'latest'") from err
    try:
        mirror = normalize_mirror(mirror)
    except PlanError as err:
        raise UserError(str(err)) from err
    out = _normalize_out(out)
    if not contact:
        warn(
            "warning: no contact in the User-Agent; Wikimedia asks for one: set --contact EMAIL_OR_URL "
            "or MLUKE_CONTACT"
        )
    if connections > DEFAULT_CONNECTIONS and WIKIMEDIA_HOST in mirror:
        warn(f"warning: Wikimedia allows {DEFAULT_CONNECTIONS} connections per client; using {connections}")
    agent = user_agent(contact)
    settings = RETRY_SETTINGS
    if max_unlisted_gb is not None:
        settings = dataclasses.replace(settings, max_unlisted_bytes=int(max_unlisted_gb * (1 << 30)))

    client = MirrorClient(mirror, agent, settings)
    try:
        plan = make_plan(lang_list, dump_date, what_list, out, client, say)
    finally:
        client.close()
    for note in plan.notes:
        warn(f"note: {note}")

    if dry_run:
        _print_plan(plan, say)
        return plan
    say(
        f"fetching {len(plan.tasks)} files ({human_bytes(plan.total_bytes)}) from {mirror} "
        f"into {dumps_root(out)} with at most {connections} connections per host"
    )

    report_path = f"{dumps_root(out)}/{REPORT_NAME}"
    if FileSystems.exists(report_path):
        FileSystems.delete([report_path])
    groups = len({key for key, _ in assign_connections(plan.tasks, connections)})
    given_workers = any(arg.startswith("--direct_num_workers") for arg in beam_args)
    if workers is None and not given_workers:
        workers = max(1, groups)  # downloads wait on the network, not on a core
    options: PipelineOptions = pipeline_options(beam_args, workers)
    local = is_local_runner(options)

    pipeline = create_pipeline(options)
    _ = pipeline | "FetchDumps" >> FetchDumps(
        plan.tasks,
        out=out,
        statuses=plan.statuses,
        connections=connections,
        agent=agent,
        settings=settings,
        report_path=report_path,
    )
    started = time.monotonic()
    if local:
        with ProgressMonitor(plan.tasks, tty=sys.stderr.isatty()):
            result = pipeline.run()
            result.wait_until_finish()
    else:
        say("progress: see the runner's job page (counters fetch/bytes, fetch/files_downloaded, ...)")
        result = pipeline.run()
        result.wait_until_finish()
    elapsed = time.monotonic() - started

    files = _read_report(report_path)
    counters = _counters(result)
    by_status = {s: [f for f in files if f["status"] == s] for s in (STATUS_DOWNLOADED, STATUS_SKIPPED)}
    fetched = sum(f["bytes"] for f in files)
    say(
        f"fetched {len(by_status[STATUS_DOWNLOADED])} files ({human_bytes(fetched)} in "
        f"{_duration(elapsed)}), {len(by_status[STATUS_SKIPPED])} already present and verified, "
        f"{counters.get('retries', 0)} retries; report: {report_path}"
    )
    failed = [f for f in files if f["status"] == STATUS_FAILED]
    if failed:
        first = "; ".join(f["message"] for f in failed[:3])
        more = f" (and {len(failed) - 3} more)" if len(failed) > 3 else ""
        raise UserError(
            f"{len(failed)} of {len(files)} files failed: {first}{more}; details in {report_path}"
        )
    return plan


@click.command(
    "fetch",
    context_settings=BEAM_COMMAND_SETTINGS,
    epilog=BEAM_EPILOG,
    short_help="Download Wikipedia dumps (verified, resumable).",
)
@click.option(
    "--langs",
    required=True,
    help="Comma-separated Wikipedia language codes, e.g. ar,bn,de,en,zh-yue.",
)
@click.option(
    "--dump-date",
    required=True,
    help="Dump date YYYYMMDD, or 'latest' for the newest date whose needed jobs are done "
    "(one date shared by all languages if there is one).",
)
@click.option(
    "--out",
    required=True,
    help="WORKDIR (local path or gs://...); files go to WORKDIR/dumps/{wiki}/{date}/.",
)
@click.option("--mirror", default=DEFAULT_MIRROR, show_default=True, help="Mirror base URL.")
@click.option(
    "--what",
    default=",".join(DEFAULT_WHAT),
    show_default=True,
    help="What to fetch: articles (pages-articles multistream + index, all parts), pageprops "
    "(page_props table), itemspersite (Wikidata wb_items_per_site table), wikidata-json "
    "(Wikidata entity JSON dump).",
)
@click.option(
    "--connections",
    type=click.IntRange(min=1),
    default=DEFAULT_CONNECTIONS,
    show_default=True,
    help="Concurrent downloads per host (Wikimedia allows 2).",
)
@click.option("--dry-run", is_flag=True, help="Print the plan (files, sizes, what is present) and stop.")
@click.option(
    "--contact",
    envvar="MLUKE_CONTACT",
    default=None,
    help="E-mail or URL put in the User-Agent so mirror operators can reach you [env: MLUKE_CONTACT].",
)
@click.option(
    "--max-unlisted-gb",
    type=click.FloatRange(min=0, min_open=True),
    default=RetrySettings.max_unlisted_bytes / (1 << 30),
    show_default=True,
    help="Largest file accepted (GiB) when the mirror lists no size for it.",
)
@beam_options(
    workers_help="Local worker processes (default: one per download group, i.e. --connections per host)."
)
def fetch_command(
    langs: str,
    dump_date: str,
    out: str,
    mirror: str,
    what: str,
    connections: int,
    dry_run: bool,
    contact: str | None,
    max_unlisted_gb: float,
    beam_args: list[str],
    workers: int | None,
) -> None:
    """Download the Wikimedia dumps the later stages need into WORKDIR/dumps/.

    Every file is verified against the sha1/md5 of dumpstatus.json before it is moved into place;
    files already present and verified are skipped; interrupted downloads resume.

    \b
    Examples:
      mluke-data fetch --langs en,ja,de --dump-date latest --out ./work
      mluke-data fetch --langs ar,sw --dump-date 20261101 --out ./work --dry-run
    """
    run_fetch(
        langs=langs,
        dump_date=dump_date,
        out=out,
        mirror=mirror,
        what=what,
        connections=connections,
        dry_run=dry_run,
        contact=contact,
        beam_args=beam_args,
        workers=workers,
        max_unlisted_gb=max_unlisted_gb,
    )
