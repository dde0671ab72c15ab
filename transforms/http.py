"""HTTP to the mirror: retries with backoff, redirects kept on the mirror, and the launcher's client.

:func:`http_request` (small requests) and the streamed downloads of ``transforms/download.py``
share one policy, :class:`RetrySettings`: connection errors, timeouts, 408/425/429 and 5xx are
retried with exponential backoff, at least as long as a ``Retry-After`` asks. Redirects are
followed only within the mirror's own scheme and host. :class:`MirrorClient` is what the launcher
reads the plan with (listings, dumpstatus.json, HEAD for sizes).
"""

from __future__ import annotations

import dataclasses
import email.utils
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from schemas.dumps import DumpStatus
from transforms.fetch_plan import (
    FetchError,
    PlanError,
    dates_in_text,
    dumpstatus_url,
    parse_dump_dates,
    parse_status_document,
)

LAUNCHER_MAX_ATTEMPTS = 4  # plan requests give up sooner than downloads


def _version() -> str:
    try:
        return metadata.version("mluke-data")
    except metadata.PackageNotFoundError:
        return "0.1.0"


def user_agent(contact: str | None) -> str:
    """The User-Agent Wikimedia asks for: tool name, version and a way to reach its operator."""
    who = " ".join((contact or "").split()) or "unset; set --contact or MLUKE_CONTACT"
    return f"mluke-data/{_version()} (+contact: {who}) python-requests/{requests.__version__}"


class NotFoundError(FetchError):
    """HTTP 404/410: on Wikimedia mirrors this means the dump date has been deleted."""


class UnreachableError(FetchError):
    """Connection errors or timeouts until the retries ran out."""


class RedirectError(FetchError):
    """A redirect off the mirror's host, or too many redirects."""


class MirrorError(FetchError):
    """The launcher could not read from the mirror; the cause is the HTTP failure."""


# ----------------------------------------------------------------------------------------------
# Requests with retries


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
NETWORK_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


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


class Retryable(Exception):
    """A failure worth another attempt (a 5xx, a 429...), with the server's Retry-After."""

    def __init__(self, reason: str, retry_after: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def http_failure(resp: requests.Response, url: str) -> Exception:
    if resp.status_code in (404, 410):
        return NotFoundError(f"{url}: HTTP {resp.status_code}")
    if resp.status_code in RETRYABLE_STATUS or resp.status_code >= 500:
        return Retryable(f"HTTP {resp.status_code}", resp.headers.get("Retry-After"))
    return FetchError(f"{url}: HTTP {resp.status_code} {resp.reason}")


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
            failure = http_failure(resp, url)
            if not isinstance(failure, Retryable):
                raise failure
            reason, retry_after = failure.reason, failure.retry_after
        except NETWORK_ERRORS as err:
            reason, retry_after, network = short_error(err), None, True
        attempt += 1
        if attempt >= settings.max_attempts:
            error = UnreachableError if network else FetchError
            raise error(f"{url}: {reason} (gave up after {attempt} attempts)")
        if on_retry is not None:
            on_retry(reason)
        sleep(retry_delay(attempt, settings, retry_after))


def short_error(err: BaseException) -> str:
    text = str(err)
    for marker in ("Connection refused", "timed out", "Name or service not known", "IncompleteRead"):
        if marker in text:
            return f"{type(err).__name__} ({marker})"
    return f"{type(err).__name__}: {text[:200]}"


# ----------------------------------------------------------------------------------------------
# The launcher's reads from the mirror


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
        """The response, or None for 404/410; a MirrorError when the mirror cannot be reached."""
        try:
            return http_request(self.session, method, url, self.settings)
        except NotFoundError:
            return None
        except UnreachableError as err:
            raise MirrorError(
                f"cannot reach the mirror {self.mirror} ({err}); check --mirror and the network"
            ) from err
        except FetchError as err:
            raise MirrorError(f"the mirror {self.mirror} refused a request: {err}") from err

    def get_text(self, url: str) -> str | None:
        resp = self.request("GET", url)
        return None if resp is None else resp.text

    def list_dates(self, wiki: str) -> list[str]:
        """Dates of a wiki's dumps from the mirror's index page, or from ``latest/`` files."""
        listing = None
        try:
            listing = self.get_text(f"{self.mirror}/{wiki}/")
        except MirrorError as err:
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
            raise PlanError(
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
