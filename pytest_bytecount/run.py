"""What one pytest run knows: its settings, the budgets and baseline it
loaded, how its spans count, and what its tests recorded.

One `Run` is made in `pytest_configure` and handed to the modules that do
the run's work (`runner.py`, `reporting.py`, `outputs.py`, `terminal.py`);
none of them keeps state of its own. Loading bad budgets or a bad baseline
stops the run with a one-line usage error here, before any test runs.
"""

from __future__ import annotations

import warnings
from dataclasses import astuple, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal, final

import pytest

from . import determinism
from .attribution import relative_file
from .budgets import Budgets
from .budgets_toml import BudgetsError
from .compare import hash_seed_mismatch
from .complexity_verdict import MARKER as COMPLEXITY_MARKER
from .complexity_verdict import Case, Verdict
from .counting import Meter, SpanOptions, thread_meter
from .determinism import hash_seed_warning
from .engine import CountingUnavailable, ModuleFilter
from .marker import MARKER, marker_limit
from .options import Settings
from .records import RecordMaker, TestRecord
from .report import interpreter_tag
from .selection import Collection
from .verdict import PROBLEMS, Limit, LimitSource

if TYPE_CHECKING:
    from .report_loader import LoadedReport

#: The fixture's name: a test that asks for it is measured.
FIXTURE: Final = "bytecount"


class BytecountWarning(pytest.PytestWarning):
    """Counting was asked for but could not be done."""


# Named where the docs and users' warning filters name it.
BytecountWarning.__module__ = "pytest_bytecount.plugin"


@final
@dataclass(frozen=True)
class Extras:
    """What travels with a test's record but is not part of the JSON report:
    its `explain()` text and call paths (folded stacks, or why there are
    none) when the run asked for them, and why `--bytecount-repeat` could
    not check it."""

    explain: str | None = None
    folded: str | None = None
    paths_lost: str | None = None
    unrepeated: str | None = None
    #: The `max_complexity` case the test is (`Case.to_text()`), if marked.
    complexity: str | None = None
    #: The page's annotated source of the test (`source_counts.as_text`).
    source: str | None = None


class Run:
    """One run's settings, inputs and results."""

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
            # Calls into C, named where call paths are: each costs a callback.
            c_calls=settings.stacks,
        )
        self.budgets = _load_budgets(settings)
        self.budget_table = self.budgets.table(self.tag)
        self.baseline = _load_baseline(settings, self.tag)
        self.collection = Collection(config)
        self.maker = RecordMaker(
            root=str(config.rootpath),
            tolerance=settings.tolerance,
            baseline=self.baseline,
            updating=settings.update,
            keep_functions=settings.report_path is not None or settings.autosave,
        )
        # Looked up when called: the suite's in-process runs are told a fixed seed.
        self.hash_seed = determinism.hash_seed()
        # pytest-randomly reseeds `random` before each test itself.
        self.randomly = config.pluginmanager.has_plugin("randomly")
        self.seeds_random = settings.seed_random and not self.randomly and not settings.disabled
        #: Each measured test's record, and what came with it (only where
        #: there was something), by node id, in the order they were reported.
        self.records: dict[str, TestRecord] = {}
        self.extras: dict[str, Extras] = {}
        #: Where each measured test is defined, for GitHub annotations.
        self.locations: dict[str, tuple[str, int]] = {}
        #: Budgets of tests that no longer exist, found at the end.
        self.stale: list[str] = []
        #: What the run wrote, and could not, a line each, for the summary.
        self.written: list[str] = []
        self.write_errors: list[str] = []
        #: After --bytecount-update wrote the budgets file: the tests it recorded
        #: and the stale budgets it pruned, for the summary.
        self.updated: tuple[frozenset[str], frozenset[str]] | None = None
        self._warned = False
        #: The `max_complexity` cases measured, by node id, and the verdicts
        #: of their groups once the tests have run.
        self.cases: dict[str, Case] = {}
        self.verdicts: list[Verdict] = []
        # Only the HTML page reads the explanations and call paths: it shows
        # a bounded number of tests (`html.DETAILED`), so the others' are let
        # go as the run goes, not kept for every test of a large suite.
        self._page_only = (
            settings.html_path is not None and not settings.explain and settings.profile_dir is None
        )
        #: The sections the page shows, and how many tests had their extras
        #: whole after the last pruning.
        self._page_sections = _page_sections() if self._page_only else 0
        self._kept_whole = 0
        # The last test the page would show, as of the last pruning, by the
        # page's order (`_page_rank`): a test after it can never be shown.
        self._page_last: tuple[int, str] | None = None

    @property
    def meter(self) -> Meter:
        # Per thread: tests need not run on the thread that configured pytest.
        return thread_meter()

    @property
    def is_worker(self) -> bool:
        """Whether this is a pytest-xdist worker, which leaves files and
        session warnings to the controller."""
        return hasattr(self.config, "workerinput")

    def hash_seed_warnings(self) -> list[str]:
        """What to say, at the start, of this run's hash seed: recording
        budgets with a random one, or comparing with a report made with
        another."""
        found = []
        if self.settings.update and self.hash_seed == "random":
            found.append(f"recording budgets with --bytecount-update: {hash_seed_warning()}")
        if self.baseline is not None:
            mismatch = hash_seed_mismatch(
                self.baseline.hash_seed,
                self.hash_seed,
                old_name=f"--bytecount-compare {self.baseline.path.name}",
                new_name="this run",
            )
            if mismatch is not None:
                found.append(mismatch)
        return found

    def limit_for(self, item: pytest.Item) -> Limit | None:
        """The test's limit: its marker's (failing the test if malformed),
        else its budget in the budgets file, else none."""
        limit = marker_limit(item)
        if limit is None and item.nodeid in self.budget_table:
            tolerance = self.budgets.tolerance(self.tag, item.nodeid)
            limit = Limit(self.budget_table[item.nodeid], LimitSource.FILE, tolerance)
        return limit

    def may_measure(self, item: pytest.Item) -> bool:
        """Whether the run may measure this collected test."""
        return (
            self.settings.measure_all
            or item.nodeid in self.budget_table
            or FIXTURE in getattr(item, "fixturenames", ())
            or item.get_closest_marker(MARKER) is not None
            or item.get_closest_marker(COMPLEXITY_MARKER) is not None
        )

    def unavailable_reason(self) -> str | None:
        """Why this thread cannot count as the run asks, or None if it can."""
        try:
            engine = self.meter.engine
        except CountingUnavailable as exc:
            return str(exc)
        if self.settings.all_threads and not engine.counts_all_threads:
            return f"bytecount_threads = all: {engine.name} counts one thread only (3.12+ needed)"
        return engine.unavailable_reason()

    def warn_once(self, reason: str) -> None:
        """Warn that the run is not counting, once however many tests it skips."""
        if not self._warned:
            self._warned = True
            warnings.warn(
                BytecountWarning(f"pytest-bytecount is not counting: {reason}"), stacklevel=2
            )

    def shown_path(self, path: Path) -> str:
        """A file the run reads or writes, as the summary names it."""
        return relative_file(str(path), str(self.config.rootpath))

    def keep(self, record: TestRecord, extras: Extras | None) -> None:
        """Keep a measured test's record, reported here or by an xdist worker.
        A test reported again (a rerun) replaces its record, and each of its
        extras it brings anew."""
        self.records[record.nodeid] = record
        if extras is not None and extras.complexity is not None:
            self.cases[record.nodeid] = Case.from_text(extras.complexity)
        if extras is not None:
            kept = self.extras.get(record.nodeid)
            if kept is not None:
                extras = Extras(
                    *(
                        new if new is not None else old
                        for new, old in zip(astuple(extras), astuple(kept), strict=True)
                    )
                )
            self.extras[record.nodeid] = extras
            # Every `html.DETAILED` tests more: the sort below stays a small
            # part of the run, however many problems are kept whole.
            if self._page_only and len(self.extras) > self._kept_whole + self._page_sections:
                self._keep_for_the_page()
                self._kept_whole = len(self.extras)

    def page_may_show(self, record: TestRecord) -> bool:
        """Whether a test's explanation and call paths may be read: always,
        unless only the HTML page reads them and it could not show this
        test (not a problem, and under every count it shows so far). Making
        them is most of what a measured test costs such a run."""
        return (
            not self._page_only
            or record.status in PROBLEMS
            or self._page_last is None
            or _page_rank(record) < self._page_last
        )

    def _keep_for_the_page(self) -> None:
        """Let go the call paths and explanations of the tests the page
        cannot show: it shows every problem, then the highest counts."""
        most = self._page_sections
        ranked = sorted(
            (nodeid for nodeid in self.extras if self.records[nodeid].status not in PROBLEMS),
            key=lambda nodeid: _page_rank(self.records[nodeid]),
        )
        if len(ranked) >= most > 0:
            self._page_last = _page_rank(self.records[ranked[most - 1]])
        for nodeid in ranked[most:]:
            extras = self.extras[nodeid]
            if extras.paths_lost is None and extras.unrepeated is None:
                del self.extras[nodeid]
            else:
                self.extras[nodeid] = replace(extras, explain=None, folded=None, source=None)

    def extra(
        self, name: Literal["explain", "folded", "paths_lost", "unrepeated", "source"]
    ) -> dict[str, str]:
        """One of the `Extras` fields, by node id, for the tests that have it."""
        found = {}
        for nodeid, extras in self.extras.items():
            value = getattr(extras, name)
            if value is not None:
                found[nodeid] = value
        return found


def _page_rank(record: TestRecord) -> tuple[int, str]:
    """Where the page puts a test that is no problem: highest counts first."""
    return (-record.instructions, record.nodeid)


def _page_sections() -> int:
    from .render import html

    return html.DETAILED


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
    from .report_loader import ReportError, load_report

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
