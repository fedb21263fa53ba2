"""What is known of one test from its set-up to its report, kept in the
item's stash: its limit, its fixture, its measurement or why there is none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pytest

from . import hypothesis_tests
from .complexity_verdict import Case
from .fixture import Bytecount
from .measurement import Measurement
from .verdict import Limit


@dataclass
class TestState:
    """What the plugin knows about one test while it runs."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    limit: Limit | None
    measure_call: bool
    call_measurement: Measurement | None = None
    fixture: Bytecount | None = None
    problem: str | None = None
    call_done: bool = False
    #: What was done to a Hypothesis test for its examples to repeat.
    hypothesis: hypothesis_tests.Prepared | None = None
    #: Why the count may differ next run, as the plugin found (the engine
    #: finds its own reasons).
    unstable: str | None = None
    #: Why --bytecount-repeat could not check the count.
    unrepeated: str | None = None
    #: The `max_complexity` case the test is, if marked.
    case: Case | None = None

    @property
    def strict(self) -> bool:
        """Whether counting was explicitly asked for, so failing to count fails the test."""
        return self.limit is not None or self.fixture is not None or self.case is not None

    def recorded(self) -> Measurement | None:
        """What the test records: the sum of its fixture measurements if it
        took any, else the measurement of its call."""
        if self.fixture is not None and self.fixture.measurements:
            return Measurement.total_of(self.fixture.measurements)
        return self.call_measurement


TEST_STATE_KEY: Final = pytest.StashKey[TestState]()
#: A Hypothesis test's settings to put back at teardown (the test state is
#: gone by then).
HYPOTHESIS_KEY: Final = pytest.StashKey[hypothesis_tests.Prepared]()
