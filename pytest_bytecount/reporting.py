"""From a measured test to pytest's report of it, and back.

Where the test ran, its measurement becomes a record (`records.py`), the
test fails when its count does (the failure text is here), and the record
travels on the call-phase `TestReport` as one JSON value, which
pytest-xdist ships from a worker to the controller. Serial runs and the
controller alike keep records from reports (`Reporter.collect`), so both
see the same results; once kept, the payload is taken off the report,
which pytest keeps for the whole session.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Generator, Mapping
from dataclasses import replace
from typing import Any, Final

import pytest

from .attribution import source_of
from .measurement import Measurement, code_that_ran
from .records import Judged, TestRecord
from .run import Extras, Run
from .state import TEST_STATE_KEY, TestState

#: The JUnit XML property holding a measured test's count.
JUNIT_PROPERTY: Final = "bytecount_instructions"
#: The attribute of a call-phase TestReport carrying the test's record, as
#: JSON: pytest-xdist ships report attributes from workers to the controller.
REPORT_ATTRIBUTE: Final = "bytecount"
#: The keys of `Extras` in that JSON, beside the record's own.
EXTRA_KEYS: Final = ("explain", "folded", "paths_lost", "unrepeated", "complexity", "source")


def payload(record: TestRecord, extras: Extras | None) -> dict[str, Any]:
    """What a test's report carries: its record's JSON, and its extras."""
    entry = record.to_json()
    if extras is not None:
        for key in EXTRA_KEYS:
            value = getattr(extras, key)
            if value is not None:
                entry[key] = value
    return entry


def from_payload(entry: Mapping[str, Any]) -> tuple[TestRecord, Extras | None]:
    """The inverse of `payload`."""
    found = {key: entry[key] for key in EXTRA_KEYS if isinstance(entry.get(key), str)}
    return TestRecord.from_json(entry), Extras(**found) if found else None


class Reporter:
    """Makes each measured test's report, and keeps the records reports carry."""

    def __init__(self, run: Run) -> None:
        self.run = run
        # The payload this process made last, with what it was made from:
        # when its report comes back to `collect` (a run without xdist), the
        # record is taken as it is instead of being read back from its JSON.
        self._made: tuple[dict[str, Any], TestRecord, Extras | None] | None = None

    def make_report(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        state = item.stash.get(TEST_STATE_KEY, None)
        if state is None or call.when != "call":
            return (yield)
        if not state.call_done:
            # A report made while the test still runs (a unittest subtest's).
            return (yield)
        if state.problem is None and state.fixture is not None:
            state.problem = state.fixture.problem
        measurement = None if state.problem else state.recorded()
        if measurement is not None:
            for reason in (state.unstable, state.hypothesis and state.hypothesis.unstable):
                if reason:
                    measurement.note_unstable(reason)
            # Before the report is made: it copies the item's user properties.
            # Replaced, not appended: a rerun test (pytest-rerunfailures) has
            # one item and reports once per run.
            item.user_properties[:] = [
                prop for prop in item.user_properties if prop[0] != JUNIT_PROPERTY
            ]
            item.user_properties.append((JUNIT_PROPERTY, measurement.instructions))
        report = yield
        # The test is over: its measurements need not live as long as the
        # item (the whole session), each one more object for every garbage
        # collection to walk.
        del item.stash[TEST_STATE_KEY]
        if state.problem is not None:
            self._report_problem(report, state)
        elif measurement is not None:
            # Files in its call paths (the record's and the extras') as the
            # rest of the run shows them: relative to the rootdir.
            measurement.root = str(self.run.config.rootpath)
            # Made once, where the record (its bounded call paths) and the
            # extras (the page's flame graph) both need it.
            folded = functools.cache(measurement.folded)
            judged = self.run.maker.make(
                item.nodeid, measurement, state.limit, outcome=report.outcome, folded=folded
            )
            if judged.failing:
                _fail(report, self._failure_text(judged, measurement))
            extras = self._extras(measurement, state, judged.record, folded)
            entry = payload(judged.record, extras)
            setattr(report, REPORT_ATTRIBUTE, entry)
            self._made = (entry, judged.record, extras)
        return report

    def collect(self, report: pytest.TestReport) -> None:
        """Keep the record a test's report carries (from this process or an
        xdist worker); a test whose teardown failed is recorded as an error."""
        run = self.run
        if report.when == "call":
            entry = getattr(report, REPORT_ATTRIBUTE, None)
            if isinstance(entry, dict):
                made, self._made = self._made, None
                if made is not None and made[0] is entry:
                    record, extras = made[1], made[2]
                else:  # from an xdist worker
                    record, extras = from_payload(entry)
                run.keep(record, extras)
                if not run.is_worker:
                    # Kept, it would live as long as the report, which pytest's
                    # terminal reporter keeps for the whole session: a
                    # kilobyte or two for every test. A worker's goes on to
                    # the controller.
                    delattr(report, REPORT_ATTRIBUTE)
                # Only what this run shows: most runs print no annotations,
                # and this runs for every test.
                if run.settings.github:
                    file, line, _ = report.location
                    if line is not None:
                        run.locations[report.nodeid] = (file, line + 1)
        elif report.when == "teardown" and report.failed:
            kept = run.records.get(report.nodeid)
            if kept is not None:
                run.records[report.nodeid] = replace(kept, outcome="error")

    def _extras(
        self,
        measurement: Measurement,
        state: TestState,
        record: TestRecord,
        folded_text: Callable[[], str],
    ) -> Extras | None:
        """What goes with the record: call paths where the run records them
        (to reach the xdist controller; not part of the JSON report)."""
        settings = self.run.settings
        explain = folded = paths_lost = source = None
        if settings.stacks:
            wanted = self.run.page_may_show(record)
            if wanted and (settings.explain or settings.html_path is not None):
                explain = measurement.explain()
            if wanted and settings.html_path is not None:
                source = _source_counts(measurement)
            if wanted or not measurement.has_call_paths:
                try:
                    folded = folded_text()
                except ValueError as exc:  # why they were lost, said in the summary
                    paths_lost = str(exc)
        complexity = state.case.to_text() if state.case is not None else None
        if explain is folded is paths_lost is state.unrepeated is complexity is source is None:
            return None
        return Extras(explain, folded, paths_lost, state.unrepeated, complexity, source)

    def _failure_text(self, judged: Judged, measurement: Measurement) -> str:
        from .render.failure import over_budget_message

        run = self.run
        record = judged.record
        assert record.limit is not None
        shown = [(line, source_of(path, line.line)) for line, path in judged.hottest]
        compared = run.settings.compare_path
        return over_budget_message(
            measurement,
            record.limit,
            record.top_functions,
            shown,
            run.settings.tolerance,
            budgets=run.shown_path(run.settings.budgets_path),
            changes=record.function_changes,
            baseline_name=run.shown_path(compared) if compared else "the baseline",
        )

    def _report_problem(self, report: pytest.TestReport, state: TestState) -> None:
        if report.failed and str(state.problem) in str(report.longrepr):
            return  # the fixture failed the test with this very reason
        if state.strict:
            _fail(report, f"pytest-bytecount could not count this test: {state.problem}")
        else:
            self.run.warn_once(str(state.problem))


def _source_counts(measurement: Measurement) -> str | None:
    """What the page's annotated source shows of the test, as text."""
    from . import source_counts

    try:
        c_calls = measurement.c_calls
    except ValueError:  # not counted on this version
        c_calls = None
    assert measurement.root is not None
    ran = code_that_ran(measurement)
    return source_counts.as_text(source_counts.by_line(ran, c_calls, measurement.root))


def _fail(report: pytest.TestReport, message: str) -> None:
    """Fail a passing test with `message`; a failed test keeps its own failure."""
    if report.passed:
        report.outcome = "failed"
        report.longrepr = message
    else:
        report.sections.append(("bytecount", message))
