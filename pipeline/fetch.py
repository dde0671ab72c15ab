"""``mluke-data fetch``: download the Wikimedia dumps the later stages need, verified and resumable.

The launcher (this process) plans: it reads each wiki's ``dumpstatus.json`` from the mirror
(``transforms.http.MirrorClient``), resolves ``--dump-date latest`` and makes one ``FileTask``
per file (``transforms.fetch_plan``). The Beam pipeline (``transforms.download.FetchDumps``)
then downloads them, at most ``--connections`` at a time per host, writing through FileSystems
(local paths or gs:// alike). On a local runner ``pipeline.progress.DownloadProgress`` shows
bytes, rate and ETA meanwhile; Beam counters in the ``fetch`` namespace are kept on every runner.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

import click
from apache_beam.io.filesystems import FileSystems

from pipeline.options import (
    BEAM_COMMAND_SETTINGS,
    BEAM_EPILOG,
    UserError,
    beam_options,
    create_pipeline,
    is_local_runner,
    pipeline_options,
)
from pipeline.progress import DownloadProgress, format_duration
from transforms.download import (
    REPORT_NAME,
    STATUS_DOWNLOADED,
    STATUS_FAILED,
    STATUS_SKIPPED,
    FetchDumps,
    connection_groups,
    human_bytes,
    read_counters,
    read_report,
)
from transforms.download_chunks import file_states
from transforms.fetch_plan import (
    DEFAULT_CONNECTIONS,
    DEFAULT_MIRROR,
    DEFAULT_WHAT,
    FetchError,
    Plan,
    dumps_root,
    make_plan,
    normalize_mirror,
    parse_dump_date,
    parse_what,
)
from transforms.http import MirrorClient, RetrySettings, user_agent
from transforms.languages import parse_language_list

# Module-level so tests (and embedding code) can shorten the waits.
RETRY_SETTINGS = RetrySettings()
# Wikimedia asks for at most two connections per address; other mirrors set their own limits.
WIKIMEDIA_HOST = urlsplit(DEFAULT_MIRROR).hostname


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

    lang_list = _parse_langs(langs)
    with _as_user_error():
        what_list, dump_date, mirror = parse_what(what), parse_dump_date(dump_date), normalize_mirror(mirror)
    out = _normalize_out(out)
    _warn_impolite(contact, connections, mirror)
    agent, settings = user_agent(contact), _retry_settings(max_unlisted_gb)
    with _as_user_error(), contextlib.closing(MirrorClient(mirror, agent, settings)) as client:
        plan = make_plan(lang_list, dump_date, what_list, out, client, say)
    for note in plan.notes:
        click.echo(f"note: {note}", err=True)
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
    if workers is None and not any(arg.startswith("--direct_num_workers") for arg in beam_args):
        workers = connection_groups(plan.tasks, connections)  # downloads wait on the network, not a core
    options = pipeline_options(beam_args, workers)
    progress: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
    if is_local_runner(options):
        progress = DownloadProgress(plan.tasks)
    else:
        say("progress: see the runner's job page (counters fetch/bytes, fetch/files_downloaded, ...)")
    started = time.monotonic()
    with progress, create_pipeline(options) as pipeline:
        _ = pipeline | "FetchDumps" >> FetchDumps(
            plan.tasks,
            out=out,
            statuses=plan.statuses,
            connections=connections,
            agent=agent,
            settings=settings,
            report_path=report_path,
        )
    _print_outcome(report_path, read_counters(pipeline.result), time.monotonic() - started, say)
    return plan


# ----------------------------------------------------------------------------------------------
# Checking the flags, and what the command prints


@contextlib.contextmanager
def _as_user_error() -> Iterator[None]:
    """A FetchError (bad flag, unusable plan, unreachable mirror) ends the command as one line."""
    try:
        yield
    except FetchError as err:
        raise UserError(str(err)) from err


def _parse_langs(langs: str) -> list[str]:
    try:
        return parse_language_list(langs)
    except ValueError as err:
        raise UserError(f"{err}; use Wikipedia language codes such as en, ja, zh-yue") from err


def _normalize_out(out: str) -> str:
    if out.startswith("file://"):
        raise UserError("--out takes a plain local path or a gs:// (or other FileSystems) path, not file://")
    return out if "://" in out else os.path.abspath(out)


def _warn_impolite(contact: str | None, connections: int, mirror: str) -> None:
    if not contact:
        click.echo(
            "warning: no contact in the User-Agent; Wikimedia asks for one: set --contact EMAIL_OR_URL "
            "or MLUKE_CONTACT",
            err=True,
        )
    if connections > DEFAULT_CONNECTIONS and WIKIMEDIA_HOST in mirror:
        click.echo(
            f"warning: Wikimedia allows {DEFAULT_CONNECTIONS} connections per client; using {connections}",
            err=True,
        )


def _retry_settings(max_unlisted_gb: float | None) -> RetrySettings:
    if max_unlisted_gb is None:
        return RETRY_SETTINGS
    return dataclasses.replace(RETRY_SETTINGS, max_unlisted_bytes=int(max_unlisted_gb * (1 << 30)))


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


def _print_outcome(
    report_path: str, counters: dict[str, int], seconds: float, say: Callable[[str], None]
) -> None:
    """The summary line; a UserError naming the failed files if any failed."""
    files = read_report(report_path)
    by_status = {s: [f for f in files if f["status"] == s] for s in (STATUS_DOWNLOADED, STATUS_SKIPPED)}
    fetched = sum(f["bytes"] for f in files)
    say(
        f"fetched {len(by_status[STATUS_DOWNLOADED])} files ({human_bytes(fetched)} in "
        f"{format_duration(seconds)}), {len(by_status[STATUS_SKIPPED])} already present and verified, "
        f"{counters.get('retries', 0)} retries; report: {report_path}"
    )
    failed = [f for f in files if f["status"] == STATUS_FAILED]
    if failed:
        first = "; ".join(f["message"] for f in failed[:3])
        more = f" (and {len(failed) - 3} more)" if len(failed) > 3 else ""
        raise UserError(
            f"{len(failed)} of {len(files)} files failed: {first}{more}; details in {report_path}"
        )


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
