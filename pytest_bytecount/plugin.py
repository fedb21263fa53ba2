"""The pytest glue: options, the marker, the fixture, and the hooks.

One `BytecountPlugin` is created in `pytest_configure`, kept under a
`StashKey`, registered with the plugin manager and removed again in
`pytest_unconfigure`. Each test's state lives in its own stash.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import os
import sys
import warnings
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pytest

from . import __version__, determinism, hypothesis_tests
from .attribution import relative_file, source_of
from .budgets import Budgets, recording, write_merged
from .budgets_toml import BudgetsError
from .compare import FunctionChange
from .counting import Meter, SpanOptions, thread_meter
from .determinism import hash_seed_warning, seed_random
from .engine import CountingFailed, CountingUnavailable, ModuleFilter
from .files import write_atomically
from .fixture import Bytecount
from .measurement import FunctionCount, LineCount, Measurement
from .options import COMPARE_PATH_KEY, Settings, add_options
from .report import (
    MAX_COUNT,
    TOP_FUNCTIONS,
    TOP_LINES,
    TestRecord,
    build_report,
    interpreter_tag,
    json_text,
    one_line,
    write_json,
)
from .selection import Collection
from .verdict import PROBLEMS, Limit, LimitSource, Status, fails, judge, parse_tolerance

if TYPE_CHECKING:
    from .report import LoadedReport

MARKER: Final = "max_instructions"
JUNIT_PROPERTY: Final = "bytecount_instructions"
MARKER_HELP: Final = (
    f'{MARKER}(n, tolerance="0%"): fail the test when it executes more than n bytecode '
    "instructions (n plus its own tolerance, if given)"
)


class BytecountWarning(pytest.PytestWarning):
    """Counting was asked for but could not be done."""


@dataclass
class _TestState:
    """What the plugin knows about one test while it runs."""

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

    @property
    def strict(self) -> bool:
        """Whether counting was explicitly asked for, so failing to count fails the test."""
        return self.limit is not None or self.fixture is not None

    def recorded(self) -> Measurement | None:
        """What the test records: the sum of its fixture measurements if it
        took any, else the measurement of its call."""
        if self.fixture is not None and self.fixture.measurements:
            return Measurement.total_of(self.fixture.measurements)
        return self.call_measurement


PLUGIN_KEY: Final = pytest.StashKey["BytecountPlugin"]()
TEST_STATE_KEY: Final = pytest.StashKey[_TestState]()
#: A Hypothesis test's settings to put back at teardown (the test state is
#: gone by then).
HYPOTHESIS_KEY: Final = pytest.StashKey[hypothesis_tests.Prepared]()


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    plugin = BytecountPlugin(config, Settings.from_config(config))
    config.stash[PLUGIN_KEY] = plugin
    config.pluginmanager.register(plugin, "bytecount-plugin")
    if not _is_worker(config):
        for warning in plugin.hash_seed_warnings():
            config.issue_config_time_warning(BytecountWarning(warning), stacklevel=2)


def pytest_unconfigure(config: pytest.Config) -> None:
    plugin = config.stash.get(PLUGIN_KEY, None)
    if plugin is not None:
        del config.stash[PLUGIN_KEY]
        if plugin._test_hooks is not None:
            config.pluginmanager.unregister(plugin._test_hooks)
        config.pluginmanager.unregister(plugin)


@pytest.fixture
def bytecount(request: pytest.FixtureRequest) -> Bytecount:
    """Measure blocks (`with bytecount.measure() as m:`) and calls
    (`bytecount(fn, *args)`, `bytecount.warm(fn, *args)`) in this test."""
    return request.config.stash[PLUGIN_KEY].fixture_for(request.node)


#: The attribute of a call-phase TestReport carrying the test's record, as
#: JSON: pytest-xdist ships report attributes from workers to the controller.
REPORT_ATTRIBUTE: Final = "bytecount"
#: The keys under which a test's `explain()` text and its call paths (folded
#: stacks, or why there are none) travel with its record.
EXPLAIN_KEY: Final = "explain"
FOLDED_KEY: Final = "folded"
PATHS_LOST_KEY: Final = "paths_lost"
UNREPEATED_KEY: Final = "unrepeated"


class BytecountPlugin:
    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.tag = interpreter_tag()
        self.modules = ModuleFilter(settings.exclude)
        #: How every span of the run counts: the test's, each example's, the fixture's.
        self.span_options = SpanOptions(
            self.modules,
            keep_gc=settings.keep_gc,
            collect_gc=settings.collect_gc,
            all_threads=settings.all_threads,
            stacks=settings.stacks,
        )
        self.budgets = _load_budgets(settings)
        self.budget_table = self.budgets.table(self.tag)
        self.baseline = _load_baseline(settings, self.tag)
        self.collection = Collection(config)
        self.records: dict[str, TestRecord] = {}
        # By node id, from --bytecount-explain, -profile and -html: each
        # test's explain() text, its folded stacks, or why it has none.
        self.explanations: dict[str, str] = {}
        self.profiles: dict[str, str] = {}
        self.paths_lost: dict[str, str] = {}
        self.unrepeated: dict[str, str] = {}
        # Where each measured test is defined, for GitHub annotations.
        self.locations: dict[str, tuple[str, int]] = {}
        self.stale: list[str] = []
        #: What the session wrote, and could not, a line each, for the summary.
        self.written: list[str] = []
        self.write_errors: list[str] = []
        #: After --bytecount-update wrote the budgets file: the tests it recorded
        #: and the stale budgets it pruned, for the summary.
        self.updated: tuple[frozenset[str], frozenset[str]] | None = None
        self._warned = False
        self._test_hooks: _TestHooks | None = None
        self._shown_files: dict[str, str] = {}
        # Looked up when called: the suite's in-process runs are told a fixed seed.
        self.hash_seed = determinism.hash_seed()
        # pytest-randomly reseeds `random` before each test itself.
        self.randomly = config.pluginmanager.has_plugin("randomly")
        self.seeds_random = settings.seed_random and not self.randomly and not settings.disabled

    def hash_seed_warnings(self) -> list[str]:
        """What to say, at the start, of this run's hash seed: recording
        budgets with a random one, or comparing with a report made with
        another."""
        found = []
        if self.settings.update and self.hash_seed == "random":
            found.append(f"recording budgets with --bytecount-update: {hash_seed_warning()}")
        if self.baseline is not None:
            from .compare import hash_seed_mismatch

            mismatch = hash_seed_mismatch(
                self.baseline.hash_seed,
                self.hash_seed,
                old_name=f"--bytecount-compare {self.baseline.path.name}",
                new_name="this run",
            )
            if mismatch is not None:
                found.append(mismatch)
        return found

    @property
    def meter(self) -> Meter:
        # Per thread: tests need not run on the thread that configured pytest.
        return thread_meter()

    # -- per test ---------------------------------------------------------

    def setup_test(self, item: pytest.Item) -> None:
        limit = marker_limit(item)
        if limit is None and item.nodeid in self.budget_table:
            tolerance = self.budgets.tolerance(self.tag, item.nodeid)
            limit = Limit(self.budget_table[item.nodeid], LimitSource.FILE, tolerance)
        state = item.stash[TEST_STATE_KEY] = _TestState(
            limit=limit, measure_call=limit is not None or self.settings.measure_all
        )
        measured = state.measure_call or "bytecount" in getattr(item, "fixturenames", ())
        if self.seeds_random and measured:
            # Before any fixture runs, as pytest-randomly does: fixtures'
            # random data is part of the work the test then measures.
            seed_random(item.nodeid)
        if measured and not self.settings.disabled:
            prepared = hypothesis_tests.prepare(item, self.settings.hypothesis)
            if prepared is not None:
                state.hypothesis = item.stash[HYPOTHESIS_KEY] = prepared

    def teardown_test(self, item: pytest.Item) -> None:
        prepared = item.stash.get(HYPOTHESIS_KEY, None)
        if prepared is not None:
            del item.stash[HYPOTHESIS_KEY]
            prepared.undo()

    def check_counting(self, item: pytest.Item) -> None:
        state = item.stash.get(TEST_STATE_KEY, None)
        if state is None or not (state.measure_call or state.strict):
            return
        reason = self._unavailable_reason()
        if reason is None:
            return
        if state.strict:
            pytest.fail(f"pytest-bytecount cannot count here: {reason}", pytrace=False)
        state.measure_call = False
        self._warn_once(reason)

    def call_test(self, item: pytest.Item) -> Generator[None, None, None]:
        state = item.stash.get(TEST_STATE_KEY, None)
        if state is None:
            return (yield)
        try:
            return (yield from self._measure_call(item, state))
        finally:
            state.call_done = True

    def _measure_call(self, item: pytest.Item, state: _TestState) -> Generator[None, None, None]:
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
            item.runtest = self._measured(runtest, state, handle)  # type: ignore[method-assign,assignment]
            try:
                return (yield)
            finally:
                del item.runtest
        # The span is exactly the call of the test function: not what pytest
        # runs around it, even standard-library helpers it calls.
        assert isinstance(item, pytest.Function)
        item.obj = self._measured(function, state, _examples_of(function, state))
        try:
            return (yield)
        finally:
            item.obj = function

    def _measured(
        self, function: Callable[..., object], state: _TestState, handle: Any
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
            if self.settings.repeat and state.problem is None:
                self._repeat_calls(function, args, kwargs, state, handle)
            return result

        return measured_test_function

    def _measure(
        self,
        function: Callable[..., object],
        args: tuple[object, ...],
        kwargs: dict[str, object],
        state: _TestState,
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
        state: _TestState,
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
        self, state: _TestState, measurement: Measurement | None, taken: list[Measurement]
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
        state: _TestState,
        handle: Any,
    ) -> None:
        """--bytecount-repeat=N: the test called N more times, warm, each
        call measured as the first was; unstable if the N counts differ."""
        fixture = state.fixture
        kept = len(fixture.measurements) if fixture is not None else 0
        counts: list[int] = []
        try:
            for _ in range(self.settings.repeat):
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
                f"--bytecount-repeat={self.settings.repeat})"
            )

    def _open_span(self, state: _TestState) -> Measurement | None:
        try:
            return self.meter.begin(
                self.span_options,
                # The fixture's measurements replace the call's count: its
                # first span takes this one's place (counting.py).
                fallback=state.fixture is not None,
            )
        except (CountingUnavailable, CountingFailed) as exc:
            state.problem = str(exc)
            return None

    def _close_span(self, state: _TestState, measurement: Measurement) -> bool:
        """Whether the span closed with a count; if not, `state.problem` says
        why, or it gave way to the fixture's spans."""
        if self.meter.dropped(measurement):
            self.meter.end(measurement)
            return False
        try:
            self.meter.end(measurement)
        except (CountingFailed, RuntimeError) as exc:
            self.meter.abort()
            state.problem = str(exc)
            return False
        return True

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
            record = self._judge(item.nodeid, report, state.limit, measurement)
            entry = record.to_json()
            if self.settings.stacks:
                # With the record, so that they reach the xdist controller;
                # not part of the JSON report.
                measurement.root = str(self.config.rootpath)
                if self.settings.explain or self.settings.html_path is not None:
                    entry[EXPLAIN_KEY] = measurement.explain()
                try:
                    entry[FOLDED_KEY] = measurement.folded()
                except ValueError as exc:
                    entry[PATHS_LOST_KEY] = str(exc)
            if state.unrepeated is not None:
                entry[UNREPEATED_KEY] = state.unrepeated
            setattr(report, REPORT_ATTRIBUTE, entry)
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # Serial runs and the pytest-xdist controller alike build their
        # records from reports, so both see the same results.
        if report.when == "call":
            entry = getattr(report, REPORT_ATTRIBUTE, None)
            if isinstance(entry, dict):
                self.records[report.nodeid] = TestRecord.from_json(entry)
                # Only what this run shows: most runs record no call paths
                # and print no annotations, and this runs for every test.
                if self.settings.github:
                    file, line, _ = report.location
                    if line is not None:
                        self.locations[report.nodeid] = (file, line + 1)
                if isinstance(entry.get(UNREPEATED_KEY), str):
                    self.unrepeated[report.nodeid] = entry[UNREPEATED_KEY]
                if self.settings.stacks:
                    for key, kept in (
                        (EXPLAIN_KEY, self.explanations),
                        (FOLDED_KEY, self.profiles),
                        (PATHS_LOST_KEY, self.paths_lost),
                    ):
                        if isinstance(entry.get(key), str):
                            kept[report.nodeid] = entry[key]
        elif report.when == "teardown" and report.failed:
            record = self.records.get(report.nodeid)
            if record is not None:
                self.records[report.nodeid] = replace(record, outcome="error")

    # -- collection, for stale budgets -------------------------------------

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.collection.collected(item.nodeid for item in session.items)
        if not self.settings.disabled and any(self._may_measure(item) for item in session.items):
            self._watch_tests()

    def _may_measure(self, item: pytest.Item) -> bool:
        return (
            self.settings.measure_all
            or item.nodeid in self.budget_table
            or "bytecount" in getattr(item, "fixturenames", ())
            or item.get_closest_marker(MARKER) is not None
        )

    def _watch_tests(self) -> None:
        """Register the per-test hooks: only for a run with a test to measure,
        since pytest calls each hook of each test whether it has work or not."""
        if self._test_hooks is None:
            self._test_hooks = _TestHooks(self)
            self.config.pluginmanager.register(self._test_hooks, "bytecount-tests")

    def pytest_deselected(self, items: Sequence[pytest.Item]) -> None:
        self.collection.deselected(item.nodeid for item in items)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection.failed_to_collect(report.nodeid)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: object, ids: Sequence[str]) -> None:
        self.collection.collected(ids, from_worker=True)

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        # The report the controller compares with, resolved once: a worker
        # resolving --bytecount-compare=latest itself could find another.
        if self.settings.compare_path is not None:
            node.workerinput[COMPARE_PATH_KEY] = str(self.settings.compare_path)

    def fixture_for(self, item: pytest.Item) -> Bytecount:
        if self._test_hooks is None and not self.settings.disabled:
            # Asked for by getfixturevalue(), unseen at collection: watch
            # from now on, and report this test's measurements, though its
            # call (which may be running) has no wrapper of ours.
            self._watch_tests()
            self.setup_test(item)
            item.stash[TEST_STATE_KEY].call_done = True
            if self.seeds_random:
                seed_random(item.nodeid)  # as early as can be: now
        fixture = Bytecount(
            self.meter,
            self.span_options,
            disabled=self.settings.disabled,
            root=str(self.config.rootpath),
        )
        state = item.stash.get(TEST_STATE_KEY, None)
        if state is not None:
            state.fixture = fixture
        return fixture

    # -- session ----------------------------------------------------------

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        if self.settings.disabled:
            return ["bytecount: disabled (--bytecount-disable)"]
        try:
            engine = self.meter.engine
        except CountingUnavailable as exc:
            return [f"bytecount: unavailable: {exc}"]
        path = self.settings.budgets_path
        budgets = (
            f"{len(self.budget_table):,} budgets in {_shown_path(path, config)}"
            if path.exists()
            else "no budgets file"
        )
        if self.seeds_random:
            seeding = "random seeded per test"
        elif self.randomly:
            seeding = "random seeded by pytest-randomly"
        else:
            seeding = "random not seeded (bytecount_seed_random = false)"
        if config.pluginmanager.has_plugin(hypothesis_tests.PYTEST_PLUGIN):
            seeding += (
                "; hypothesis examples repeatable"
                if self.settings.hypothesis == hypothesis_tests.REPEATABLE
                else f"; hypothesis left as it is ({hypothesis_tests.INI_KEY} = "
                f"{hypothesis_tests.LEAVE})"
            )
        lines = [
            f"bytecount: {self.tag}, counting with {engine.name} (core: {engine.core}); {budgets}, "
            f"tolerance {self.settings.tolerance:g}%; {seeding}"
        ]
        if self.baseline is not None and self.settings.compare_path is not None:
            # Which run a bare --bytecount-compare took, said before any verdict.
            shown = _shown_path(self.settings.compare_path, config)
            lines.append(
                f"bytecount: comparing with {shown} ({len(self.baseline.records):,} tests)"
            )
        if self.hash_seed == "random":
            lines.append(f"bytecount: {hash_seed_warning()}")
        return lines

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if _is_worker(self.config):
            return  # pytest-xdist workers hand their records to the controller
        if not self.settings.disabled:
            self.stale = self.collection.stale(self.budget_table)
        regressed = any(r.status is Status.REGRESSED for r in self.records.values())
        if regressed and session.exitstatus == pytest.ExitCode.OK:
            # Decided here, not in the summary hook, which does not always run.
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        interrupted = session.exitstatus == pytest.ExitCode.INTERRUPTED
        if self.settings.update and not self.settings.disabled and not interrupted:
            self._write(session, "budgets file", self.settings.budgets_path, self._update_budgets)
        # A run stopped before it measured anything (a collection error,
        # --collect-only) has no counts: an empty report would read as a
        # suite whose tests all went away, so its files are left as they are.
        nothing_ran = not self.records and (interrupted or self.config.option.collectonly)
        not_written = "no test ran" if nothing_ran else None
        outputs = (
            ("--bytecount-report", self.settings.report_path, self._write_report, not_written),
            ("--bytecount-profile", self.settings.profile_dir, self._write_profiles, not_written),
            ("--bytecount-html", self.settings.html_path, self._write_html, not_written),
            (
                "--bytecount-autosave",
                self.settings.history_dir if self.settings.autosave else None,
                self._autosave,
                self._not_saved(interrupted),
            ),
        )
        for what, path, write, skipped in outputs:
            if path is None:
                continue
            if skipped is not None:
                verb = "save a run in" if what == "--bytecount-autosave" else "write"
                self.written.append(f"did not {verb} {_shown_path(path, self.config)}: {skipped}")
            else:
                self._write(session, what, path, write)
        summary_file = os.environ.get("GITHUB_STEP_SUMMARY", "")
        if self.settings.github and summary_file and self.records:
            self._write(session, "GITHUB_STEP_SUMMARY", Path(summary_file), self._write_job_summary)

    def _update_budgets(self) -> str:
        recorded = recording(self.records.values())
        prune = self.stale if self.collection.whole_suite_selected() else ()
        # This run's changes to what it read at its start, applied under the
        # file's lock to the file as it is now: runs writing at once (two
        # pytest processes, tox -p) keep each other's budgets.
        changes = self.budgets.changes(
            self.tag, recorded.counts, remove=prune, tolerances=recorded.tolerances
        )
        written = write_merged(self.settings.budgets_path, [changes])
        self.updated = (frozenset(recorded.counts), changes.removed)
        left_out = "".join(
            f"; not budgeted: {nodeid!r}: {why}" for nodeid, why in sorted(recorded.refused.items())
        )
        if not written.written:
            return (
                f"unchanged, {_plural(len(recorded.counts), 'budget')} recorded as they were"
                + left_out
            )
        return (
            f"{len(recorded.counts):,} recorded, {len(changes.counts):,} new or changed, "
            f"{len(changes.removed):,} pruned" + left_out
        )

    @functools.cached_property
    def _report(self) -> dict[str, Any]:
        """The report of the run, built once at its end for each file it goes to."""
        return build_report(
            list(self.records.values()),
            plugin_version=__version__,
            stale=self.stale,
            tolerance=self.settings.tolerance,
            hash_seed=self.hash_seed,
            budgets_seen=self.collection.seen(self.budget_table),
        )

    def _write_report(self) -> str:
        assert self.settings.report_path is not None
        write_json(self.settings.report_path, self._report)
        return _plural(len(self.records), "test")

    def _not_saved(self, interrupted: bool) -> str | None:
        """Why this run is not one to keep in the history, which a bare
        --bytecount-compare would then take as the latest: or None."""
        if self.settings.disabled:
            return "counting was disabled"
        if interrupted:
            return "the run was interrupted"
        if not self.records:
            return "no test was measured"
        return None

    def _autosave(self) -> str:
        from . import history

        run, pruned = history.save(
            self.settings.history_dir,
            json_text(self._report),
            tag=self.tag,
            commit=history.git_commit(self.config.rootpath),
            keep=self.settings.autosave_keep,
        )
        removed = f"; {_plural(pruned, 'older run')} of {self.tag} removed" if pruned else ""
        return f"saved run {run.name}, {_plural(len(self.records), 'test')}{removed}"

    def _write_profiles(self) -> str:
        from .render.profiles import SPEEDSCOPE_FILE, file_names, speedscope

        directory = self.settings.profile_dir
        assert directory is not None
        names = file_names(list(self.profiles))
        for nodeid, folded in self.profiles.items():
            write_atomically(directory / names[nodeid], folded)
        data = speedscope(
            self.profiles,
            name=f"pytest-bytecount ({self.tag}): instructions per call path",
            exporter=f"pytest-bytecount {__version__}",
        )
        write_json(directory / SPEEDSCOPE_FILE, data)
        return f"{_plural(len(self.profiles), 'folded-stacks file')} and {SPEEDSCOPE_FILE}"

    def _write_html(self) -> str:
        from .render import html, summary

        assert self.settings.html_path is not None
        records = list(self.records.values())
        budgets_file = _shown_path(self.settings.budgets_path, self.config)
        update = summary.Update(*self.updated) if self.updated is not None else None
        headline = summary.render(
            records, stale=self.stale, budgets_file=budgets_file, update=update
        )[0].text
        details = (
            f"{self.tag} (Python {sys.version.split()[0]}) · pytest-bytecount {__version__} · "
            f"tolerance {self.settings.tolerance:g}% · hash seed {self.hash_seed} · "
            f"rootdir {self.config.rootpath}"
        )
        page = html.render(
            records,
            title=f"pytest-bytecount: {self.config.rootpath.name}",
            headline=headline,
            details=details,
            profiles=self.profiles,
            explanations=self.explanations,
            budgets_file=budgets_file,
            recorded=update.recorded if update is not None else frozenset(),
        )
        write_atomically(self.settings.html_path, page)
        return _plural(len(records), "test")

    def _write_job_summary(self) -> str:
        from .render.github import job_summary

        baseline = self.baseline
        text = job_summary(
            list(self.records.values()),
            baseline=baseline.counts if baseline is not None else None,
            baseline_label=baseline.path.name if baseline is not None else "",
            tolerance=self.settings.tolerance,
        )
        # Appended, as GitHub asks: other steps' tools write there too.
        with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as summary:
            summary.write(text + "\n")
        return "the table appended to the job summary"

    def _github_locations(self) -> dict[str, tuple[str, int]]:
        """Each test's file relative to GITHUB_WORKSPACE when under it (what
        GitHub matches to the diff), else to the rootdir."""
        workspace = os.environ.get("GITHUB_WORKSPACE", "")
        if not workspace:
            return dict(self.locations)
        root = Path(workspace).resolve()
        located = {}
        for nodeid, (file, line) in self.locations.items():
            path = (self.config.rootpath / file).resolve()
            # Outside the workspace: as the rootdir names it.
            located[nodeid] = (
                (path.relative_to(root).as_posix(), line)
                if path.is_relative_to(root)
                else (file, line)
            )
        return located

    def _write(
        self, session: pytest.Session, what: str, path: Path, write: Callable[[], str]
    ) -> None:
        """Write one file at session end, and say so in the summary; a file
        that cannot be written is a one-line error (exit 4), and the others
        are still written."""
        try:
            done = write()
        except (OSError, UnicodeError, ValueError) as exc:
            session.exitstatus = pytest.ExitCode.USAGE_ERROR
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            # Printed by the summary, on a line of its own: here, it would be
            # glued to the end of pytest's progress line.
            self.write_errors.append(f"ERROR: {what}: cannot write {path}: {reason}")
        else:
            self.written.append(f"wrote {_shown_path(path, self.config)}: {done}")

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        for error in self.write_errors:
            terminalreporter.write_line(error, red=True)
        self._summary(terminalreporter)
        for wrote in self.written:
            terminalreporter.write_line(wrote)

    def _summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.settings.disabled or not (self.records or self.stale or self.settings.measure_all):
            return
        ran = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")
        if not self.records and not any(terminalreporter.stats.get(key) for key in ran):
            return  # --collect-only, --fixtures, everything deselected: nothing to say
        from .render import summary  # here: a run that measured nothing prints nothing
        from .render.text import escape_controls

        records = list(self.records.values())
        terminalreporter.write_sep("-", f"bytecount ({self.tag})")
        lines = summary.render(
            records,
            stale=self.stale,
            verbosity=self.config.get_verbosity(),
            budgets_file=_shown_path(self.settings.budgets_path, self.config),
            update=summary.Update(*self.updated) if self.updated is not None else None,
        )
        for line in lines:
            markup = {line.colour: True} if line.colour else {}
            terminalreporter.write_line(line.text, **markup)
        if self.settings.github:
            from .render.github import annotation_lines

            for command in annotation_lines(records, self._github_locations()):
                terminalreporter.write_line(command)
        for nodeid, reason in self.paths_lost.items():
            terminalreporter.write_line(
                f"call paths not kept: {escape_controls(nodeid)}: {reason}", yellow=True
            )
        for nodeid, reason in self.unrepeated.items():
            terminalreporter.write_line(
                f"--bytecount-repeat could not check {escape_controls(nodeid)}: {reason}",
                yellow=True,
            )
        if self.explanations and self.settings.explain:
            terminalreporter.write_sep("-", "bytecount explain")
            for nodeid, text in self.explanations.items():
                terminalreporter.write_line("")
                terminalreporter.write_line(escape_controls(nodeid), bold=True)
                for line_text in text.rstrip("\n").splitlines():
                    terminalreporter.write_line(f"  {line_text}" if line_text else "")

    # -- helpers ------------------------------------------------------------

    def _unavailable_reason(self) -> str | None:
        try:
            engine = self.meter.engine
        except CountingUnavailable as exc:
            return str(exc)
        if self.settings.all_threads and not engine.counts_all_threads:
            return f"bytecount_threads = all: {engine.name} counts one thread only (3.12+ needed)"
        return engine.unavailable_reason()

    def _warn_once(self, reason: str) -> None:
        if not self._warned:
            self._warned = True
            warnings.warn(
                BytecountWarning(f"pytest-bytecount is not counting: {reason}"), stacklevel=2
            )

    def _check_reached(self, function: object, measurement: Measurement) -> str | None:
        """A Python function executes at least one instruction (its return):
        a count of 0 for one we should count means tracing silently failed."""
        module = getattr(function, "__module__", None) or ""
        if measurement.instructions or self.modules.excludes(module):
            return None
        return "no instruction of the test function was counted: tracing did not reach it"

    def _report_problem(self, report: pytest.TestReport, state: _TestState) -> None:
        if report.failed and str(state.problem) in str(report.longrepr):
            return  # the fixture failed the test with this very reason
        if state.strict:
            _fail(report, f"pytest-bytecount could not count this test: {state.problem}")
        else:
            self._warn_once(str(state.problem))

    def _judge(
        self,
        nodeid: str,
        report: pytest.TestReport,
        limit: Limit | None,
        measurement: Measurement,
    ) -> TestRecord:
        instructions = measurement.instructions
        functions = tuple(
            replace(function, file=self._relative(function.file))
            for function in measurement.functions[:TOP_FUNCTIONS]
        )
        tolerance = self.settings.tolerance
        baseline = self.baseline.counts.get(nodeid) if self.baseline is not None else None
        status = judge(instructions, limit, tolerance=tolerance, baseline=baseline)
        failing = fails(status, limit, updating=self.settings.update)
        failed_by_budget = failing and report.passed
        changes = self._function_changes(nodeid, status, measurement)
        # By line and every function: only where they are shown or kept.
        reported = self.settings.report_path is not None or self.settings.autosave
        hottest = self._hottest_lines(measurement) if failing or reported else []
        if failing:
            from .render.failure import over_budget_message

            sources: dict[str, list[str]] = {}
            shown = [(line, source_of(path, line.line, sources)) for line, path in hottest]
            assert limit is not None
            compared = self.settings.compare_path
            _fail(
                report,
                over_budget_message(
                    measurement,
                    limit,
                    functions,
                    shown,
                    tolerance,
                    budgets=_shown_path(self.settings.budgets_path, self.config),
                    changes=changes,
                    baseline_name=(
                        _shown_path(compared, self.config) if compared else "the baseline"
                    ),
                ),
            )
        # Every function's own count: what a later compare needs to say exactly
        # which functions changed.
        kept: tuple[FunctionCount, ...] = ()
        if reported:
            kept = tuple(
                replace(function, file=self._relative(function.file))
                for function in measurement.functions
            )
        return TestRecord(
            nodeid=nodeid,
            instructions=instructions,
            limit=limit,
            status=status,
            outcome=report.outcome,
            top_functions=functions,
            baseline=baseline,
            unstable=measurement.unstable,
            top_lines=tuple(line for line, _ in hottest),
            functions=kept,
            function_changes=changes,
            failed_by_budget=failed_by_budget,
        )

    def _function_changes(
        self, nodeid: str, status: Status, measurement: Measurement
    ) -> tuple[FunctionChange, ...]:
        """With a baseline whose entry names this test's functions, for a
        regressed or over-budget test: the functions whose own counts moved
        most (against a report that kept only the biggest, the others
        together)."""
        if self.baseline is None or status not in PROBLEMS:
            return ()
        after = [replace(f, file=self._relative(f.file)) for f in measurement.functions]
        return self.baseline.function_changes(nodeid, after)

    def _hottest_lines(self, measurement: Measurement) -> list[tuple[LineCount, str]]:
        """The hottest lines (files as the report shows them), each with the full
        path of its file, to read its source from."""
        hottest = itertools.islice(measurement.by_line.items(), TOP_LINES)
        return [
            (LineCount(self._relative(file), line, count), file) for (file, line), count in hottest
        ]

    def _relative(self, filename: str) -> str:
        shown = self._shown_files.get(filename)
        if shown is None:  # relpath is slow, and the same files come back test after test
            # `<string>` and `<frozen os>` are no paths: under a subdirectory
            # of the rootdir, relpath would make them `sub/<string>`.
            shown = self._shown_files[filename] = relative_file(filename, str(self.config.rootpath))
        return shown


class _TestHooks:
    """The per-test hooks, registered by `BytecountPlugin._watch_tests()`."""

    def __init__(self, plugin: BytecountPlugin) -> None:
        self.plugin = plugin

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        # tryfirst: the state must exist before fixtures (ours included) run.
        self.plugin.setup_test(item)

    @pytest.hookimpl(trylast=True, specname="pytest_runtest_setup")
    def pytest_runtest_setup_check_counting(self, item: pytest.Item) -> None:
        # trylast: after the fixtures, which may hold what counting needs.
        self.plugin.check_counting(item)

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        self.plugin.teardown_test(item)

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        return (yield from self.plugin.call_test(item))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        return (yield from self.plugin.make_report(item, call))


def _examples_of(function: object, state: _TestState) -> Any:
    """The Hypothesis handle of a `@given` test, whose examples are measured
    one by one; None for other tests."""
    if state.hypothesis is None or not state.hypothesis.by_example:
        return None
    return getattr(function, "hypothesis", None)


def _is_worker(config: pytest.Config) -> bool:
    """Whether this is a pytest-xdist worker, which leaves files and session
    warnings to the controller."""
    return hasattr(config, "workerinput")


def _fail(report: pytest.TestReport, message: str) -> None:
    """Fail a passing test with `message`; a failed test keeps its own failure."""
    if report.passed:
        report.outcome = "failed"
        report.longrepr = message
    else:
        report.sections.append(("bytecount", message))


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


#: How much of a bad marker argument the test's error shows, and from how
#: many digits on an int is shown by their number.
SHOWN_LENGTH: Final = 60
SHOWN_DIGITS: Final = 20


def marker_limit(item: pytest.Item) -> Limit | None:
    """The closest `max_instructions` marker's limit; fails the test if
    malformed, in one line naming the marker and the value. The limit is
    below 2**63, as every count in a report is."""
    marker = item.get_closest_marker(MARKER)
    if marker is None:
        return None
    args, kwargs = marker.args, dict(marker.kwargs)
    tolerance = kwargs.pop("tolerance", None)
    if kwargs:
        got = "keyword arguments " + ", ".join(
            f"{key}={_shown(value)}" for key, value in kwargs.items()
        )
    elif not args:
        got = "no argument"
    elif len(args) > 1:
        got = f"{len(args)} arguments ({', '.join(_shown(arg) for arg in args)})"
    elif isinstance(args[0], bool) or not isinstance(args[0], int):
        got = f"{_shown(args[0])} ({type(args[0]).__name__})"
    elif args[0] <= 0:
        got = _shown(args[0])
    elif args[0] > MAX_COUNT:
        got = f"{_shown(args[0])}, above the largest limit, 2**63 - 1"
    else:
        return Limit(int(args[0]), LimitSource.MARKER, _marker_tolerance(tolerance))
    pytest.fail(
        f"@pytest.mark.{MARKER} takes one positive int (the instruction limit) and an "
        f'optional tolerance="2%", got {got}',
        pytrace=False,
    )


def _marker_tolerance(value: object) -> float | None:
    """The marker's `tolerance=`: "2%", "2.5" or a number, as --bytecount-tolerance."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return parse_tolerance(value)
        except ValueError:
            pass
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 100:
        return float(value)
    # Not failed in the except clause: pytest would show the ValueError as well.
    pytest.fail(
        f"@pytest.mark.{MARKER}(tolerance=...): expected a percentage from 0% to below 100% "
        f'such as "2%" or 0.5, got {_shown(value)}',
        pytrace=False,
    )


def _shown(value: object) -> str:
    """`repr(value)` for an error message: cut short, in one line, an int of
    many digits by their number (Python prints none of over 4,300), and a
    value whose `repr` fails by its type."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**SHOWN_DIGITS:
        size = abs(value)
        digits = size.bit_length() * 1233 >> 12  # log10(2) from below: at most a few short
        while size >= 10**digits:
            digits += 1
        return f"an int of {digits:,} digits"
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - any failure of the user's repr is reported the same
        text = f"<{type(value).__name__} object, its repr failed>"
    if len(text) > SHOWN_LENGTH:
        text = text[: SHOWN_LENGTH - 3] + "..."
    return one_line(text)


def _load_budgets(settings: Settings) -> Budgets:
    if settings.disabled:
        return Budgets(settings.budgets_path)
    try:
        return Budgets.load(settings.budgets_path)
    except BudgetsError as exc:
        raise pytest.UsageError(str(exc)) from None


def _load_baseline(settings: Settings, tag: str) -> LoadedReport | None:
    if settings.compare_path is None or settings.disabled:
        return None
    from .report import ReportError, load_report

    try:
        baseline = load_report(settings.compare_path)
    except ReportError as exc:
        raise pytest.UsageError(f"--bytecount-compare: {exc}") from None
    if baseline.tag != tag:
        raise pytest.UsageError(
            f"--bytecount-compare: {settings.compare_path} holds counts of {baseline.tag}, "
            f"not of the running {tag}: counts differ between interpreters"
        )
    return baseline


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _shown_path(path: Path, config: pytest.Config) -> str:
    """A file the run reads or writes, as the summary names it."""
    return relative_file(str(path), str(config.rootpath))
