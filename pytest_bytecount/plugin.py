"""The pytest glue: options, the marker, the fixture, and the hooks.

One `BytecountPlugin` is created in `pytest_configure`, kept under a
`StashKey`, registered with the plugin manager and removed again in
`pytest_unconfigure`. Its hooks hand each job to the module that does it:
what the run knows is `run.py`, each test's span `runner.py`, its report
`reporting.py`, the files at the end `outputs.py` and the terminal
`terminal.py`. Each test's state lives in its own stash.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any, Final

import pytest

from . import complexity_marker, terminal
from .complexity_marker import MARKER_HELP as COMPLEXITY_HELP
from .complexity_marker import report_verdicts
from .complexity_verdict import judge
from .fixture import Bytecount
from .marker import MARKER_HELP
from .options import COMPARE_PATH_KEY, Settings, add_options
from .outputs import Outputs
from .reporting import Reporter
from .run import BytecountWarning as BytecountWarning  # public here: users filter it by this path
from .run import Run
from .runner import TestRunner

PLUGIN_KEY: Final = pytest.StashKey["BytecountPlugin"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    config.addinivalue_line("markers", COMPLEXITY_HELP)
    plugin = BytecountPlugin(Run(config, Settings.from_config(config)))
    config.stash[PLUGIN_KEY] = plugin
    config.pluginmanager.register(plugin, "bytecount-plugin")
    if not plugin.run.is_worker:
        for warning in plugin.run.hash_seed_warnings():
            try:
                config.issue_config_time_warning(BytecountWarning(warning), stacklevel=2)
            except BytecountWarning as error:
                # A warning filter (`filterwarnings = error`, `-W error`) made
                # it an error: say so as pytest says usage errors, not as an
                # internal error's traceback.
                raise pytest.UsageError(f"{error} (a warning filter makes this an error)") from None


def pytest_unconfigure(config: pytest.Config) -> None:
    plugin = config.stash.get(PLUGIN_KEY, None)
    if plugin is not None:
        del config.stash[PLUGIN_KEY]
        if plugin.test_hooks is not None:
            config.pluginmanager.unregister(plugin.test_hooks)
        config.pluginmanager.unregister(plugin)


@pytest.fixture
def bytecount(request: pytest.FixtureRequest) -> Bytecount:
    """Measure blocks (`with bytecount.measure() as m:`) and calls
    (`bytecount(fn, *args)`, `bytecount.warm(fn, *args)`) in this test."""
    return request.config.stash[PLUGIN_KEY].fixture_for(request.node)


class BytecountPlugin:
    """The session-wide hooks of one run."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.runner = TestRunner(run)
        self.reporter = Reporter(run)
        self.test_hooks: TestHooks | None = None

    def fixture_for(self, item: pytest.Item) -> Bytecount:
        if self.test_hooks is None and not self.run.settings.disabled:
            # Asked for by getfixturevalue(), unseen at collection: watch
            # from now on.
            self._watch_tests()
            self.runner.setup_late(item)
        return self.runner.fixture_for(item)

    def _watch_tests(self) -> None:
        """Register the per-test hooks: only for a run with a test to measure,
        since pytest calls each hook of each test whether it has work or not."""
        if self.test_hooks is None:
            self.test_hooks = TestHooks(self.runner, self.reporter)
            self.run.config.pluginmanager.register(self.test_hooks, "bytecount-tests")

    # -- collection, for stale budgets and which tests to watch -----------

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.run.collection.collected(item.nodeid for item in session.items)
        if not self.run.settings.disabled and any(map(self.run.may_measure, session.items)):
            self._watch_tests()

    def pytest_deselected(self, items: Sequence[pytest.Item]) -> None:
        self.run.collection.deselected(item.nodeid for item in items)
        complexity_marker.deselected(items)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.run.collection.failed_to_collect(report.nodeid)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: object, ids: Sequence[str]) -> None:
        self.run.collection.collected(ids, from_worker=True)

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        # The report the controller compares with, resolved once: a worker
        # resolving --bytecount-compare=latest itself could find another.
        if self.run.settings.compare_path is not None:
            node.workerinput[COMPARE_PATH_KEY] = str(self.run.settings.compare_path)

    # -- results and the session's end -------------------------------------

    @pytest.hookimpl(trylast=True)  # after other plugins have seen the report as it came
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.reporter.collect(report)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Generator[None, object, object]:
        # Once every test has run (on every xdist worker): each group of
        # `max_complexity` cases is fitted, and reported as a test of its own.
        result = yield
        run = self.run
        if run.cases and not run.is_worker:
            counts = {nodeid: run.records[nodeid].instructions for nodeid in run.cases}
            run.verdicts = judge(
                run.cases,
                counts,
                recorded=run.budgets.growth_classes(run.tag),
                budgets_file=run.shown_path(run.settings.budgets_path),
                updating=run.settings.update,
            )
            # Counted as collected tests: the progress stays within 100%.
            session.testscollected += len(run.verdicts)
            report_verdicts(session.config, run.verdicts, run.cases.values(), run.extra("explain"))
        return result

    def pytest_report_header(self) -> list[str]:
        return terminal.header_lines(self.run)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.run.is_worker:  # pytest-xdist workers hand their records to the controller
            Outputs(self.run).finish(session)

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        terminal.write_summary(self.run, terminalreporter)


class TestHooks:
    """The per-test hooks, registered by `BytecountPlugin._watch_tests()`."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    def __init__(self, runner: TestRunner, reporter: Reporter) -> None:
        self.runner = runner
        self.reporter = reporter

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        # tryfirst: the state must exist before fixtures (ours included) run.
        self.runner.setup_test(item)

    @pytest.hookimpl(trylast=True, specname="pytest_runtest_setup")
    def pytest_runtest_setup_check_counting(self, item: pytest.Item) -> None:
        # trylast: after the fixtures, which may hold what counting needs.
        self.runner.check_counting(item)

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        self.runner.teardown_test(item)

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        return (yield from self.runner.call_test(item))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        return (yield from self.reporter.make_report(item, call))
