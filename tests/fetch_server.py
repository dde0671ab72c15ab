"""A local dump mirror for tests: serves a directory tree over HTTP on 127.0.0.1, with faults.

Use it as a context manager or through the ``mirror_server`` pytest fixture (import the fixture
into a test module, or list this module in ``pytest_plugins``)::

    from fetch_server import MirrorServer, write_dump

    with MirrorServer(tmp_path / "mirror") as server:
        write_dump(server.root, "enwiki", "20261101", {...})
        server.add_fault("/enwiki/20261101/enwiki-20261101-page_props.sql.gz", "drop")
        ... fetch from server.url ...
        assert server.hits_for("/enwiki/20261101/enwiki-20261101-page_props.sql.gz")

Faults (each affects the next ``times`` matching requests, -1 for all of them):

- ``drop``: send the headers with the full Content-Length, then ``after_bytes`` bytes of the body
  (default: half), then close the connection.
- ``status``: answer ``status`` (default 503) with ``headers`` (e.g. Retry-After) and no file.
- ``corrupt``: serve the right number of bytes with some of them flipped.
- ``slow``: wait ``delay`` seconds before answering at all.
- ``norange``: ignore the Range header and send the whole file with 200, as some servers do.
- ``short``: ignore Range and answer 200 with only the first ``after_bytes`` bytes (with their
  Content-Length, or none at all when ``length`` is False: the body ends when the connection does).
- ``redirect``: answer ``status`` (use 302) with ``Location: location``.
- ``html``: answer 200 with an HTML error page instead of the file.
- ``endless``: answer 200 without Content-Length and send bytes until the client hangs up.

Directories are served as an index page with ``<a href="name/">`` links, like Apache or nginx
autoindex on a real mirror. GET and HEAD are supported, with single ``Range: bytes=N-[M]``.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import hashlib
import html
import random
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from schemas.dumps import (
    JOB_ARTICLES_MULTISTREAM,
    JOB_PAGE_PROPS,
    DumpFile,
    DumpJob,
    dumpstatus_to_json,
)


@dataclass
class Fault:
    path: str
    kind: str  # drop | status | corrupt | slow | norange | short | redirect | html | endless
    times: int = 1
    status: int = 503
    headers: dict[str, str] = field(default_factory=dict)
    after_bytes: int | None = None
    delay: float = 0.0
    methods: tuple[str, ...] = ("GET",)
    length: bool = True
    location: str = ""


@dataclass(frozen=True)
class Hit:
    """One request the server saw."""

    method: str
    path: str
    range: str | None
    user_agent: str | None
    fault: str | None


class MirrorServer:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.hits: list[Hit] = []
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle

    def start(self) -> MirrorServer:
        handler = type("Handler", (_Handler,), {"mirror": self})
        self._httpd = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="mirror", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> MirrorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    # -- faults and the request log

    def add_fault(self, path: str, kind: str, **kwargs: Any) -> Fault:
        fault = Fault(path=path, kind=kind, **kwargs)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self.hits.clear()

    def hits_for(self, path: str, method: str | None = "GET") -> list[Hit]:
        with self._lock:
            return [h for h in self.hits if h.path == path and (method is None or h.method == method)]

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.path == path and method in fault.methods and fault.times != 0:
                    if fault.times > 0:
                        fault.times -= 1
                    return fault
        return None

    def _record(self, hit: Hit) -> None:
        with self._lock:
            self.hits.append(hit)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that time out or hang up are part of the tests


class _Handler(BaseHTTPRequestHandler):
    mirror: MirrorServer
    server_version = "TestMirror/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _serve(self, body: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        fault = self.mirror._take_fault(self.command, path)
        self.mirror._record(
            Hit(
                method=self.command,
                path=path,
                range=self.headers.get("Range"),
                user_agent=self.headers.get("User-Agent"),
                fault=fault.kind if fault else None,
            )
        )
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.delay)
        if fault is not None and fault.kind == "status":
            self._send_simple(fault.status, f"injected {fault.status}\n".encode(), fault.headers, body)
            return
        if fault is not None and fault.kind == "redirect":
            self._send_simple(fault.status, b"", {"Location": fault.location}, body)
            return
        if fault is not None and fault.kind == "html":
            page = b"<!DOCTYPE html>\n<html><head><title>Error</title></head><body>Try later</body></html>\n"
            self._send_simple(200, page, {"Content-Type": "text/html"}, body)
            return
        if fault is not None and fault.kind == "endless":
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            self.close_connection = True
            block = b"BZh9" + bytes(65532)
            with contextlib.suppress(OSError):
                for _ in range(1 << 14):  # 1 GiB at most, in case a client never hangs up
                    self.wfile.write(block)
            return
        target = (self.mirror.root / path.lstrip("/")).resolve()
        root = self.mirror.root.resolve()
        if target != root and root not in target.parents:
            self._send_simple(403, b"forbidden\n", {}, body)
            return
        if target.is_dir():
            if not path.endswith("/"):
                self._send_simple(301, b"", {"Location": path + "/"}, body)
                return
            self._send_simple(200, _index_page(path, target), {"Content-Type": "text/html"}, body)
            return
        if not target.is_file():
            self._send_simple(404, b"not found\n", {}, body)
            return
        data = target.read_bytes()
        if fault is not None and fault.kind == "short":
            payload = data[: fault.after_bytes if fault.after_bytes is not None else len(data) // 2]
            self.send_response(200)
            if fault.length:
                self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.close_connection = True
            if body:
                self.wfile.write(payload)
            return
        self._send_file(data, body, fault)

    def _send_simple(self, status: int, data: bytes, headers: dict[str, str], body: bool) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)

    def _send_file(self, data: bytes, body: bool, fault: Fault | None) -> None:
        total = len(data)
        start, end = 0, total - 1
        status = 200
        requested = self.headers.get("Range")
        if requested and not (fault is not None and fault.kind == "norange"):
            match = re.fullmatch(r"bytes=(\d+)-(\d*)", requested.strip())
            if match:
                start = int(match[1])
                end = min(int(match[2]), total - 1) if match[2] else total - 1
                if start >= total:
                    self._send_simple(416, b"", {"Content-Range": f"bytes */{total}"}, body)
                    return
                status = 206
        payload = data[start : end + 1]
        if fault is not None and fault.kind == "corrupt":
            flipped = bytearray(payload)
            for i in range(0, len(flipped), max(1, len(flipped) // 7)):
                flipped[i] ^= 0xFF
            payload = bytes(flipped)
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Type", "application/octet-stream")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{total}")
        self.end_headers()
        if not body:
            return
        if fault is not None and fault.kind == "drop":
            cut = fault.after_bytes if fault.after_bytes is not None else len(payload) // 2
            self.wfile.write(payload[:cut])
            self.wfile.flush()
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(payload)


def _index_page(path: str, directory: Path) -> bytes:
    rows = []
    for entry in sorted(directory.iterdir()):
        name = entry.name + ("/" if entry.is_dir() else "")
        rows.append(f'<a href="{html.escape(name)}">{html.escape(name)}</a>')
    title = html.escape(path)
    page = (
        f"<html><head><title>Index of {title}</title></head><body><h1>Index of {title}</h1>"
        f'<pre><a href="../">../</a>\n' + "\n".join(rows) + "</pre></body></html>\n"
    )
    return page.encode("utf-8")


@pytest.fixture
def mirror_server(tmp_path: Path) -> Iterator[MirrorServer]:
    """A started MirrorServer over an empty ``tmp_path/mirror`` (fill it with write_dump)."""
    with MirrorServer(tmp_path / "mirror") as server:
        yield server


# ----------------------------------------------------------------------------------------------
# Writing mirror trees


def fake_bz2(seed: int, words: int = 30000) -> bytes:
    """A valid bz2 file of XML-ish text (random words, so it does not compress to nothing)."""
    rng = random.Random(seed)
    vocab = [
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
        for _ in range(500)
    ]
    text = " ".join(rng.choice(vocab) for _ in range(words))
    return bz2.compress(f"<mediawiki><page><text>{text}</text></page></mediawiki>\n".encode())


def fake_gz(seed: int, rows: int = 300) -> bytes:
    rng = random.Random(seed)
    values = ",".join(
        f"({rng.randint(1, 10**7)},'wikibase_item','Q{rng.randint(1, 10**8)}',NULL)" for _ in range(rows)
    )
    return gzip.compress(f"INSERT INTO `page_props` VALUES {values};\n".encode(), mtime=0)


def write_dump(
    root: Path,
    wiki: str,
    date: str,
    jobs: dict[str, dict[str, bytes]],
    status: dict[str, str] | None = None,
    extra_jobs: dict[str, str] | None = None,
    checksums: bool = True,
    sizes: bool = True,
) -> None:
    """Writes ``{root}/{wiki}/{date}/`` with the files and a matching dumpstatus.json.

    ``jobs`` maps job name -> {file name: bytes}; ``status`` overrides a job's status (default
    "done"); ``extra_jobs`` adds file-less jobs with a status (as real dumps have many).
    """
    folder = root / wiki / date
    folder.mkdir(parents=True, exist_ok=True)
    status = status or {}
    listed: dict[str, DumpJob] = {}
    for job_name, files in jobs.items():
        entries = []
        for name, data in files.items():
            (folder / name).write_bytes(data)
            entries.append(
                DumpFile(
                    name=name,
                    size=len(data) if sizes else None,
                    url=f"/{wiki}/{date}/{name}",
                    md5=hashlib.md5(data).hexdigest() if checksums else None,
                    sha1=hashlib.sha1(data).hexdigest() if checksums else None,
                )
            )
        listed[job_name] = DumpJob(name=job_name, status=status.get(job_name, "done"), files=tuple(entries))
    for job_name, job_status in (extra_jobs or {}).items():
        listed[job_name] = DumpJob(name=job_name, status=job_status, files=())
    (folder / "dumpstatus.json").write_text(dumpstatus_to_json(listed), encoding="utf-8")


def standard_jobs(wiki: str, date: str, seed: int = 0) -> dict[str, dict[str, bytes]]:
    """A small wiki's articles (single multistream file + index) and page_props."""
    return {
        JOB_ARTICLES_MULTISTREAM: {
            f"{wiki}-{date}-pages-articles-multistream.xml.bz2": fake_bz2(seed),
            f"{wiki}-{date}-pages-articles-multistream-index.txt.bz2": bz2.compress(
                "".join(f"{600 * i}:{i + 1}:Page {i}\n" for i in range(40)).encode()
            ),
        },
        JOB_PAGE_PROPS: {f"{wiki}-{date}-page_props.sql.gz": fake_gz(seed)},
    }
