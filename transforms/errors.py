"""The one exception a pipeline's workers raise for a file problem the user must fix.

A bad input file (cut off, damaged) or an output place that cannot be written (disk full,
permissions) stops the job: the DoFn raises :class:`UnusableFileError` with a message that names
the file and what to do, and the command prints that message as one ``Error:`` line
(``pipeline.options``) instead of the runner's traceback.
"""

from __future__ import annotations


class UnusableFileError(Exception):
    """A file the job cannot use or write; the message names it and what to do."""


def write_failure(path: str, error: OSError) -> UnusableFileError:
    """The error for a failed write under the work directory (disk full, no permission, ...)."""
    return UnusableFileError(
        f"cannot write {path}: {error.strerror or error}; free some space (or fix the permissions) "
        "and run the same command again"
    )
