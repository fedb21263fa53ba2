"""A measured test's record (pure, no pytest): what the plugin keeps of a
test, what a report's entry holds, and how one is made from a measurement.

A record is built once, where the test ran (an xdist worker builds it
there), from the judged `Measurement`: its status, its biggest functions and
hottest lines with files as reports name them, and, against a baseline, the
functions whose own counts moved. Renderers receive it ready-made.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol, final

from . import stack_diff
from .attribution import FunctionKey, relative_file
from .compare import Change, ChangeKind, FunctionChange
from .measurement import FunctionCount, LineCount, Measurement
from .verdict import PROBLEMS, Limit, LimitSource, Status, fails, judge


class Baseline(Protocol):
    """The report a run compares with (`report_loader.LoadedReport`), as
    far as a record needs it."""

    @property
    def counts(self) -> Mapping[str, int]: ...

    def function_changes(
        self, nodeid: str, after: Iterable[FunctionCount]
    ) -> tuple[FunctionChange, ...]: ...


#: The biggest functions a record names with the test's count.
TOP_FUNCTIONS: Final = 5
#: The hottest lines a report entry keeps.
TOP_LINES: Final = 10
#: The calls into C a report entry keeps, most made first.
TOP_C_CALLS: Final = 10


@final
@dataclass(frozen=True)
class CCallCount:
    """How often the code on one line called one function not written in Python."""

    name: str
    file: str
    line: int
    calls: int


@final
@dataclass(frozen=True)
class TestRecord:
    """What was recorded for one measured test."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    nodeid: str
    instructions: int
    limit: Limit | None
    status: Status
    outcome: str
    top_functions: tuple[FunctionCount, ...] = ()
    baseline: int | None = None
    #: Why the count may differ next run (another thread ran), or None.
    unstable: str | None = None
    #: Where the instructions went, for a later compare to name what changed
    #: (recorded where a report is written).
    top_lines: tuple[LineCount, ...] = ()
    #: Every function's own count, highest first (recorded where a report is
    #: written; read from a report of an earlier version, only the biggest:
    #: see `functions_complete`).
    functions: tuple[FunctionCount, ...] = ()
    #: With a baseline, for a regressed or over-budget test: the functions
    #: whose own counts moved most.
    function_changes: tuple[FunctionChange, ...] = ()
    #: The test passed, and failed only for being over its budget: recording
    #: budgets from the report takes its count, as --bytecount-update would.
    failed_by_budget: bool = False
    #: The calls into C made most, where they were counted (with call
    #: paths), else None.
    c_calls: tuple[CCallCount, ...] | None = None
    #: Its call paths, bounded (`stack_diff.bounded`): (folded stack,
    #: instructions) sorted by stack, for a later run's differential flame
    #: graph; recorded where a report is written and call paths are.
    stacks: tuple[tuple[str, int], ...] | None = None

    @property
    def functions_complete(self) -> bool:
        """Whether `functions` names every function that ran: their own
        counts add up to the test's (a function that ran counts at least one
        instruction), which is not so where a report kept only the biggest."""
        return sum(function.instructions for function in self.functions) == self.instructions

    def to_json(
        self,
        table: Mapping[FunctionKey, int] | None = None,
        frames: Mapping[str, int] | None = None,
    ) -> dict[str, Any]:
        """This test's entry in the report's `tests` list: its functions as
        indices into the report's `table` of functions and its stacks' frames
        into its `frames`, or without them (a test's record on its way from
        an xdist worker) each by name."""
        limit = self.limit
        entry: dict[str, Any] = {
            "nodeid": self.nodeid,
            "instructions": self.instructions,
            "limit": limit.instructions if limit is not None else None,
            "budget_source": limit.source.value if limit is not None else None,
            "status": self.status.value,
            "outcome": self.outcome,
            "top_functions": [_function_json(f) for f in self.top_functions[:TOP_FUNCTIONS]],
        }
        if self.baseline is not None:
            entry["baseline"] = self.baseline
        if limit is not None and limit.tolerance is not None:
            entry["tolerance"] = limit.tolerance
        entry["unstable"] = self.unstable
        if self.top_lines:
            entry["top_lines"] = [
                {"file": line.file, "line": line.line, "instructions": line.instructions}
                for line in self.top_lines
            ]
        if table is not None:
            entry["function_counts"] = [
                number
                for f in self.functions
                for number in (table[f.function, f.file, f.line], f.instructions)
            ]
        elif self.functions:
            entry["functions"] = [_function_json(function) for function in self.functions]
        if self.failed_by_budget:
            entry["failed_by_budget"] = True
        if self.c_calls is not None:
            entry["c_calls"] = [
                {"name": c.name, "file": c.file, "line": c.line, "calls": c.calls}
                for c in self.c_calls
            ]
        if self.stacks is not None:
            entry["stacks"] = [
                [count, *(frames[f] if frames is not None else f for f in stack.split(";"))]
                for stack, count in self.stacks
            ]
        if self.function_changes:
            entry["function_changes"] = [
                {"function": c.function, "file": c.file, "line": c.line}
                | {"before": c.before, "after": c.after}
                for c in self.function_changes
            ]
        return entry

    @classmethod
    def from_json(
        cls,
        entry: Mapping[str, Any],
        table: Sequence[FunctionKey] = (),
        frames: Sequence[str] = (),
    ) -> TestRecord:
        """The inverse of `to_json`, for an entry already checked against the
        schema; `table` is the report's `functions`, `frames` its frames."""
        limit = entry.get("limit")
        if "function_counts" in entry:
            counts: list[int] = entry["function_counts"]
            named = (table[index] for index in counts[::2])
            functions = tuple(
                FunctionCount(name, file, line, count)
                for (name, file, line), count in zip(named, counts[1::2], strict=True)
            )
        else:
            functions = tuple(_function_of(f) for f in entry.get("functions", ()))
        source = entry.get("budget_source")
        return cls(
            nodeid=entry["nodeid"],
            instructions=entry["instructions"],
            limit=(
                Limit(limit, LimitSource(source), entry.get("tolerance"))
                if limit is not None and source
                else None
            ),
            status=Status(entry["status"]),
            outcome=entry["outcome"],
            top_functions=tuple(_function_of(f) for f in entry.get("top_functions", ())),
            top_lines=tuple(
                LineCount(line["file"], line["line"], line["instructions"])
                for line in entry.get("top_lines", ())
            ),
            functions=functions,
            function_changes=tuple(
                FunctionChange(c["function"], c["file"], c["line"], c["before"], c["after"])
                for c in entry.get("function_changes", ())
            ),
            baseline=entry.get("baseline"),
            unstable=entry.get("unstable"),
            failed_by_budget=entry.get("failed_by_budget", False) is True,
            c_calls=(
                tuple(
                    CCallCount(c["name"], c["file"], c["line"], c["calls"])
                    for c in entry["c_calls"]
                )
                if "c_calls" in entry
                else None
            ),
            stacks=(
                tuple(
                    (";".join(f if isinstance(f, str) else frames[f] for f in path), count)
                    for count, *path in entry["stacks"]
                )
                if "stacks" in entry
                else None
            ),
        )


def _function_json(function: FunctionCount) -> dict[str, Any]:
    return {
        "function": function.function,
        "file": function.file,
        "line": function.line,
        "instructions": function.instructions,
    }


def _function_of(entry: Mapping[str, Any]) -> FunctionCount:
    return FunctionCount(entry["function"], entry["file"], entry["line"], entry["instructions"])


def against_limits(records: Iterable[TestRecord]) -> list[Change]:
    """Each test's count as a change from its limit, in `compare()`'s order
    of kinds: what a run without a baseline report has to compare with."""
    changes = [_against_limit(record) for record in records]
    return sorted(changes, key=lambda change: (list(ChangeKind).index(change.kind), change.nodeid))


def _against_limit(record: TestRecord) -> Change:
    limit = record.limit.instructions if record.limit is not None else None
    if (
        record.status is Status.OK
        and record.limit is not None
        and record.limit.source is LimitSource.MARKER
        and record.instructions <= record.limit.instructions
    ):
        # Under a marker's cap is not "within tolerance" of it: counted as
        # unchanged (no row shows an unchanged test's old count).
        limit = record.instructions
    kind = {
        Status.OVER: ChangeKind.REGRESSED,
        Status.REGRESSED: ChangeKind.REGRESSED,
        Status.IMPROVED: ChangeKind.IMPROVED,
        Status.NEW: ChangeKind.NEW,
        Status.OK: ChangeKind.UNCHANGED,
    }[record.status]
    return Change(record.nodeid, limit, record.instructions, kind)


@final
@dataclass(frozen=True)
class Judged:
    """A test's record, and what its failure text needs beyond it."""

    record: TestRecord
    #: The test fails for its count: over its limit, or, with
    #: --bytecount-compare, regressed against the baseline.
    failing: bool
    #: The hottest lines (files as reports name them), each with the full
    #: path of its file, to read its source from.
    hottest: tuple[tuple[LineCount, str], ...]


@final
class RecordMaker:
    """Makes each test's record from its measurement, as the run judges it:
    against its limit, the run's tolerance and, if any, the baseline."""

    def __init__(
        self,
        *,
        root: str,
        tolerance: float,
        baseline: Baseline | None,
        updating: bool,
        keep_functions: bool,
    ) -> None:
        self.root = root
        self.tolerance = tolerance
        self.baseline = baseline
        self.updating = updating
        #: Keep every function's own count and the hottest lines: a report
        #: (or a saved run) will be written, which a later compare reads.
        self.keep_functions = keep_functions
        self._shown_files: dict[str, str] = {}

    def make(
        self,
        nodeid: str,
        measurement: Measurement,
        limit: Limit | None,
        *,
        outcome: str,
        folded: Callable[[], str] | None = None,
    ) -> Judged:
        """The record of test `nodeid`, whose pytest outcome is `outcome`: a
        passed test whose count fails it is recorded as failed. `folded`:
        its folded stacks, where the caller keeps them for its own use too."""
        instructions = measurement.instructions
        baseline = self.baseline.counts.get(nodeid) if self.baseline is not None else None
        status = judge(instructions, limit, tolerance=self.tolerance, baseline=baseline)
        failing = fails(status, limit, updating=self.updating)
        # By line and every function: only where they are shown or kept.
        hottest = self._hottest_lines(measurement) if failing or self.keep_functions else ()
        record = TestRecord(
            nodeid=nodeid,
            instructions=instructions,
            limit=limit,
            status=status,
            outcome="failed" if failing and outcome == "passed" else outcome,
            top_functions=self._functions(measurement.functions[:TOP_FUNCTIONS]),
            baseline=baseline,
            unstable=measurement.unstable,
            top_lines=tuple(line for line, _ in hottest),
            # Every function's own count: what a later compare needs to say
            # exactly which functions changed.
            functions=self._functions(measurement.functions) if self.keep_functions else (),
            function_changes=self._function_changes(nodeid, status, measurement),
            failed_by_budget=failing and outcome == "passed",
            c_calls=self._c_calls(measurement),
            stacks=self._stacks(measurement, folded or measurement.folded)
            if self.keep_functions
            else None,
        )
        return Judged(record, failing, hottest)

    def _stacks(
        self, measurement: Measurement, folded: Callable[[], str]
    ) -> tuple[tuple[str, int], ...] | None:
        if not measurement.has_call_paths:
            return None
        return tuple(stack_diff.bounded(stack_diff.parse_folded(folded())).items())

    def _c_calls(self, measurement: Measurement) -> tuple[CCallCount, ...] | None:
        try:
            made = measurement.c_calls
        except ValueError:  # not counted in this run (without call paths, or on 3.10)
            return None
        top = itertools.islice(made.items(), TOP_C_CALLS)
        return tuple(
            CCallCount(name, self._relative(file), line, calls) for (name, file, line), calls in top
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
        return self.baseline.function_changes(nodeid, self._functions(measurement.functions))

    def _hottest_lines(self, measurement: Measurement) -> tuple[tuple[LineCount, str], ...]:
        hottest = itertools.islice(measurement.by_line.items(), TOP_LINES)
        return tuple(
            (LineCount(self._relative(file), line, count), file) for (file, line), count in hottest
        )

    def _functions(self, functions: Iterable[FunctionCount]) -> tuple[FunctionCount, ...]:
        # Without `total`, which a record's JSON does not carry: a record is
        # the same whether it was made here or read back from an xdist
        # worker's report. Made directly: dataclasses.replace() costs several
        # times as much, per function of every test.
        return tuple(
            FunctionCount(f.function, self._relative(f.file), f.line, f.instructions)
            for f in functions
        )

    def _relative(self, filename: str) -> str:
        shown = self._shown_files.get(filename)
        if shown is None:  # relpath is slow, and the same files come back test after test
            # `<string>` and `<frozen os>` are no paths: under a subdirectory
            # of the rootdir, relpath would make them `sub/<string>`.
            shown = self._shown_files[filename] = relative_file(filename, self.root)
        return shown
