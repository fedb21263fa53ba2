"""Hypothesis property tests, made to run the same examples when measured.

Left alone, a `@given` test draws its examples from a generator that
Hypothesis seeds from the operating system at each run, replays examples
saved in its database by earlier runs, and times itself: a deadline per
example and a health check for slow data generation, either of which can
fail a test that tracing slows down. Its count then changes every run. And
Hypothesis's engine, which draws the examples, does more or less work as
its caches on disk (`.hypothesis/`) and in the process are cold or warm:
the plugin counts the test's body over its examples, not the engine
(`BytecountPlugin._measure`).

With `bytecount_hypothesis = repeatable` (the default), a measured `@given`
test runs, for the length of that test only, with a copy of its own
settings that adds what Hypothesis offers for repeatable runs:
`derandomize=True` (examples from a seed derived from the test's code, as
Hypothesis's own option does), which also means `database=None`;
`deadline=None`; the `too_slow` health check suppressed. Hypothesis's
pytest plugin replaces a test's settings the same way, per test, for
parametrized tests; the original settings are put back when the test is
over, so an unmeasured test, or the next run without the plugin, is left as
it was.

A choice of the user's is kept: `@seed(...)` fixes the examples itself, so
its test stays repeatable; `--hypothesis-seed` and `derandomize=False` set
against a profile that turns it on keep their examples, and the test is
marked unstable with the reason. Hypothesis's default is already
`derandomize=False`, so writing it in `@settings` cannot be told from not
writing it.

Hypothesis is imported only where a test module already did.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Final

import pytest

INI_KEY: Final = "bytecount_hypothesis"
REPEATABLE: Final = "repeatable"
LEAVE: Final = "leave"
MODES: Final = (REPEATABLE, LEAVE)
#: Hypothesis's pytest plugin, as pytest names it (its entry point).
PYTEST_PLUGIN: Final = "hypothesispytest"


@dataclass
class Prepared:
    """What was done to one measured Hypothesis test, and how to undo it."""

    #: Why its count may still differ next run, or None.
    unstable: str | None = None
    #: Whether its examples are measured one by one (a `@given` test), or
    #: its whole call (a stateful test).
    by_example: bool = True
    #: The test function whose settings were replaced, and its own, to put back.
    _function: Any = None
    _settings: Any = None

    def undo(self) -> None:
        if self._function is not None:
            self._function._hypothesis_internal_use_settings = self._settings
            self._function = None


def _is_stateful_test(item: pytest.Item) -> bool:
    """A `RuleBasedStateMachine.TestCase`: a unittest test case whose test
    method Hypothesis defines."""
    function = getattr(item, "obj", None)
    return getattr(function, "__module__", None) == "hypothesis.stateful"


def _is_given_test(item: pytest.Item) -> bool:
    hypothesis = sys.modules.get("hypothesis")
    if hypothesis is None or not isinstance(item, pytest.Function):
        return False
    return bool(hypothesis.is_hypothesis_test(item.obj))


def prepare(item: pytest.Item, mode: str) -> Prepared | None:
    """Make the measured Hypothesis test `item` repeatable (or say why it is
    not); None for any other test."""
    if _is_stateful_test(item):
        return Prepared(
            unstable=(
                "a Hypothesis stateful test is counted whole, Hypothesis's engine "
                "included, whose work depends on its caches: its count is not made "
                "to repeat"
            ),
            by_example=False,
        )
    if not _is_given_test(item):
        return None
    if mode == LEAVE:
        return Prepared(
            unstable=(
                f"a Hypothesis test draws new examples each run ({INI_KEY} = {LEAVE}): "
                f"set {INI_KEY} = {REPEATABLE}"
            )
        )
    from hypothesis import HealthCheck, core, settings

    assert isinstance(item, pytest.Function)
    function = getattr(item.obj, "__func__", item.obj)
    own = function._hypothesis_internal_use_settings
    prepared = Prepared(_function=function, _settings=own)
    user_seed = getattr(function, "_hypothesis_internal_use_seed", None)
    forced = getattr(core, "global_force_seed", None)
    default = settings.default
    chose_random = not own.derandomize and default is not None and default.derandomize
    changes: dict[str, Any] = {
        "deadline": None,
        "suppress_health_check": [*own.suppress_health_check, HealthCheck.too_slow],
    }
    if user_seed is not None or own.derandomize:
        pass  # repeatable already: @seed(...) or derandomize=True
    elif forced is not None:
        prepared.unstable = (
            f"its examples come from --hypothesis-seed={forced}: the count repeats only "
            "with the same seed"
        )
    elif chose_random:
        prepared.unstable = (
            "its settings say derandomize=False, so Hypothesis draws new examples each run"
        )
    else:
        changes["derandomize"] = True
        changes["database"] = None
    function._hypothesis_internal_use_settings = settings(own, **changes)
    return prepared
