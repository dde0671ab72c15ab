"""The fetch stage: plans from dumpstatus.json, verified resumable downloads, the CLI.

Downloads run against a real HTTP server on 127.0.0.1 (tests/fetch_server.py) with injected
faults; the CLI tests run the Beam pipeline on the FnApiRunner.
"""

from __future__ import annotations

import hashlib
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner, Result
from fetch_server import MirrorServer, fake_bz2, fake_gz, mirror_server, standard_jobs, write_dump

import pipeline.fetch as fetch_pipeline
import pipeline.progress as progress
from pipeline.fetch import fetch_command
from schemas.dumps import (
    JOB_ARTICLES_MULTISTREAM,
    JOB_ITEMS_PER_SITE,
    JOB_PAGE_PROPS,
    DumpFile,
    DumpJob,
    dumpstatus_to_json,
    index_name_for,
    is_articles_file,
    parse_dumpstatus,
    wiki_name,
)
from transforms.download import (
    ChecksumError,
    DownloadEvents,
    FetchResult,
    assign_connections,
    download_file,
    human_bytes,
)
from transforms.download_chunks import CHUNK_SUFFIX, chunk_path
from transforms.fetch_plan import (
    FetchError,
    FileTask,
    JobNotDoneError,
    PlanError,
    UnsafeNameError,
    check_file_name,
    parse_dump_dates,
    plan_dump,
    resolve_latest,
)
from transforms.http import NotFoundError, RetrySettings, parse_retry_after, retry_delay, user_agent

__all__ = ["mirror_server"]  # the fixture, imported for this module's tests

DATE = "20261101"
FAST = RetrySettings(
    max_attempts=4,
    backoff_base_s=0.01,
    backoff_max_s=0.05,
    max_retry_after_s=2.0,
    connect_timeout_s=2.0,
    read_timeout_s=1.0,  # generous: a loaded machine must not time out a healthy local response
    block_size=1024,
)


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fetch_pipeline, "RETRY_SETTINGS", FAST)
    monkeypatch.setattr(progress, "PLAIN_INTERVAL_S", 0.05)
    monkeypatch.delenv("MLUKE_CONTACT", raising=False)


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def leftovers(root: Path) -> list[Path]:
    """Partial or temporary files anywhere under root."""
    return [p for p in root.rglob("*") if CHUNK_SUFFIX in p.name or p.name.endswith((".joining", ".tmp"))]


# ----------------------------------------------------------------------------------------------
# Plans from dumpstatus.json

# Page-id ranges of enwiki's 27 multistream parts, in the shape Wikimedia uses.
ENWIKI_RANGES = [
    (1, 41242), (41243, 151573), (151574, 311329), (311330, 558391), (558392, 958045),
    (958046, 1483661), (1483662, 2134111), (2134112, 2936260), (2936261, 4045402),
    (4045403, 5399366), (5399367, 6899366), (6899367, 7054859), (7054860, 8554859),
    (8554860, 9172788), (9172789, 10672788), (10672789, 11659682), (11659683, 13159682),
    (13159683, 14324602), (14324603, 15824602), (15824603, 17324602), (17324603, 17460152),
    (17460153, 18960152), (18960153, 20460152), (20460153, 20570392), (20570393, 22070392),
    (22070393, 23570392), (23570393, 77231201),
]  # fmt: skip


def enwiki_dumpstatus(date: str = DATE) -> str:
    """A dumpstatus.json shaped like enwiki's: 27 parts per job and many unrelated jobs."""
    jobs: dict[str, DumpJob] = {}

    def entry(name: str, size: int) -> DumpFile:
        digest = hashlib.sha1(name.encode()).hexdigest()
        return DumpFile(
            name=name,
            size=size,
            url=f"/enwiki/{date}/{name}",
            md5=hashlib.md5(name.encode()).hexdigest(),
            sha1=digest,
        )

    multistream, articles, history = [], [], []
    for part, (lo, hi) in enumerate(ENWIKI_RANGES, start=1):
        rng = f"p{lo}p{hi}"
        multistream.append(
            entry(f"enwiki-{date}-pages-articles-multistream{part}.xml-{rng}.bz2", 250_000_000 + part)
        )
        multistream.append(
            entry(f"enwiki-{date}-pages-articles-multistream-index{part}.txt-{rng}.bz2", 1_500_000 + part)
        )
        articles.append(entry(f"enwiki-{date}-pages-articles{part}.xml-{rng}.bz2", 260_000_000 + part))
        for chunk in range(3):
            history.append(entry(f"enwiki-{date}-pages-meta-history{part}.xml-{rng}-{chunk}.bz2", 9_000_000))
    jobs[JOB_ARTICLES_MULTISTREAM] = DumpJob(JOB_ARTICLES_MULTISTREAM, "done", tuple(multistream))
    jobs["articlesmultistreamdumprecombine"] = DumpJob(
        "articlesmultistreamdumprecombine",
        "done",
        (
            entry(f"enwiki-{date}-pages-articles-multistream.xml.bz2", 22_000_000_000),
            entry(f"enwiki-{date}-pages-articles-multistream-index.txt.bz2", 250_000_000),
        ),
    )
    jobs["articlesdump"] = DumpJob("articlesdump", "done", tuple(articles))
    jobs["metahistorybz2dump"] = DumpJob("metahistorybz2dump", "in-progress", tuple(history))
    jobs[JOB_PAGE_PROPS] = DumpJob(
        JOB_PAGE_PROPS, "done", (entry(f"enwiki-{date}-page_props.sql.gz", 512_000_000),)
    )
    for name in ("sitestatstable", "namespaces", "pagetable", "categorylinkstable", "xmlstubsdump"):
        jobs[name] = DumpJob(name, "done", (entry(f"enwiki-{date}-{name}.gz", 1000),))
    jobs["metahistory7zdump"] = DumpJob("metahistory7zdump", "waiting", ())
    return dumpstatus_to_json(jobs)


def test_plan_of_a_large_wiki_with_many_parts() -> None:
    status = parse_dumpstatus(enwiki_dumpstatus())
    tasks = plan_dump(
        status,
        "enwiki",
        DATE,
        [JOB_ARTICLES_MULTISTREAM, JOB_PAGE_PROPS],
        "https://mirror.example/dumps",
        "/w",
    )
    names = [t.name for t in tasks]
    assert len(tasks) == 27 * 2 + 1
    assert "enwiki-20261101-pages-articles-multistream1.xml-p1p41242.bz2" in names
    assert "enwiki-20261101-pages-articles-multistream-index27.txt-p23570393p77231201.bz2" in names
    assert "enwiki-20261101-page_props.sql.gz" in names
    # Neither the recombined copy, nor non-multistream articles, nor other jobs.
    assert "enwiki-20261101-pages-articles-multistream.xml.bz2" not in names
    assert not any("pages-articles1.xml" in n or "history" in n or "stubs" in n for n in names)
    articles = [n for n in names if is_articles_file(n)]
    assert len(articles) == 27 and all(index_name_for(a) in names for a in articles)
    for task in tasks:
        assert task.url == f"https://mirror.example/dumps/enwiki/{DATE}/{task.name}"
        assert task.dest == f"/w/dumps/enwiki/{DATE}/{task.name}"
        assert task.sha1 == sha1(task.name.encode()) and task.check == "sha1"
        assert task.size is not None and task.size > 1_000_000
    assert tasks == sorted(tasks)
    total = sum(t.size or 0 for t in tasks)
    assert total == sum(250_000_000 + p + 1_500_000 + p for p in range(1, 28)) + 512_000_000

    # Two connections: two groups with balanced bytes.
    keyed = assign_connections(tasks, 2)
    loads: dict[str, int] = {}
    for key, task in keyed:
        loads[key] = loads.get(key, 0) + (task.size or 0)
    assert sorted(loads) == ["mirror.example#0", "mirror.example#1"]
    assert abs(loads["mirror.example#0"] - loads["mirror.example#1"]) <= 512_000_000


def test_plan_keeps_parts_when_the_job_also_lists_the_recombined_file() -> None:
    text = enwiki_dumpstatus()
    data = json.loads(text)
    recombined = data["jobs"]["articlesmultistreamdumprecombine"]["files"]
    data["jobs"][JOB_ARTICLES_MULTISTREAM]["files"].update(recombined)
    tasks = plan_dump(
        parse_dumpstatus(json.dumps(data)), "enwiki", DATE, [JOB_ARTICLES_MULTISTREAM], "http://m", "/w"
    )
    assert len(tasks) == 54
    assert all("multistream.xml.bz2" not in t.name and "index.txt.bz2" not in t.name for t in tasks)


def test_plan_requires_an_index_for_every_articles_file() -> None:
    data = json.loads(enwiki_dumpstatus())
    files = data["jobs"][JOB_ARTICLES_MULTISTREAM]["files"]
    del files[f"enwiki-{DATE}-pages-articles-multistream-index5.txt-p558392p958045.bz2"]
    with pytest.raises(PlanError, match=r"multistream5\.xml-p558392p958045\.bz2 has no multistream index"):
        plan_dump(
            parse_dumpstatus(json.dumps(data)), "enwiki", DATE, [JOB_ARTICLES_MULTISTREAM], "http://m", "/w"
        )


def test_job_not_done_names_the_wiki_the_job_and_its_status() -> None:
    data = json.loads(enwiki_dumpstatus())
    data["jobs"][JOB_PAGE_PROPS]["status"] = "in-progress"
    with pytest.raises(JobNotDoneError) as err:
        plan_dump(parse_dumpstatus(json.dumps(data)), "enwiki", DATE, [JOB_PAGE_PROPS], "http://m", "/w")
    assert "enwiki 20261101" in str(err.value) and "pagepropstable" in str(err.value)
    assert "'in-progress'" in str(err.value)


@pytest.mark.parametrize(
    "name",
    ["../../etc/passwd", "../enwiki-x.bz2", "/etc/passwd", "a/b.bz2", "a\\b.bz2", "..", ".", "", ".hidden",
     "enwiki-20261101-x..bz2", "enwiki 20261101.bz2", "enwiki\n.bz2", "~/x", "C:x"],
)  # fmt: skip
def test_unsafe_file_names_are_rejected(name: str) -> None:
    with pytest.raises(UnsafeNameError):
        check_file_name(name)


def test_hostile_dumpstatus_cannot_escape_workdir() -> None:
    jobs = {
        JOB_PAGE_PROPS: DumpJob(
            JOB_PAGE_PROPS,
            "done",
            (DumpFile("../../../../tmp/evil.sql.gz", 10, "http://evil.example/x", None, "0" * 40),),
        )
    }
    with pytest.raises(UnsafeNameError, match="evil"):
        plan_dump(
            parse_dumpstatus(dumpstatus_to_json(jobs)), "enwiki", DATE, [JOB_PAGE_PROPS], "http://m", "/w"
        )
    # A safe name of another dump is refused too, and the url field is never followed.
    jobs[JOB_PAGE_PROPS] = DumpJob(
        JOB_PAGE_PROPS, "done", (DumpFile("dewiki-20261101-page_props.sql.gz", 1, None, None, None),)
    )
    with pytest.raises(PlanError, match="does not belong"):
        plan_dump(
            parse_dumpstatus(dumpstatus_to_json(jobs)), "enwiki", DATE, [JOB_PAGE_PROPS], "http://m", "/w"
        )


def test_dates_from_mirror_index_pages() -> None:
    apache = (
        '<tr><td><a href="?C=N;O=D">Name</a></td></tr><tr><td><a href="/">Parent Directory</a></td></tr>'
        '<tr><td><a href="20260920/">20260920/</a></td></tr><tr><td><a href="20261101/">20261101/</a>'
        '<tr><td><a href="20261020/">20261020/</a></td></tr><a href="latest/">latest/</a>'
    )
    assert parse_dump_dates(apache) == ["20260920", "20261020", "20261101"]
    nginx = '<a href="../">../</a>\n<a href="20261120/">20261120/</a>  01-Dec-2026 08:10  -\n<a href=\'./20261101\'>x</a>'
    assert parse_dump_dates(nginx) == ["20261101", "20261120"]
    assert parse_dump_dates('<a href="enwiki-20261101-page_props.sql.gz">') == []


def test_retry_delay_backs_off_and_honours_retry_after() -> None:
    settings = RetrySettings(backoff_base_s=2.0, backoff_max_s=30.0, max_retry_after_s=100.0)
    assert [retry_delay(a, settings) for a in (1, 2, 3, 4, 5, 6)] == [2, 4, 8, 16, 30, 30]
    assert retry_delay(1, settings, "7") == 7
    assert retry_delay(3, settings, "1") == 8  # never shorter than our own backoff
    assert retry_delay(1, settings, "100000") == 100  # capped
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=50), usegmt=True)
    assert 40 <= retry_delay(1, settings, later) <= 50
    assert parse_retry_after("garbage") is None and parse_retry_after(None) is None


def test_resolve_latest_prefers_a_shared_date() -> None:
    done = {"en": {"20261020", "20261101"}, "de": {"20261020", "20261101", "20261120"}}
    listed = {"enwiki": ["20261020", "20261101", "20261120"], "dewiki": ["20261020", "20261101", "20261120"]}
    needs = {"enwiki": (JOB_PAGE_PROPS,), "dewiki": (JOB_PAGE_PROPS,)}

    def load(wiki: str, date: str) -> object:
        state = "done" if date in done[wiki[:2]] else "in-progress"
        return parse_dumpstatus(json.dumps({"jobs": {JOB_PAGE_PROPS: {"status": state, "files": {}}}}))

    choice = resolve_latest(needs, listed.__getitem__, load)
    assert choice.dates == {"enwiki": "20261101", "dewiki": "20261101"} and choice.shared
    assert choice.newest == {"enwiki": "20261101", "dewiki": "20261120"}
    # No date good for both: each takes its own newest.
    done["en"] = {"20261020"}
    done["de"] = {"20261101"}
    choice = resolve_latest(needs, listed.__getitem__, load)
    assert choice.dates == {"enwiki": "20261020", "dewiki": "20261101"} and not choice.shared
    done["en"] = set()
    with pytest.raises(PlanError, match="enwiki: no dump on the mirror has pagepropstable done"):
        resolve_latest(needs, listed.__getitem__, load)


def test_user_agent_names_the_project_and_the_contact() -> None:
    assert user_agent("ops@example.org").startswith("mluke-data/0.1.0 (+contact: ops@example.org)")
    assert "MLUKE_CONTACT" in user_agent(None)


# ----------------------------------------------------------------------------------------------
# One download against a real HTTP server


class Recorder(DownloadEvents):
    def __init__(self) -> None:
        self.retries: list[str] = []
        self.resumes: list[int] = []
        self.bytes = 0

    def on_bytes(self, n: int) -> None:
        self.bytes += n

    def on_retry(self, task: FileTask, reason: str, delay: float) -> None:
        self.retries.append(reason)

    def on_resume(self, task: FileTask, offset: int) -> None:
        self.resumes.append(offset)


@dataclass
class OneFile:
    server: MirrorServer
    task: FileTask
    data: bytes
    session: requests.Session

    @property
    def path(self) -> str:
        return f"/enwiki/{DATE}/{self.task.name}"

    @property
    def dest(self) -> Path:
        return Path(self.task.dest)

    def download(self, events: DownloadEvents | None = None) -> FetchResult:
        return download_file(self.task, self.session, FAST, events or Recorder())


@pytest.fixture
def one(mirror_server: MirrorServer, tmp_path: Path) -> Iterator[OneFile]:
    """One articles file on the mirror and its download task."""
    data = fake_bz2(7)
    name = f"enwiki-{DATE}-pages-articles-multistream.xml.bz2"
    folder = mirror_server.root / "enwiki" / DATE
    folder.mkdir(parents=True)
    (folder / name).write_bytes(data)
    task = FileTask(
        wiki="enwiki",
        date=DATE,
        job=JOB_ARTICLES_MULTISTREAM,
        name=name,
        url=f"{mirror_server.url}/enwiki/{DATE}/{name}",
        dest=str(tmp_path / "out" / "dumps" / "enwiki" / DATE / name),
        size=len(data),
        sha1=sha1(data),
    )
    with requests.Session() as session:
        session.headers["User-Agent"] = "test"
        yield OneFile(mirror_server, task, data, session)


def test_dropped_connection_resumes_with_range_and_verifies(one: OneFile) -> None:
    one.server.add_fault(one.path, "drop", after_bytes=len(one.data) // 3)
    events = Recorder()
    result = one.download(events)
    assert result.status == "downloaded" and result.verified == "sha1"
    assert one.dest.read_bytes() == one.data
    hits = one.server.hits_for(one.path)
    assert [h.fault for h in hits] == ["drop", None]
    assert hits[0].range is None and hits[1].range is not None
    offset = int(hits[1].range.removeprefix("bytes=").rstrip("-"))
    assert 0 < offset <= len(one.data) // 3 and events.resumes == [offset]
    assert leftovers(one.dest.parent) == []


def test_partial_download_of_an_earlier_run_is_resumed(one: OneFile) -> None:
    one.dest.parent.mkdir(parents=True)
    Path(chunk_path(one.task.dest, 0)).write_bytes(one.data[:10_000])
    result = one.download()
    assert result.status == "downloaded" and result.bytes == len(one.data) - 10_000
    assert [h.range for h in one.server.hits_for(one.path)] == ["bytes=10000-"]
    assert one.dest.read_bytes() == one.data and leftovers(one.dest.parent) == []


def test_server_ignoring_range_makes_the_file_start_over(one: OneFile) -> None:
    one.server.add_fault(one.path, "drop", after_bytes=len(one.data) // 2)
    one.server.add_fault(one.path, "norange")
    result = one.download()
    assert result.status == "downloaded" and one.dest.read_bytes() == one.data
    hits = one.server.hits_for(one.path)
    assert [h.fault for h in hits] == ["drop", "norange"] and hits[1].range is not None
    assert leftovers(one.dest.parent) == []


def test_503_with_retry_after_is_retried(one: OneFile) -> None:
    one.server.add_fault(one.path, "status", status=503, headers={"Retry-After": "1"})
    events = Recorder()
    assert one.download(events).status == "downloaded"
    assert len(events.retries) == 1 and "503" in events.retries[0]
    assert one.dest.read_bytes() == one.data


def test_slow_server_times_out_then_succeeds(one: OneFile) -> None:
    one.server.add_fault(one.path, "slow", delay=3.0)
    events = Recorder()
    assert one.download(events).status == "downloaded"
    assert len(one.server.hits_for(one.path)) == 2 and "Timeout" in events.retries[0]
    assert one.dest.read_bytes() == one.data


def test_corrupt_body_is_fetched_again_from_scratch(one: OneFile) -> None:
    one.server.add_fault(one.path, "corrupt")
    events = Recorder()
    assert one.download(events).status == "downloaded"
    assert [h.range for h in one.server.hits_for(one.path)] == [None, None]
    assert any("checksum mismatch" in r for r in events.retries)
    assert one.dest.read_bytes() == one.data


def test_corrupt_body_twice_fails_naming_the_file_and_leaves_nothing(one: OneFile) -> None:
    one.server.add_fault(one.path, "corrupt", times=-1)
    with pytest.raises(ChecksumError, match=f"{one.task.name} failed verification twice.*sha1"):
        one.download()
    assert len(one.server.hits_for(one.path)) == 2
    assert not one.dest.exists() and leftovers(one.dest.parent) == []


def test_404_says_the_date_is_gone(one: OneFile) -> None:
    one.server.add_fault(one.path, "status", status=404, times=-1)
    with pytest.raises(NotFoundError, match=r"gone from this mirror.*--dump-date latest or another --mirror"):
        one.download()
    assert len(one.server.hits_for(one.path)) == 1 and not one.dest.exists()


def test_persistent_5xx_gives_up_and_keeps_partial_data_for_later(one: OneFile) -> None:
    one.server.add_fault(one.path, "drop", after_bytes=5000)
    one.server.add_fault(one.path, "status", status=500, times=-1)
    with pytest.raises(FetchError, match=r"gave up after 4 attempts.*run the same command again"):
        one.download()
    assert not one.dest.exists()
    kept = leftovers(one.dest.parent)
    assert len(kept) == 1 and one.data.startswith(kept[0].read_bytes())


def test_present_file_is_verified_then_skipped_or_fetched_again(one: OneFile) -> None:
    one.dest.parent.mkdir(parents=True)
    one.dest.write_bytes(one.data)
    assert one.download().status == "skipped"
    assert one.server.hits_for(one.path) == []
    # Same size, wrong bytes: not trusted.
    one.dest.write_bytes(bytes(reversed(one.data)))
    assert one.download().status == "downloaded"
    assert one.dest.read_bytes() == one.data and len(one.server.hits_for(one.path)) == 1


# ----------------------------------------------------------------------------------------------
# The command (Beam pipeline on the FnApiRunner)


def invoke(server: MirrorServer, out: Path, *args: str) -> Result:
    return CliRunner().invoke(fetch_command, ["--mirror", server.url, "--out", str(out), *args])


def data_hits(server: MirrorServer) -> list[str]:
    return [
        h.path for h in server.hits if h.method == "GET" and not h.path.endswith(("/", "dumpstatus.json"))
    ]


def test_fetch_two_languages_with_faults_then_skip_on_rerun(
    mirror_server: MirrorServer, tmp_path: Path
) -> None:
    server = mirror_server
    for wiki, seed in (("enwiki", 1), ("zh_yuewiki", 2)):
        write_dump(
            server.root,
            wiki,
            DATE,
            standard_jobs(wiki, DATE, seed),
            extra_jobs={"metahistorybz2dump": "waiting"},
        )
    articles = f"/enwiki/{DATE}/enwiki-{DATE}-pages-articles-multistream.xml.bz2"
    props = f"/zh_yuewiki/{DATE}/zh_yuewiki-{DATE}-page_props.sql.gz"
    index = f"/zh_yuewiki/{DATE}/zh_yuewiki-{DATE}-pages-articles-multistream-index.txt.bz2"
    server.add_fault(articles, "drop", after_bytes=20_000)
    server.add_fault(props, "status", status=503, headers={"Retry-After": "1"})
    server.add_fault(index, "slow", delay=3.0)
    out = tmp_path / "work"

    result = invoke(
        server,
        out,
        "--langs",
        "en,zh-yue",
        "--dump-date",
        DATE,
        "--contact",
        "ops@example.org",
        "--workers",
        "2",
    )
    assert result.exit_code == 0, result.output
    for wiki in ("enwiki", "zh_yuewiki"):
        for name, data in {
            k: v
            for job in standard_jobs(wiki, DATE, 1 if wiki == "enwiki" else 2).values()
            for k, v in job.items()
        }.items():
            assert (out / "dumps" / wiki / DATE / name).read_bytes() == data
        local = parse_dumpstatus((out / "dumps" / wiki / DATE / "dumpstatus.json").read_text())
        assert sorted(local.jobs) == [JOB_ARTICLES_MULTISTREAM, JOB_PAGE_PROPS]  # what was fetched, only
    assert leftovers(out) == []
    assert "fetched 6 files" in result.output and "3 retries" in result.output
    assert "fetch: " in result.stderr  # periodic progress lines (not a terminal)
    resumed = [h for h in server.hits_for(articles) if h.range]
    assert len(resumed) == 1 and resumed[0].range.startswith("bytes=")  # type: ignore[union-attr]
    assert {h.user_agent for h in server.hits} == {user_agent("ops@example.org")}
    report = json.loads((out / "dumps" / "fetch-report.json").read_text())["files"]
    assert {f["status"] for f in report} == {"downloaded"} and len(report) == 6

    server.clear()
    again = invoke(server, out, "--langs", "zh-yue,en", "--dump-date", DATE, "--workers", "1")
    assert again.exit_code == 0, again.output
    assert "fetched 0 files" in again.output and "6 already present and verified" in again.output
    assert data_hits(server) == []


def test_dry_run_prints_the_plan_and_what_is_present(mirror_server: MirrorServer, tmp_path: Path) -> None:
    write_dump(mirror_server.root, "dewiki", DATE, standard_jobs("dewiki", DATE))
    out = tmp_path / "work"
    props = standard_jobs("dewiki", DATE)[JOB_PAGE_PROPS][f"dewiki-{DATE}-page_props.sql.gz"]
    (out / "dumps" / "dewiki" / DATE).mkdir(parents=True)
    (out / "dumps" / "dewiki" / DATE / f"dewiki-{DATE}-page_props.sql.gz").write_bytes(props)
    articles = f"dewiki-{DATE}-pages-articles-multistream.xml.bz2"
    Path(chunk_path(str(out / "dumps" / "dewiki" / DATE / articles), 0)).write_bytes(b"x" * 2048)

    result = invoke(mirror_server, out, "--langs", "de", "--dump-date", DATE, "--dry-run")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    line = next(x for x in lines if "page_props.sql.gz" in x and "present" in x)
    assert "dewiki 20261101 pagepropstable" in line
    assert any(articles in x and "partial, 2.0 KiB (will resume)" in x for x in lines)
    assert any("index.txt.bz2" in x and "to fetch" in x for x in lines)
    total = sum(len(d) for job in standard_jobs("dewiki", DATE).values() for d in job.values())
    assert f"plan: 3 files, {human_bytes(total)} in all; already present: 1 file," in result.stdout
    assert data_hits(mirror_server) == []
    assert "no contact in the User-Agent" in result.stderr


def test_latest_picks_the_newest_date_shared_by_all_languages(
    mirror_server: MirrorServer, tmp_path: Path
) -> None:
    root = mirror_server.root
    for date in ("20261001", DATE, "20261120"):
        write_dump(root, "dewiki", date, standard_jobs("dewiki", date))
    write_dump(root, "jawiki", "20261001", standard_jobs("jawiki", "20261001"))
    write_dump(root, "jawiki", DATE, standard_jobs("jawiki", DATE))
    write_dump(
        root,
        "jawiki",
        "20261120",
        standard_jobs("jawiki", "20261120"),
        status={JOB_ARTICLES_MULTISTREAM: "in-progress"},
    )

    result = invoke(mirror_server, tmp_path / "w", "--langs", "de,ja", "--dump-date", "latest", "--dry-run")
    assert result.exit_code == 0, result.output
    assert (
        "de: using dump 20261101 of dewiki (20261120 is newer, but 20261101 is the newest date good for all)"
        in result.output
    )
    assert "ja: using dump 20261101 of jawiki (the newest, and good for all)" in result.output
    assert f"dewiki-{DATE}-page_props.sql.gz" in result.output

    # Only page_props needed: jawiki's 20261120 is good too, so the newest shared date wins.
    result = invoke(
        mirror_server,
        tmp_path / "w",
        "--langs",
        "de,ja",
        "--dump-date",
        "latest",
        "--what",
        "pageprops",
        "--dry-run",
    )
    assert "ja: using dump 20261120 of jawiki" in result.output, result.output


def test_latest_without_an_index_page_reads_the_latest_rss(
    mirror_server: MirrorServer, tmp_path: Path
) -> None:
    write_dump(mirror_server.root, "fiwiki", DATE, standard_jobs("fiwiki", DATE))
    mirror_server.add_fault("/fiwiki/", "status", status=403, times=-1)
    latest = mirror_server.root / "fiwiki" / "latest"
    latest.mkdir()
    (latest / "fiwiki-latest-pages-articles-multistream.xml.bz2-rss.xml").write_text(
        '<?xml version="1.0"?>\n<rss version="2.0"><channel><title>Wikimedia Downloads</title>'
        "<link>https://dumps.wikimedia.org/fiwiki/latest</link><item>"
        "<title>fiwiki-latest-pages-articles-multistream.xml.bz2</title>"
        f"<link>https://dumps.wikimedia.org/fiwiki/{DATE}</link></item></channel></rss>\n"
    )
    result = invoke(mirror_server, tmp_path / "w", "--langs", "fi", "--dump-date", "latest", "--dry-run")
    assert result.exit_code == 0, result.output
    assert f"fi: using dump {DATE} of fiwiki" in result.output
    assert f"fiwiki-{DATE}-page_props.sql.gz" in result.output


def test_job_not_done_fails_before_anything_is_fetched(mirror_server: MirrorServer, tmp_path: Path) -> None:
    write_dump(mirror_server.root, "frwiki", DATE, standard_jobs("frwiki", DATE))
    write_dump(
        mirror_server.root,
        "itwiki",
        DATE,
        standard_jobs("itwiki", DATE),
        status={JOB_PAGE_PROPS: "in-progress"},
    )
    out = tmp_path / "w"
    result = invoke(mirror_server, out, "--langs", "fr,it", "--dump-date", DATE)
    assert result.exit_code == 2
    assert "itwiki 20261101: job pagepropstable is 'in-progress', not 'done'" in result.stderr
    assert "--dump-date latest" in result.stderr and "Traceback" not in result.output
    assert data_hits(mirror_server) == [] and not (out / "dumps").exists()


def test_gone_date_says_what_to_do(mirror_server: MirrorServer, tmp_path: Path) -> None:
    write_dump(mirror_server.root, "svwiki", "20261120", standard_jobs("svwiki", "20261120"))
    result = invoke(mirror_server, tmp_path / "w", "--langs", "sv", "--dump-date", "20250101")
    assert result.exit_code == 2
    assert "svwiki: no dump dated 20250101" in result.stderr and "HTTP 404" in result.stderr
    assert "use --dump-date latest or another --mirror" in result.stderr


def test_corrupt_file_fails_naming_it_and_other_files_still_arrive(
    mirror_server: MirrorServer, tmp_path: Path
) -> None:
    write_dump(mirror_server.root, "nlwiki", DATE, standard_jobs("nlwiki", DATE))
    bad = f"nlwiki-{DATE}-pages-articles-multistream-index.txt.bz2"
    mirror_server.add_fault(f"/nlwiki/{DATE}/{bad}", "corrupt", times=-1)
    out = tmp_path / "w"
    result = invoke(mirror_server, out, "--langs", "nl", "--dump-date", DATE, "--workers", "1")
    assert result.exit_code == 2
    assert f"1 of 3 files failed: {bad} failed verification twice" in result.stderr
    folder = out / "dumps" / "nlwiki" / DATE
    assert not (folder / bad).exists() and leftovers(out) == []
    assert (folder / f"nlwiki-{DATE}-page_props.sql.gz").exists()
    assert not (folder / "dumpstatus.json").exists()  # the dump is incomplete: not recorded


def test_hostile_file_name_is_refused(mirror_server: MirrorServer, tmp_path: Path) -> None:
    folder = mirror_server.root / "plwiki" / DATE
    folder.mkdir(parents=True)
    payload = b"owned"
    jobs = {
        JOB_ARTICLES_MULTISTREAM: DumpJob(JOB_ARTICLES_MULTISTREAM, "done", ()),
        JOB_PAGE_PROPS: DumpJob(
            JOB_PAGE_PROPS,
            "done",
            (DumpFile("../../../escaped.sql.gz", 5, "/plwiki/x", None, sha1(payload)),),
        ),
    }
    (folder / "dumpstatus.json").write_text(dumpstatus_to_json(jobs))
    out = tmp_path / "deep" / "w"
    result = invoke(mirror_server, out, "--langs", "pl", "--dump-date", DATE, "--what", "pageprops")
    assert result.exit_code == 2 and "refusing unsafe file name '../../../escaped.sql.gz'" in result.stderr
    assert not list(tmp_path.rglob("escaped*")) and data_hits(mirror_server) == []


def test_user_mistakes_are_one_line_errors(mirror_server: MirrorServer, tmp_path: Path) -> None:
    cases = [
        (["--langs", "en,xx", "--dump-date", DATE], "unknown Wikipedia language code 'xx'"),
        (["--langs", "en", "--dump-date", "2026-11-01"], "bad dump date '2026-11-01'"),
        (
            ["--langs", "en", "--dump-date", DATE, "--what", "articles,pictures"],
            "unknown --what value 'pictures'",
        ),
        (["--langs", "en", "--dump-date", DATE, "--conections", "3"], "unknown option --conections"),
    ]
    for args, message in cases:
        result = invoke(mirror_server, tmp_path / "w", *args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output


def test_unreachable_mirror(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = CliRunner().invoke(
        fetch_command,
        [
            "--langs",
            "en",
            "--dump-date",
            "latest",
            "--out",
            str(tmp_path),
            "--mirror",
            f"http://127.0.0.1:{port}",
        ],
    )
    assert result.exit_code == 2
    assert (
        f"cannot reach the mirror http://127.0.0.1:{port}" in result.stderr
        and "check --mirror" in result.stderr
    )


def test_wikidata_tables_and_entity_dump(mirror_server: MirrorServer, tmp_path: Path) -> None:
    root = mirror_server.root
    items = fake_gz(5)
    write_dump(
        root,
        "wikidatawiki",
        DATE,
        {JOB_ITEMS_PER_SITE: {f"wikidatawiki-{DATE}-wb_items_per_site.sql.gz": items}},
    )
    write_dump(root, "eswiki", DATE, standard_jobs("eswiki", DATE))
    old, new = fake_bz2(11, words=3000), fake_bz2(12, words=3000)
    for date, data, sums in (("20261030", old, "md5"), ("20261106", new, "sha1")):
        folder = root / "wikidatawiki" / "entities" / date
        folder.mkdir(parents=True)
        (folder / f"wikidata-{date}-all.json.bz2").write_bytes(data)
        digest = hashlib.new(sums, data).hexdigest()
        (folder / f"wikidata-{date}-{sums}sums.txt").write_text(
            f"{digest}  wikidata-{date}-all.json.bz2\n{'0' * len(digest)}  wikidata-{date}-lexemes.json.bz2\n"
        )
    out = tmp_path / "w"
    result = invoke(
        mirror_server,
        out,
        "--langs",
        "es",
        "--dump-date",
        DATE,
        "--what",
        "itemspersite,wikidata-json,pageprops",
        "--workers",
        "1",
    )
    assert result.exit_code == 0, result.output
    assert "wikidata-json: entity dump 20261030 (asked: 20261101)" in result.output
    assert (
        out / "dumps" / "wikidatawiki" / DATE / f"wikidatawiki-{DATE}-wb_items_per_site.sql.gz"
    ).read_bytes() == items
    assert (
        out / "dumps" / "wikidatawiki" / "entities" / "20261030" / "wikidata-20261030-all.json.bz2"
    ).read_bytes() == old
    assert (out / "dumps" / "eswiki" / DATE / f"eswiki-{DATE}-page_props.sql.gz").exists()
    assert not (
        out / "dumps" / "eswiki" / DATE / f"eswiki-{DATE}-pages-articles-multistream.xml.bz2"
    ).exists()
    assert "fetched 3 files" in result.output

    # latest: the newest entity dump; without a checksum file only its size can be checked.
    (root / "wikidatawiki" / "entities" / "20261106" / "wikidata-20261106-sha1sums.txt").unlink()
    result = invoke(
        mirror_server, out, "--langs", "es", "--dump-date", "latest", "--what", "wikidata-json", "--dry-run"
    )
    assert result.exit_code == 0, result.output
    assert "wikidata-json: entity dump 20261106" in result.output
    assert f"verified by its size ({len(new)} bytes, from Content-Length) only" in result.stderr


def test_bundled_sample_mirror_end_to_end(mirror_server: MirrorServer, tmp_path: Path) -> None:
    """The bundled sample, served as a mirror, fetched for two languages with --dump-date latest."""
    try:
        from pipeline.sample import SAMPLE_DATE, SAMPLE_LANGS, write_sample_mirror
    except ImportError:
        pytest.skip("pipeline.sample.write_sample_mirror is not available")
    langs = list(SAMPLE_LANGS[:2])
    try:
        write_sample_mirror(str(mirror_server.root), langs=langs)
    except NotImplementedError:
        pytest.skip("the bundled sample mirror is not written yet")
    out = tmp_path / "w"
    result = invoke(mirror_server, out, "--langs", ",".join(langs), "--dump-date", "latest", "--workers", "2")
    assert result.exit_code == 0, result.output
    for lang in langs:
        wiki = wiki_name(lang)
        assert f"{lang}: using dump {SAMPLE_DATE} of {wiki}" in result.output
        mirrored = mirror_server.root / wiki / SAMPLE_DATE
        status = parse_dumpstatus((mirrored / "dumpstatus.json").read_text(encoding="utf-8"))
        for job_name in (JOB_ARTICLES_MULTISTREAM, JOB_PAGE_PROPS):
            job = status.job(job_name)
            assert job is not None and job.files
            for f in job.files:
                assert (out / "dumps" / wiki / SAMPLE_DATE / f.name).read_bytes() == (
                    mirrored / f.name
                ).read_bytes()
    assert leftovers(out) == []
