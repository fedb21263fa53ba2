"""The `bytecount` fixture's object: measure blocks and calls inside a test."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from types import TracebackType
from typing import Any, ParamSpec, TypeVar, final

import pytest

from .complexity import Fit, check_sizes, fit, not_counted
from .counting import Meter, SpanOptions
from .engine import CountingFailed, CountingUnavailable
from .measurement import Measurement

P = ParamSpec("P")
R = TypeVar("R")


@final
class Bytecount:
    """Measures blocks (`measure()`) and calls (`bytecount(fn, ...)`) in a test.

    A test that measured with it records the sum of its measurements; nested
    ones are part of their outer measurement and are not added twice.
    """

    __slots__ = (
        "_depth",
        "_disabled",
        "_measurements",
        "_meter",
        "_options",
        "_root",
        "problem",
    )

    def __init__(
        self,
        meter: Meter,
        options: SpanOptions,
        *,
        disabled: bool,
        root: str | None = None,
    ) -> None:
        self._meter = meter
        self._root = root  # files in folded() are shown relative to it
        # The run's: its `stacks` records call paths for every measurement
        # (--bytecount-profile, -html, -explain).
        self._options = options
        self._disabled = disabled
        self._depth = 0
        self._measurements: list[Measurement] = []
        #: Why counting failed in a measurement an exception left, if it did.
        self.problem: str | None = None

    def measure(self, *, stacks: bool = False) -> _Block:
        """A context manager measuring its block; yields a `Measurement`.
        `stacks=True` records call paths (`Measurement.folded()`)."""
        return _Block(self, stacks=stacks)

    def __call__(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Call `fn(*args, **kwargs)`, measuring exactly that call, and return its result."""
        if self._disabled:
            self._record(Measurement.disabled())
            return fn(*args, **kwargs)
        measurement = self._begin()
        self._depth += 1
        try:
            result = fn(*args, **kwargs)
        except BaseException:
            self._end(measurement, failing=True)
            raise
        self._end(measurement)
        return result

    def warm(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Call `fn` once unmeasured (caches, lazy imports), then measure a second call."""
        fn(*args, **kwargs)
        return self(fn, *args, **kwargs)

    def complexity(
        self,
        fn: Callable[[Any], object],
        sizes: Sequence[int],
        setup: Callable[[int], Any] | None = None,
    ) -> Fit:
        """Measure `fn(setup(n))` (`fn(n)` without `setup`) at each size, and
        fit the counts to the simplest growth class that explains them.
        `setup` runs unmeasured, once more for an unmeasured first call at
        each size (as `warm()`), so that a call may change its input. Sizes
        are measured smallest first: `last` is the largest size's
        measurement, for `bytecount.last.explain()`."""
        checked = tuple(sorted(check_sizes(sizes)))
        if self._disabled:
            return not_counted(checked, "counting is off (--bytecount-disable)")
        counts = []
        for n in checked:
            fn(setup(n) if setup is not None else n)
            argument = setup(n) if setup is not None else n
            with self.measure() as measurement:
                fn(argument)
            counts.append(measurement.instructions)
        return fit(checked, counts)

    @property
    def last(self) -> Measurement | None:
        """The most recently closed top-level measurement, if any."""
        return self._measurements[-1] if self._measurements else None

    @property
    def measurements(self) -> tuple[Measurement, ...]:
        """This test's top-level measurements, in order."""
        return tuple(self._measurements)

    def forget_after(self, kept: int) -> None:
        """For the plugin: drop the measurements after the first `kept`, those
        taken by calls that only checked the count repeats."""
        del self._measurements[kept:]

    @property
    def instructions(self) -> int:
        """The sum over this test's top-level measurements: what the test records."""
        return sum(measurement.instructions for measurement in self._measurements)

    @property
    def is_disabled(self) -> bool:
        """True under `--bytecount-disable`: measurements are 0 and say so."""
        return self._disabled

    def _begin(self, *, stacks: bool = False) -> Measurement:
        try:
            options = self._options
            if stacks and not options.stacks:
                options = replace(options, stacks=True)
            measurement = self._meter.begin(options, replaces_fallback=True)
        except CountingUnavailable as exc:
            reason = str(exc)
        else:
            measurement.root = self._root
            return measurement
        pytest.fail(f"pytest-bytecount cannot count here: {reason}", pytrace=False)

    def _end(self, measurement: Measurement, *, failing: bool = False) -> None:
        """Close `measurement`. When counting failed, fail the test, unless it
        is `failing` already: its own exception is the one to see."""
        self._depth -= 1
        try:
            self._meter.end(measurement)
        except CountingFailed as exc:
            reason = str(exc)
        else:
            self._record(measurement)
            return
        # The test has no count: the plugin must record none, not the sum of
        # the measurements that did succeed.
        self.problem = self.problem or reason
        if not failing:
            pytest.fail(f"pytest-bytecount could not count: {reason}", pytrace=False)
        # The test's own exception goes on; the plugin fails the test later
        # (if nothing else does) rather than let it pass without its count.

    def _record(self, measurement: Measurement) -> None:
        if self._depth == 0:
            self._measurements.append(measurement)


@final
class _Block:
    __slots__ = ("_measurement", "_owner", "_stacks")

    def __init__(self, owner: Bytecount, *, stacks: bool) -> None:
        self._owner = owner
        self._stacks = stacks
        self._measurement: Measurement | None = None

    def __enter__(self) -> Measurement:
        owner = self._owner
        if owner._disabled:
            self._measurement = Measurement.disabled()
        else:
            self._measurement = owner._begin(stacks=self._stacks)
            owner._depth += 1
        return self._measurement

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._measurement is not None, "__exit__ without __enter__"
        if self._measurement.is_disabled:
            self._owner._record(self._measurement)
        else:
            self._owner._end(self._measurement, failing=exc is not None)
