"""One-line messages for file-system failures and the process-tree helpers of pipeline.interrupt."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time

import pytest
from apache_beam.io.filesystem import BeamIOError

from pipeline.interrupt import descendants, kill_tree
from pipeline.options import UserError, check_min_languages, io_error_message


def test_os_errors_of_the_user_become_one_line():
    full = OSError(errno.ENOSPC, "No space left on device", "/data/out/pages/en/part-00001.parquet")
    assert io_error_message(full) == (
        "No space left on device: /data/out/pages/en/part-00001.parquet "
        "(the disk is full: free some space or choose another --out)"
    )
    denied = PermissionError(errno.EACCES, "Permission denied", "/srv/out")
    assert io_error_message(denied).startswith("Permission denied: /srv/out (choose a writable")
    # Wrapped by Beam's FileSystems ...
    wrapped = BeamIOError("Rename operation failed", {"/a.tmp": full})
    assert io_error_message(wrapped).startswith("No space left on device: /data/out/pages/en/")
    # ... chained ...
    try:
        try:
            raise full
        except OSError as error:
            raise RuntimeError("writing failed") from error
    except RuntimeError as chained:
        assert io_error_message(chained).startswith("No space left on device")
    # ... or carried out of a worker process as text.
    remote = RuntimeError(
        "Traceback (most recent call last):\n  File ...\nOSError: [Errno 28] No space left on device: "
        "'/data/out/shards/.parts/en/part-00003.arrow' [while running 'BuildShards/ExamplesPerFile']"
    )
    assert io_error_message(remote) == (
        "No space left on device: /data/out/shards/.parts/en/part-00003.arrow "
        "(the disk is full: free some space or choose another --out)"
    )


def test_other_errors_keep_their_traceback():
    assert io_error_message(ValueError("bad value")) is None
    assert io_error_message(OSError(errno.ECONNRESET, "Connection reset by peer")) is None
    assert io_error_message(RuntimeError("KeyError: 'title' [while running 'Extract']")) is None


def test_min_languages_message_names_the_flag():
    check_min_languages(["en", "de", "ja"], 3)
    with pytest.raises(UserError) as error:
        check_min_languages(["en", "de"], 3)
    message = error.value.format_message()
    assert "--min-languages 3" in message and "this build has 2 (en,de)" in message
    assert "pass --min-languages 2" in message


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] in ("Z", "X")
    except OSError:
        return True


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc")
def test_descendants_and_kill_tree():
    """A child that starts a grandchild: both are below us; kill_tree(child) kills the grandchild."""
    sleeper = "import time; time.sleep(600)"
    script = f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {sleeper!r}]); time.sleep(600)"
    child = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 120
        while not descendants(child.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        below_child = descendants(child.pid)
        assert len(below_child) == 1
        assert {child.pid, *below_child} <= set(descendants(os.getpid()))
        kill_tree(child.pid)
        deadline = time.monotonic() + 60
        while not _gone(below_child[0]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _gone(below_child[0]) and child.poll() is None  # the child itself is left alone
    finally:
        child.kill()
        child.wait()


def test_run_interruptibly_returns_and_raises_like_the_call():
    from pipeline.interrupt import run_interruptibly

    assert run_interruptibly(sorted, [3, 1, 2]) == [1, 2, 3]
    with pytest.raises(ZeroDivisionError):
        run_interruptibly(divmod, 1, 0)
