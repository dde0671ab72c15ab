"""Two Beam start-up costs, cut: importing pandas, and the state and timer specs of a DoFn.

``import_beam`` imports Apache Beam without pandas. Beam imports pandas (~0.5 s of CPU, in the CLI
and again in every worker) only to register type hints for pandas objects, and only if pandas is
importable; no stage of ours hands pandas objects to Beam. pandas stays importable afterwards.


``apache_beam.transforms.userstate.get_dofn_specs`` finds a DoFn's state and timer parameters by
inspecting the signature of every method the DoFn has (``dir(dofn)``: about 30, most of them
inherited from ``DoFn``), and Beam asks for them at every check: once or twice when a ParDo is
built, three times when the pipeline is translated, twice more when a worker builds the DoFn's
operation. For the vocab stage's graph that was about 680 calls and a third of the stage's time
on a small input.

The answer depends only on the default values of the DoFn's methods' parameters, which are fixed
when its class is defined, so it is remembered per DoFn object (weakly: a DoFn that is dropped is
forgotten). Callers get fresh sets, as from Beam. Everything else about the DoFn is Beam's.
"""

from __future__ import annotations

import functools
import sys
import weakref
from collections.abc import Callable
from typing import Any

_REMEMBERS = "_mluke_remembers_specs"


SpecsFinder = Callable[[Any], tuple[set[Any], set[Any]]]


def remembering(find_specs: SpecsFinder) -> SpecsFinder:
    """``find_specs`` (Beam's get_dofn_specs), asked once per DoFn object."""
    known: weakref.WeakKeyDictionary[Any, tuple[frozenset[Any], frozenset[Any]]] = weakref.WeakKeyDictionary()

    @functools.wraps(find_specs)
    def get_dofn_specs(dofn: Any) -> tuple[set[Any], set[Any]]:
        try:
            specs = known.get(dofn)
        except TypeError:  # not weakly referenceable or not hashable: ask every time
            return find_specs(dofn)
        if specs is None:
            state, timers = find_specs(dofn)
            specs = (frozenset(state), frozenset(timers))
            known[dofn] = specs
        return set(specs[0]), set(specs[1])

    setattr(get_dofn_specs, _REMEMBERS, True)
    return get_dofn_specs


def import_beam() -> None:
    """Import apache_beam, without pandas unless something imported pandas already (idempotent)."""
    if "apache_beam" in sys.modules or "pandas" in sys.modules:
        return
    sys.modules["pandas"] = None  # type: ignore[assignment]  # `import pandas` raises ImportError
    try:
        import apache_beam  # noqa: F401
    finally:
        del sys.modules["pandas"]


def remember_dofn_specs() -> None:
    """Make ``userstate.get_dofn_specs`` remember its answer per DoFn (idempotent)."""
    from apache_beam.transforms import userstate

    if not getattr(userstate.get_dofn_specs, _REMEMBERS, False):
        userstate.get_dofn_specs = remembering(userstate.get_dofn_specs)
