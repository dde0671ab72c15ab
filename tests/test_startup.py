"""The fixed cost of a stage: the parser child, the local worker count, and option views.

Beam-dependent modules are imported inside the tests: the parser child unpickles
``beam_loaded`` from this module, and must not pull in Beam through it.
"""

from __future__ import annotations

import subprocess
import sys

import pytest


def beam_loaded() -> bool:
    return "apache_beam" in sys.modules


def test_the_isolated_parser_child_starts_without_beam():
    from transforms.isolation import IsolatedFunction

    probe = IsolatedFunction(beam_loaded, timeout_s=60)
    try:
        assert probe() is False
        assert probe._process is not None
    finally:
        probe.close()


def test_the_parser_module_imports_no_beam():
    code = "import sys, transforms.page_parser; print('apache_beam' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_local_worker_count_keeps_small_jobs_in_process():
    from pipeline.options import MIN_BYTES_PER_WORKER, local_worker_count

    assert local_worker_count(0, cores=16) == 1
    assert local_worker_count(MIN_BYTES_PER_WORKER - 1, cores=16) == 1
    assert local_worker_count(3 * MIN_BYTES_PER_WORKER, cores=16) == 3
    assert local_worker_count(100 * MIN_BYTES_PER_WORKER, cores=16) == 16
    assert local_worker_count(None, cores=16) == 16


def test_pipeline_options_pick_the_worker_count_from_the_input():
    from apache_beam.options.pipeline_options import DirectOptions

    from pipeline.options import MIN_BYTES_PER_WORKER, pipeline_options

    small = pipeline_options([], input_bytes=1000).view_as(DirectOptions)
    assert (small.direct_num_workers, small.direct_running_mode) == (1, "in_memory")
    large = pipeline_options([], input_bytes=2 * MIN_BYTES_PER_WORKER).view_as(DirectOptions)
    assert large.direct_num_workers == min(2, __import__("os").cpu_count() or 1)
    # An explicit count wins over the input size, either spelling.
    assert pipeline_options([], workers=2, input_bytes=0).view_as(DirectOptions).direct_num_workers == 2
    given = pipeline_options(["--direct_num_workers=2"], input_bytes=0).view_as(DirectOptions)
    assert given.direct_num_workers == 2


def test_option_views_are_shared_and_live():
    from apache_beam.options.pipeline_options import DebugOptions, StandardOptions

    from pipeline.options import pipeline_options

    options = pipeline_options(["--experiments=a"])
    assert options.view_as(StandardOptions) is options.view_as(StandardOptions)
    options.view_as(DebugOptions).add_experiment("b")
    assert options.view_as(DebugOptions).experiments == ["a", "b"]
    assert options.get_all_options()["experiments"] == ["a", "b"]
    options.view_as(StandardOptions).runner = "DataflowRunner"
    assert options.get_all_options()["runner"] == "DataflowRunner"


def test_dofn_specs_are_found_once_per_dofn_and_stay_right():
    import apache_beam as beam
    from apache_beam.coders import VarIntCoder
    from apache_beam.transforms import userstate
    from apache_beam.transforms.userstate import BagStateSpec, TimerSpec, on_timer

    import pipeline.options  # installs the remembering get_dofn_specs
    from pipeline.beam_startup import remember_dofn_specs, remembering

    remember_dofn_specs()  # a second install keeps the first
    assert getattr(userstate.get_dofn_specs, "__wrapped__", None) is not None
    original = userstate.get_dofn_specs.__wrapped__

    bag = BagStateSpec("seen", VarIntCoder())
    timer = TimerSpec("flush", beam.TimeDomain.WATERMARK)
    seen_param, flush_param = beam.DoFn.StateParam(bag), beam.DoFn.TimerParam(timer)

    class Stateful(beam.DoFn):
        def process(self, element, seen=seen_param, flush=flush_param):
            yield element

        @on_timer(timer)
        def on_flush(self):
            yield 0

    class Plain(beam.DoFn):
        def process(self, element):
            yield element

    calls = []

    def counting(dofn):
        calls.append(dofn)
        return original(dofn)

    remembered = remembering(counting)
    plain = Plain()
    for _ in range(3):
        assert remembered(plain) == (set(), set())
    assert calls == [plain]
    for dofn in (Stateful(), Plain(), beam.Map(len).fn):
        assert userstate.get_dofn_specs(dofn) == original(dofn)
    stateful = Stateful()
    first = userstate.get_dofn_specs(stateful)
    assert first == ({bag}, {timer})
    first[0].clear()  # callers get their own sets
    assert userstate.get_dofn_specs(stateful) == ({bag}, {timer})
    assert userstate.is_stateful_dofn(stateful) and not userstate.is_stateful_dofn(Plain())
    # Beam's own checks still see the specs through the remembered answer: a stateful ParDo
    # on an unkeyed input is rejected, as before.
    with pytest.raises(ValueError, match="key-value pairs"), beam.Pipeline() as pipeline:
        _ = pipeline | beam.Create([1, 2]) | beam.ParDo(Stateful())


def test_the_cli_and_the_worker_import_beam_without_pandas_and_pandas_still_works():
    for module in ("pipeline.cli", "pipeline.beam_worker"):
        probe = (
            f"import sys; import {module}; "
            "assert 'apache_beam' in sys.modules and 'pandas' not in sys.modules, 'pandas loaded'; "
            "import pandas; assert pandas.DataFrame({'a': [1]}).shape == (1, 1); print('ok')"
        )
        result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
        assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]


def test_import_beam_leaves_an_earlier_pandas_alone():
    probe = (
        "import sys, pandas; from pipeline.beam_startup import import_beam; import_beam(); "
        "import apache_beam.typehints.pandas_type_compatibility; assert sys.modules['pandas'] is pandas; print('ok')"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]
