"""The per-test protocol: what is known of a test from its set-up to its
report, where its span goes, and the `bytecount` fixture each test gets.

Set-up finds the test's limit and prepares it (a seeded `random`, a
Hypothesis test's examples made repeatable); the call hook puts the span
around exactly the test function (`call_spans.py` measures it); teardown
puts back what set-up changed. The state lives in the item's stash until
the test's report is made (`reporting.py`).
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Generator
from typing import Any

import pytest

from . import hypothesis_tests
from .call_spans import CallMeasurer
from .complexity_marker import case_of
from .determinism import seed_random
from .fixture import Bytecount
from .run import FIXTURE, Run
from .state import HYPOTHESIS_KEY, TEST_STATE_KEY, TestState


class TestRunner:
    """Runs the per-test protocol for one run."""

    __test__ = False

    def __init__(self, run: Run) -> None:
        self.run = run
        self.calls = CallMeasurer(run)

    def setup_test(self, item: pytest.Item) -> None:
        run = self.run
        limit = run.limit_for(item)
        case = case_of(item)
        state = item.stash[TEST_STATE_KEY] = TestState(
            limit=limit,
            measure_call=limit is not None or case is not None or run.settings.measure_all,
            case=case,
        )
        measured = state.measure_call or FIXTURE in getattr(item, "fixturenames", ())
        if run.seeds_random and measured:
            # Before any fixture runs, as pytest-randomly does: fixtures'
            # random data is part of the work the test then measures.
            seed_random(item.nodeid)
        if measured and not run.settings.disabled:
            prepared = hypothesis_tests.prepare(item, run.settings.hypothesis)
            if prepared is not None:
                state.hypothesis = item.stash[HYPOTHESIS_KEY] = prepared

    def setup_late(self, item: pytest.Item) -> None:
        """Set up a test whose fixture was asked for by getfixturevalue(),
        unseen at collection: its call (which may be running) has no span of
        ours, but its measurements are reported."""
        self.setup_test(item)
        item.stash[TEST_STATE_KEY].call_done = True
        if self.run.seeds_random:
            seed_random(item.nodeid)  # as early as can be: now

    def teardown_test(self, item: pytest.Item) -> None:
        prepared = item.stash.get(HYPOTHESIS_KEY, None)
        if prepared is not None:
            del item.stash[HYPOTHESIS_KEY]
            prepared.undo()

    def check_counting(self, item: pytest.Item) -> None:
        """Fail a test that asked for a count the run cannot give; warn
        (once) and leave a test measured only by `--bytecount` uncounted."""
        state = item.stash.get(TEST_STATE_KEY, None)
        if state is None or not (state.measure_call or state.strict):
            return
        reason = self.run.unavailable_reason()
        if reason is None:
            return
        if state.strict:
            pytest.fail(f"pytest-bytecount cannot count here: {reason}", pytrace=False)
        state.measure_call = False
        self.run.warn_once(reason)

    def call_test(self, item: pytest.Item) -> Generator[None, None, None]:
        state = item.stash.get(TEST_STATE_KEY, None)
        if state is None:
            return (yield)
        try:
            return (yield from self._measure_call(item, state))
        finally:
            state.call_done = True

    def _measure_call(self, item: pytest.Item, state: TestState) -> Generator[None, None, None]:
        if not state.measure_call:
            return (yield)
        function = _plain_test_function(item)
        if function is None:
            # Doctests and custom items: the span is the item's runtest(),
            # not the other plugins' pytest_runtest_call around it.
            runtest = item.runtest
            # pytest-asyncio runs an async `@given` test this way: its
            # examples are still measured one by one.
            handle = _examples_of(getattr(item, "obj", None), state)
            item.runtest = self.calls.measured(runtest, state, handle)  # type: ignore[method-assign,assignment]
            try:
                return (yield)
            finally:
                del item.runtest
        # The span is exactly the call of the test function: not what pytest
        # runs around it, even standard-library helpers it calls.
        assert isinstance(item, pytest.Function)
        item.obj = self.calls.measured(function, state, _examples_of(function, state))
        try:
            return (yield)
        finally:
            item.obj = function

    def fixture_for(self, item: pytest.Item) -> Bytecount:
        """The test's `bytecount` fixture, whose measurements it records."""
        run = self.run
        fixture = Bytecount(
            run.meter,
            run.span_options,
            disabled=run.settings.disabled,
            root=str(run.config.rootpath),
        )
        state = item.stash.get(TEST_STATE_KEY, None)
        if state is not None:
            state.fixture = fixture
        return fixture


def _examples_of(function: object, state: TestState) -> Any:
    """The Hypothesis handle of a `@given` test, whose examples are measured
    one by one; None for other tests."""
    if state.hypothesis is None or not state.hypothesis.by_example:
        return None
    return getattr(function, "hypothesis", None)


def _plain_test_function(item: pytest.Item) -> Callable[..., object] | None:
    """The synchronous test function pytest will call through `item.obj`, if any.

    Plain test functions are called through `pytest_pyfunc_call`; for unittest
    TestCase methods, pytest sets `item.obj` on the test case before unittest
    calls it. Either way, replacing `item.obj` measures exactly the test
    method: not setUp/tearDown, not the runner.
    """
    if not isinstance(item, pytest.Function):
        return None
    plain = type(item).runtest is pytest.Function.runtest
    # A TestCase exists only where unittest was imported: no import here.
    unittest = sys.modules.get("unittest")
    test_case = unittest is not None and isinstance(
        getattr(item, "instance", None), unittest.TestCase
    )
    if not plain and not test_case:
        return None
    function = item.obj
    if inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function):
        return None
    return function if callable(function) else None
