"""The pytest glue: options, the marker, the fixture, and the hooks.

One `BytecountPlugin` is created in `pytest_configure`, kept under a
`StashKey`, registered with the plugin manager and removed again in
`pytest_unconfigure`. Each test's state lives in its own stash.
"""

from __future__ import annotations

import functools
import inspect
import os
import warnings
from collections.abc import Callable, Generator
from dataclasses import dataclass, replace
from typing import Final

import pytest

from . import __version__, summary
from .counting import Meter, thread_meter
from .engine import CountingFailed, CountingUnavailable, ModuleFilter
from .fixture import Bytecount
from .measurement import FunctionCount, Measurement
from .options import Settings, add_options
from .report import TOP_FUNCTIONS, TestRecord, build_report, interpreter_tag, write_json
from .verdict import SOURCE_LABELS, Limit, LimitSource, Status, change_percent, judge

MARKER: Final = "max_instructions"
TOP_OPCODES: Final = 8
MARKER_HELP: Final = (
    f"{MARKER}(n): fail the test when it executes more than n bytecode instructions"
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


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    plugin = BytecountPlugin(config, Settings.from_config(config))
    config.stash[PLUGIN_KEY] = plugin
    config.pluginmanager.register(plugin, "bytecount-plugin")


def pytest_unconfigure(config: pytest.Config) -> None:
    plugin = config.stash.get(PLUGIN_KEY, None)
    if plugin is not None:
        del config.stash[PLUGIN_KEY]
        config.pluginmanager.unregister(plugin)


@pytest.fixture
def bytecount(request: pytest.FixtureRequest) -> Bytecount:
    """Measure blocks (`with bytecount.measure() as m:`) and calls
    (`bytecount(fn, *args)`, `bytecount.warm(fn, *args)`) in this test."""
    return request.config.stash[PLUGIN_KEY].fixture_for(request.node)


class BytecountPlugin:
    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.modules = ModuleFilter(settings.exclude)
        self.records: dict[str, TestRecord] = {}
        self._warned = False

    @property
    def meter(self) -> Meter:
        # Per thread: tests need not run on the thread that configured pytest.
        return thread_meter()

    # -- per test ---------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        # tryfirst: the state must exist before fixtures (ours included) run.
        if self.settings.disabled:
            return
        limit = marker_limit(item)
        item.stash[TEST_STATE_KEY] = _TestState(
            limit=limit, measure_call=limit is not None or self.settings.measure_all
        )

    @pytest.hookimpl(trylast=True, specname="pytest_runtest_setup")
    def pytest_runtest_setup_check_counting(self, item: pytest.Item) -> None:
        # trylast: after the fixtures, which may hold what counting needs.
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

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        state = item.stash.get(TEST_STATE_KEY, None)
        if state is None or not state.measure_call:
            return (yield)
        function = _plain_test_function(item)
        if function is None:
            # unittest, doctest and custom items: the span is the item's
            # runtest(); trylast makes it the innermost wrapper.
            measurement = self._open_span(state)
            try:
                return (yield)
            finally:
                self._close_span(state, measurement)
        # The span is exactly the call of the test function: not what pytest
        # runs around it, even standard-library helpers it calls.
        assert isinstance(item, pytest.Function)
        item.obj = self._measured(function, state)
        try:
            return (yield)
        finally:
            item.obj = function

    def _measured(
        self, function: Callable[..., object], state: _TestState
    ) -> Callable[..., object]:
        @functools.wraps(function)
        def measured_test_function(*args: object, **kwargs: object) -> object:
            measurement = self._open_span(state)
            try:
                return function(*args, **kwargs)
            finally:
                self._close_span(state, measurement)
                if state.problem is None and state.call_measurement is not None:
                    state.problem = self._check_reached(function, state.call_measurement)

        return measured_test_function

    def _open_span(self, state: _TestState) -> Measurement | None:
        try:
            return self.meter.begin(self.modules, keep_gc=self.settings.keep_gc)
        except (CountingUnavailable, CountingFailed) as exc:
            state.problem = str(exc)
            return None

    def _close_span(self, state: _TestState, measurement: Measurement | None) -> None:
        if measurement is None:
            return
        try:
            self.meter.end(measurement)
        except (CountingFailed, RuntimeError) as exc:
            self.meter.abort()
            state.problem = str(exc)
        else:
            state.call_measurement = measurement

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        state = item.stash.get(TEST_STATE_KEY, None)
        if state is None or call.when != "call":
            return (yield)
        measurement = None if state.problem else state.recorded()
        if measurement is not None:
            # Before the report is made: it copies the item's user properties.
            item.user_properties.append(("bytecount_instructions", measurement.instructions))
        report = yield
        if state.problem is not None:
            self._report_problem(report, state)
        elif measurement is not None:
            self._judge(item, report, state.limit, measurement)
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        record = self.records.get(report.nodeid)
        if record is not None and report.when == "teardown" and report.failed:
            self.records[report.nodeid] = replace(record, outcome="error")

    def fixture_for(self, item: pytest.Item) -> Bytecount:
        fixture = Bytecount(
            self.meter,
            self.modules,
            keep_gc=self.settings.keep_gc,
            disabled=self.settings.disabled,
        )
        state = item.stash.get(TEST_STATE_KEY, None)
        if state is not None:
            state.fixture = fixture
        return fixture

    # -- session ----------------------------------------------------------

    def pytest_report_header(self, config: pytest.Config) -> str:
        if self.settings.disabled:
            return "bytecount: disabled (--bytecount-disable)"
        try:
            engine = self.meter.engine
        except CountingUnavailable as exc:
            return f"bytecount: unavailable: {exc}"
        return f"bytecount: {interpreter_tag()}, counting with {engine.name}"

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        path = self.settings.report_path
        if path is None or hasattr(self.config, "workerinput"):
            return
        data = build_report(list(self.records.values()), plugin_version=__version__)
        try:
            write_json(path, data)
        except OSError as exc:
            session.exitstatus = pytest.ExitCode.USAGE_ERROR
            reporter = self.config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_line(
                    f"ERROR: --bytecount-report: cannot write {path}: {exc.strerror}", red=True
                )

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.settings.disabled or (not self.records and not self.settings.measure_all):
            return
        records = list(self.records.values())
        terminalreporter.write_sep("-", f"bytecount ({interpreter_tag()})")
        for line in summary.render(records, verbosity=self.config.get_verbosity()):
            markup = {line.colour: True} if line.colour else {}
            terminalreporter.write_line(line.text, **markup)

    # -- helpers ------------------------------------------------------------

    def _unavailable_reason(self) -> str | None:
        try:
            return self.meter.engine.unavailable_reason()
        except CountingUnavailable as exc:
            return str(exc)

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
        message = f"pytest-bytecount could not count this test: {state.problem}"
        if not state.strict:
            self._warn_once(str(state.problem))
        elif report.passed:
            report.outcome = "failed"
            report.longrepr = message
        else:
            report.sections.append(("bytecount", message))

    def _judge(
        self,
        item: pytest.Item,
        report: pytest.TestReport,
        limit: Limit | None,
        measurement: Measurement,
    ) -> None:
        instructions = measurement.instructions
        functions = tuple(
            replace(function, file=self._relative(function.file))
            for function in measurement.functions[:TOP_FUNCTIONS]
        )
        status = judge(instructions, limit)
        if status is Status.OVER:
            assert limit is not None
            message = over_budget_message(measurement, limit, functions)
            if report.passed:
                report.outcome = "failed"
                report.longrepr = message
            else:
                report.sections.append(("bytecount", message))
        self.records[item.nodeid] = TestRecord(
            nodeid=item.nodeid,
            instructions=instructions,
            limit=limit,
            status=status,
            outcome=report.outcome,
            top_functions=functions,
        )

    def _relative(self, filename: str) -> str:
        try:
            relative = os.path.relpath(filename, self.config.rootpath)
        except ValueError:  # another drive on Windows
            return filename
        return filename if relative.startswith(os.pardir) else relative


def _plain_test_function(item: pytest.Item) -> Callable[..., object] | None:
    """The test function pytest will call, if `item` is a plain synchronous one."""
    if not isinstance(item, pytest.Function) or type(item).runtest is not pytest.Function.runtest:
        return None
    function = item.obj
    if inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function):
        return None
    return function if callable(function) else None


def marker_limit(item: pytest.Item) -> Limit | None:
    """The closest `max_instructions` marker's limit; fails the test if malformed."""
    marker = item.get_closest_marker(MARKER)
    if marker is None:
        return None
    args, kwargs = marker.args, marker.kwargs
    if kwargs:
        got = "keyword arguments " + ", ".join(f"{key}={value!r}" for key, value in kwargs.items())
    elif not args:
        got = "no argument"
    elif len(args) > 1:
        got = f"{len(args)} arguments {args!r}"
    elif isinstance(args[0], bool) or not isinstance(args[0], int):
        got = f"{args[0]!r} ({type(args[0]).__name__})"
    elif args[0] <= 0:
        got = f"{args[0]!r}"
    else:
        return Limit(args[0], LimitSource.MARKER)
    pytest.fail(
        f"@pytest.mark.{MARKER} takes one positive int (the instruction limit), got {got}",
        pytrace=False,
    )


def over_budget_message(
    measurement: Measurement, limit: Limit, functions: tuple[FunctionCount, ...]
) -> str:
    instructions = measurement.instructions
    source = (
        f"@pytest.mark.{MARKER}({limit.instructions})"
        if limit.source is LimitSource.MARKER
        else SOURCE_LABELS[limit.source]
    )
    lines = [
        f"bytecount: {instructions:,} instructions executed, over the limit of "
        f"{limit.instructions:,} set by {source}: +{instructions - limit.instructions:,} "
        f"({change_percent(instructions, limit.instructions):+.1f}%)",
    ]
    if functions:
        lines.append("functions that spent the most (own instructions):")
        lines.extend(
            f"  {f.instructions:>10,}  {f.function}  ({f.file}:{f.line})" for f in functions
        )
    opcodes = list(measurement.by_opcode.items())[:TOP_OPCODES]
    lines.append("top opcodes: " + ", ".join(f"{name} {count:,}" for name, count in opcodes))
    return "\n".join(lines)
