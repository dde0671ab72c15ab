"""Beam pipeline options shared by every stage's command.

Every stage command accepts the Beam flags it does not know itself (``--runner DataflowRunner
--project ... --region ... --temp_location gs://...``, Flink and Spark flags) and hands them to
Beam. Without ``--runner`` a local run uses the FnApiRunner in multi-processing mode on all cores.
"""

from __future__ import annotations

import argparse
import difflib
import errno
import functools
import logging
import os
import re
import sys
import weakref
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import apache_beam as beam
import click
from apache_beam.options.pipeline_options import (
    DebugOptions,
    DirectOptions,
    PipelineOptions,
    StandardOptions,
    TestOptions,
)
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.transforms import environments

from pipeline.beam_startup import remember_dofn_specs
from pipeline.run_metrics import RunMetricsOptions, has_run_metrics, write_run_metrics

remember_dofn_specs()

LOCAL_RUNNER = "FnApiRunner"


class UserError(click.ClickException):
    """A mistake the user can fix (bad flag, missing file): printed as one line, exit code 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"Error: {self.format_message()}", err=True, file=file)


# What `--source` names, in `build` and in `extract` alike: Wikipedia dumps (build fetches them
# from --mirror into WORKDIR/dumps, extract reads WORKDIR/dumps), or the bundled offline sample
# (written into WORKDIR/dumps first).
SOURCE_DUMPS = "dumps"
SOURCE_SAMPLE = "sample"
# Earlier spellings still accepted: `build --source mirror`.
_SOURCE_ALIASES = {"mirror": SOURCE_DUMPS}


class _SourceChoice(click.Choice):
    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        return super().convert(_SOURCE_ALIASES.get(value, value), param, ctx)


def source_option(help: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--source dumps|sample`` (default dumps), one meaning for every command that takes it."""
    return click.option(
        "--source",
        type=_SourceChoice([SOURCE_DUMPS, SOURCE_SAMPLE]),
        default=SOURCE_DUMPS,
        show_default=True,
        help=help,
    )


def check_min_languages(langs: Sequence[str], min_languages: int) -> None:
    """A vocabulary needs entities linked in --min-languages languages: refuse a build with fewer."""
    if len(langs) >= min_languages:
        return
    count = len(langs)
    names = ",".join(langs) or "none"
    raise UserError(
        f"--min-languages {min_languages} keeps only entities linked in at least {min_languages} "
        f"languages, but this build has {count} ({names}), so the vocabulary and the shards would be "
        f"empty: pass --min-languages {max(count, 1)} (or more --langs)"
    )


_USER_ERRNOS = {
    errno.EACCES: "choose a writable location or fix its permissions",
    errno.EPERM: "choose a writable location or fix its permissions",
    errno.EROFS: "the file system is read-only: choose another location",
    errno.ENOSPC: "the disk is full: free some space or choose another --out",
    errno.EDQUOT: "the disk quota is exceeded: free some space or choose another --out",
    errno.ENOENT: "check the path",
    errno.ENOTDIR: "a part of the path is a file, not a folder: check the path",
    errno.EISDIR: "the path is a folder, a file was expected: check the path",
}
# How an OSError reads after Beam carried it out of a worker as text.
_ERRNO_TEXT = re.compile(r"\[Errno (\d+)\] ([^:\n\]]+)(?::\s*'([^'\n]+)')?")


def io_error_message(error: BaseException) -> str | None:
    """One line for a file-system failure the user can fix (permissions, full disk, missing path),
    raised here or in a Beam worker; None for anything else (a bug, which keeps its traceback)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _USER_ERRNOS:
            path = current.filename or ""
            where = f": {path}" if path else ""
            return f"{current.strerror or os.strerror(current.errno)}{where} ({_USER_ERRNOS[current.errno]})"
        details = getattr(current, "exception_details", None)  # BeamIOError: {path: exception}
        if isinstance(details, dict):
            for inner in details.values():
                if isinstance(inner, BaseException):
                    message = io_error_message(inner)
                    if message:
                        return message
        current = current.__cause__ or current.__context__
    match = _ERRNO_TEXT.search(str(error))
    if match and int(match.group(1)) in _USER_ERRNOS:
        code = int(match.group(1))
        where = f": {match.group(3)}" if match.group(3) else ""
        return f"{match.group(2).strip()}{where} ({_USER_ERRNOS[code]})"
    return None


def check_writable(out: str) -> None:
    """Fail at once, in one line, when a local --out cannot be created or written."""
    if "://" in out:
        return
    probe = os.path.join(out, ".write-test")
    try:
        os.makedirs(out, exist_ok=True)
        with open(probe, "wb") as handle:
            handle.write(b"x")
        os.remove(probe)
    except OSError as error:
        reason = error.strerror or str(error)
        raise UserError(
            f"cannot write to --out {out}: {reason} ({_USER_ERRNOS.get(error.errno, 'check the path')})"
        ) from error


def parse_langs_option(value: str | None) -> list[str] | None:
    """``--langs`` text -> language codes (None when not given); UserError naming a bad code."""
    from transforms.languages import parse_language_list

    if not value:
        return None
    try:
        return parse_language_list(value)
    except ValueError as error:
        raise UserError(f"--langs: {error}") from error


def _all_option_classes() -> list[type[PipelineOptions]]:
    found: list[type[PipelineOptions]] = []
    pending = list(PipelineOptions.__subclasses__())
    while pending:
        cls = pending.pop()
        if cls not in found:
            found.append(cls)
            pending.extend(cls.__subclasses__())
    return found


def check_beam_args(args: Sequence[str], ctx: click.Context | None = None) -> None:
    """Reject flags that neither the command nor any Beam options class knows (typos)."""
    parser = argparse.ArgumentParser(allow_abbrev=False, add_help=False)
    for cls in _all_option_classes():
        try:
            cls._add_argparse_args(parser)  # type: ignore[attr-defined]
        except argparse.ArgumentError:
            continue  # an option declared by two classes
    _, unknown = parser.parse_known_args(list(args))
    flags = [arg.split("=", 1)[0] for arg in unknown if arg.startswith("-")]
    positionals = [arg for arg in unknown if not arg.startswith("-")]
    if flags:
        known = [p.opts[0] for p in ctx.command.params if getattr(p, "opts", None)] if ctx else []
        hint = difflib.get_close_matches(flags[0], known, n=1)
        suggestion = f" (did you mean {hint[0]}?)" if hint else ""
        raise UserError(f"unknown option {flags[0]}{suggestion}; see --help")
    if positionals:
        raise UserError(f"unexpected argument {positionals[0]!r}; see --help")


def _flag_names(args: Sequence[str]) -> set[str]:
    return {arg.split("=", 1)[0].lstrip("-").replace("-", "_") for arg in args if arg.startswith("--")}


PipelineOptionsT = TypeVar("PipelineOptionsT", bound=PipelineOptions)
_VIEWS: weakref.WeakKeyDictionary[PipelineOptions, dict[type, PipelineOptions]] = weakref.WeakKeyDictionary()


class StageOptions(PipelineOptions):
    """PipelineOptions whose views are built once per options class.

    Beam asks the pipeline's options for a view (``view_as``) several times for every transform
    it applies, and each new view parses every flag again (~1 ms): about a second for a stage of
    a few hundred transforms. A view reads and writes the shared option values, so one per class
    behaves the same as a new one each time.
    """

    def view_as(self, cls: type[PipelineOptionsT]) -> PipelineOptionsT:
        views = _VIEWS.setdefault(self, {})
        view = views.get(cls)
        if view is None:
            view = views[cls] = super().view_as(cls)
        return view  # type: ignore[return-value]


# A local worker process takes about 2 s and 2 CPU-seconds to start (a fresh interpreter importing
# Beam and the stage's modules): each one must have more input than this to be worth it.
MIN_BYTES_PER_WORKER = 4 * 1024 * 1024


def local_worker_count(input_bytes: int | None, cores: int | None = None) -> int:
    """Local workers for a stage reading ``input_bytes``: all cores, but at least
    ``MIN_BYTES_PER_WORKER`` of input each, so a small job runs in-process (None: all cores)."""
    cores = cores or os.cpu_count() or 1
    if input_bytes is None:
        return cores
    return max(1, min(cores, input_bytes // MIN_BYTES_PER_WORKER))


def pipeline_options(
    beam_args: Sequence[str], workers: int | None = None, input_bytes: int | None = None
) -> PipelineOptions:
    """PipelineOptions from pass-through Beam flags, with our local defaults filled in.

    Without ``--workers`` (or ``--direct_num_workers``) a local run uses
    ``local_worker_count(input_bytes)`` processes; one worker runs in-process.
    """
    args = list(beam_args)
    given = _flag_names(args)
    if "runner" not in given:
        args.append(f"--runner={LOCAL_RUNNER}")
    options = StageOptions(args)
    runner = options.view_as(StandardOptions).runner or LOCAL_RUNNER
    if runner in (LOCAL_RUNNER, "DirectRunner", "BundleBasedDirectRunner"):
        direct = options.view_as(DirectOptions)
        if workers is not None:
            direct.direct_num_workers = workers
        elif "direct_num_workers" not in given:
            direct.direct_num_workers = local_worker_count(input_bytes)
        if "direct_running_mode" not in given:
            direct.direct_running_mode = "multi_processing" if direct.direct_num_workers != 1 else "in_memory"
    return options


class _Pipeline(beam.Pipeline):
    """A Pipeline that, on a Dataflow ``--dry_run``, writes the translated job to
    ``--dataflow_job_file`` (Beam skips that file when it submits nothing), so the job a stage
    would launch can be inspected offline."""

    def run(self, test_runner_api: Any = "AUTO") -> Any:
        try:
            result = super().run(test_runner_api)
        except Exception as error:
            message = file_error_message(error)
            if message is None:
                raise
            raise UserError(message) from None
        metrics_json = self._options.view_as(RunMetricsOptions).run_metrics_json
        if metrics_json and has_run_metrics(result):
            write_run_metrics(result, self, metrics_json)
        job = getattr(result, "job", None)
        job_file = self._options.view_as(DebugOptions).dataflow_job_file
        if job is not None and job_file and self._options.view_as(TestOptions).dry_run:
            from apache_beam.io.filesystems import FileSystems
            from google.protobuf import json_format

            with FileSystems.create(job_file) as handle:
                handle.write(json_format.MessageToJson(job.proto_pipeline).encode())
        return result


_FILE_ERROR = re.compile(r"UnusableFileError: (.+)")


def file_error_message(error: BaseException) -> str | None:
    """The message of an ``UnusableFileError`` (transforms.errors) raised in a worker, or None.

    Runners wrap a worker's exception differently: in-process ones re-raise it (message extended
    with the step name), others raise a RuntimeError that holds the worker's traceback as text.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if type(current).__name__ == "UnusableFileError":
            return str(current).split(" [while running", 1)[0].strip()
        current = current.__cause__ or current.__context__
    found = _FILE_ERROR.findall(str(error))
    return found[-1].split(" [while running", 1)[0].strip() if found else None


def create_pipeline(options: PipelineOptions) -> beam.Pipeline:
    """A Pipeline; local multi-process runs use our quiet worker entry point (pipeline.beam_worker)."""
    direct = options.view_as(DirectOptions)
    runner = options.view_as(StandardOptions).runner or LOCAL_RUNNER
    if runner == LOCAL_RUNNER and direct.direct_running_mode == "multi_processing":
        environment = environments.SubprocessSDKEnvironment.from_command_string(
            f"{sys.executable} -m pipeline.beam_worker"
        )
        # "in_memory" keeps FnApiRunner from replacing our environment; the worker count stays.
        direct.direct_running_mode = "in_memory"
        logging.getLogger("apache_beam.runners.portability.fn_api_runner.fn_runner").setLevel(logging.ERROR)
        return _Pipeline(runner=FnApiRunner(default_environment=environment), options=options)
    return _Pipeline(options=options)


def is_dry_run(beam_args: Sequence[str]) -> bool:
    """True for ``--dry_run`` (DataflowRunner: build and translate the job, submit nothing)."""
    options = PipelineOptions(list(beam_args))
    return bool(options.get_all_options(retain_unknown_options=True).get("dry_run"))


def is_local_runner(options: PipelineOptions) -> bool:
    runner = options.view_as(StandardOptions).runner or LOCAL_RUNNER
    return runner in (LOCAL_RUNNER, "DirectRunner", "BundleBasedDirectRunner", "PrismRunner")


BEAM_COMMAND_SETTINGS = {"ignore_unknown_options": True, "allow_extra_args": True}

BEAM_EPILOG = (
    "Any other --flag is passed to Apache Beam, e.g. --runner DataflowRunner --project P "
    "--region R --temp_location gs://B/tmp --sdk_container_image IMAGE. Without --runner the job "
    "runs locally on the FnApiRunner with one worker process per core, fewer for a small input "
    "(each worker needs 4 MiB to be worth its start-up; a small job runs in-process)."
)


def beam_options(
    command: Callable[..., Any] | None = None,
    *,
    workers_help: str = (
        "Local worker processes (default: all cores, each with at least 4 MiB of input; a smaller "
        "job runs in-process). Ignored by remote runners."
    ),
) -> Any:
    """Adds ``--workers`` and collects unknown flags into ``beam_args`` for a click command.

    Use as ``@beam_options`` or ``@beam_options(workers_help="...")``.
    """
    if command is None:
        return functools.partial(beam_options, workers_help=workers_help)

    @click.option(
        "--workers",
        type=click.IntRange(min=1),
        default=None,
        help=workers_help,
    )
    @click.pass_context
    @functools.wraps(command)
    def wrapper(ctx: click.Context, *args: Any, workers: int | None, **kwargs: Any) -> Any:
        extra = list(ctx.args)
        check_beam_args(extra, ctx)
        kwargs["beam_args"] = extra
        kwargs["workers"] = workers
        return command(*args, **kwargs)

    return wrapper
