"""Measuring a test's call: the spans around it, and what they must see.

The span is the call of the test function, or, for a Hypothesis `@given`
test, one span per example around the test's own body (the engine that
generates examples is not the code under test). With
`--bytecount-repeat=N`, the call is made N more times, measured alike, and
the test is marked unstable if the counts differ. A span that closes with
a count of 0 for code that should be counted means tracing silently failed:
that is reported, never recorded as a count.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import pytest

from .engine import CountingFailed, CountingUnavailable
from .measurement import Measurement
from .run import Run
from .state import TestState


class CallMeasurer:
    """Puts a run's spans around test calls."""

    def __init__(self, run: Run) -> None:
        self.run = run

    def measured(
        self, function: Callable[..., object], state: TestState, handle: Any
    ) -> Callable[..., object]:
        """`function` measured: the whole call, or, given the Hypothesis
        `handle` of a `@given` test, the examples it runs."""

        @functools.wraps(function)
        def measured_test_function(*args: object, **kwargs: object) -> object:
            taken: list[Measurement] = []
            try:
                result = self._measure(function, args, kwargs, state, taken, handle)
            finally:
                if state.problem is None and taken:
                    state.call_measurement = taken[0]
                    if handle is None:  # else checked per example
                        state.problem = self._check_reached(function, taken[0])
            if self.run.settings.repeat and state.problem is None:
                self._repeat_calls(function, args, kwargs, state, handle)
            return result

        return measured_test_function

    def _measure(
        self,
        function: Callable[..., object],
        args: tuple[object, ...],
        kwargs: dict[str, object],
        state: TestState,
        taken: list[Measurement],
        handle: Any,
    ) -> object:
        """Call the test once, measured, and add its measurement to `taken`
        (also when the test raises): the whole call, or, for a Hypothesis
        test (`handle`, its `.hypothesis`), the sum over its examples of the
        test's own body. Hypothesis's engine around them, which generates the
        examples, is not the code under test, and does more or less work as
        its caches on disk and in the process are cold or warm
        (`hypothesis_tests.py`)."""
        if handle is None:
            return self._in_span(function, args, kwargs, state, taken)
        inner = handle.inner_test
        examples: list[Measurement] = []
        measured_example: Callable[..., object]
        if inspect.iscoroutinefunction(inner):
            # An async test's body is a coroutine that pytest-asyncio runs
            # in its loop, for each example: the span is that run.
            @functools.wraps(inner)
            async def measured_example(*args: object, **kwargs: object) -> object:
                measurement = self._open_span(state)
                try:
                    return await inner(*args, **kwargs)
                finally:
                    self._keep(state, measurement, examples)

        else:

            @functools.wraps(inner)
            def measured_example(*args: object, **kwargs: object) -> object:
                return self._in_span(inner, args, kwargs, state, examples)

        # Hypothesis documents `inner_test` as the place for plugins to wrap
        # the test's body; functools.wraps keeps the digest its seeds and
        # database keys come from.
        handle.inner_test = measured_example
        try:
            return function(*args, **kwargs)
        finally:
            handle.inner_test = inner
            if state.problem is None:
                # No example at all: Hypothesis fails the test for that.
                for example in examples[:1]:
                    state.problem = self._check_reached(inner, example)
                taken.append(Measurement.total_of(examples))

    def _in_span(
        self,
        call: Callable[..., object],
        args: tuple[object, ...],
        kwargs: dict[str, object],
        state: TestState,
        taken: list[Measurement],
    ) -> object:
        """`call(*args, **kwargs)` in a span of its own, whose measurement is
        added to `taken` when it closes with a count (also when `call` raises)."""
        measurement = self._open_span(state)
        try:
            return call(*args, **kwargs)
        finally:
            self._keep(state, measurement, taken)

    def _keep(
        self, state: TestState, measurement: Measurement | None, taken: list[Measurement]
    ) -> None:
        """Close the span `_open_span` opened (None: it could not), adding
        its measurement to `taken` when it closed with a count."""
        if measurement is not None and self._close_span(state, measurement):
            taken.append(measurement)

    def _repeat_calls(
        self,
        function: Callable[..., object],
        args: tuple[object, ...],
        kwargs: dict[str, object],
        state: TestState,
        handle: Any,
    ) -> None:
        """--bytecount-repeat=N: the test called N more times, warm, each
        call measured as the first was; unstable if the N counts differ."""
        fixture = state.fixture
        kept = len(fixture.measurements) if fixture is not None else 0
        counts: list[int] = []
        try:
            for _ in range(self.run.settings.repeat):
                before = len(fixture.measurements) if fixture is not None else 0
                taken: list[Measurement] = []
                self._measure(function, args, kwargs, state, taken, handle)
                # A test measured with the fixture counts what its blocks measured.
                blocks = fixture.measurements[before:] if fixture is not None else ()
                if state.problem is not None or not (blocks or taken):
                    return
                counts.append(
                    sum(block.instructions for block in blocks) if blocks else taken[0].instructions
                )
        except (Exception, pytest.fail.Exception, pytest.skip.Exception) as exc:  # noqa: BLE001
            # Not the test's outcome, which its first call decided; not a
            # warning either, which -W error would turn into one.
            first_line = str(exc).partition("\n")[0]
            state.unrepeated = f"calling it again raised {type(exc).__name__}: {first_line}"
            return
        finally:
            if fixture is not None:
                fixture.forget_after(kept)
        first = counts[0]
        other = next((count for count in counts if count != first), None)
        if other is not None:
            state.unstable = (
                f"its count changed between two calls ({first:,} then {other:,} instructions, "
                f"--bytecount-repeat={self.run.settings.repeat})"
            )

    def _open_span(self, state: TestState) -> Measurement | None:
        try:
            return self.run.meter.begin(
                self.run.span_options,
                # The fixture's measurements replace the call's count: its
                # first span takes this one's place (counting.py).
                fallback=state.fixture is not None,
            )
        except (CountingUnavailable, CountingFailed) as exc:
            state.problem = str(exc)
            return None

    def _close_span(self, state: TestState, measurement: Measurement) -> bool:
        """Whether the span closed with a count; if not, `state.problem` says
        why, or it gave way to the fixture's spans."""
        if self.run.meter.dropped(measurement):
            self.run.meter.end(measurement)
            return False
        try:
            self.run.meter.end(measurement)
        except (CountingFailed, RuntimeError) as exc:
            self.run.meter.abort()
            state.problem = str(exc)
            return False
        return True

    def _check_reached(self, function: object, measurement: Measurement) -> str | None:
        """A Python function executes at least one instruction (its return):
        a count of 0 for one we should count means tracing silently failed."""
        module = getattr(function, "__module__", None) or ""
        if measurement.instructions or self.run.modules.excludes(module):
            return None
        return "no instruction of the test function was counted: tracing did not reach it"
