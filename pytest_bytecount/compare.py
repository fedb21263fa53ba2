"""Comparing the counts of two reports (pure, no pytest).

`compare` turns two sets of counts into per-test changes (render/compare.py
presents them); `function_changes` names the functions whose own counts
moved most within one test; `hash_seed_mismatch` says when two runs' hash
seeds alone may make their counts differ.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import Enum
from typing import Final, final

from .determinism import HASH_SEED_FIX
from .measurement import FunctionCount
from .verdict import change_percent, exceeds, falls_below

#: How many functions a regressed or over-budget test names as changed.
FUNCTION_CHANGES: Final = 5


def hash_seed_mismatch(
    old: str | None, new: str | None, *, old_name: str, new_name: str
) -> str | None:
    """Why counts of two runs may differ for their hash seeds alone, or None:
    either seed random, or the two different. An unknown seed (an older
    report) says nothing."""
    if old is None or new is None:
        return None
    random = [name for name, seed in ((old_name, old), (new_name, new)) if seed == "random"]
    if random:
        which = " and ".join(random)
        cause = f"{which} {'were' if len(random) > 1 else 'was'} made with a random hash seed"
    elif old != new:
        cause = f"{old_name} was made with PYTHONHASHSEED={old} and {new_name} with {new}"
    else:
        return None
    return (
        f"{cause}, so tests that iterate sets of strings may differ for that alone; "
        f"make both with {HASH_SEED_FIX}"
    )


# -- comparing ------------------------------------------------------------------


class ChangeKind(str, Enum):
    """How one test's count moved between two reports."""

    REGRESSED = "regressed"
    IMPROVED = "improved"
    NEW = "new"
    REMOVED = "removed"
    UNCHANGED = "unchanged"


#: Report order, and the order of the one-line count summary.
KIND_ORDER: Final = tuple(ChangeKind)


@final
@dataclass(frozen=True)
class Change:
    """One test's counts in the old and the new report (None: not in that report)."""

    nodeid: str
    old: int | None
    new: int | None
    kind: ChangeKind

    @property
    def delta(self) -> int | None:
        """New minus old; None for a test in only one report."""
        if self.old is None or self.new is None:
            return None
        return self.new - self.old

    @property
    def percent(self) -> float | None:
        """The change in percent of the old count.

        None for a test in only one report, and when the old count is 0:
        growth from nothing has no percentage (such a test, if it grew, is
        still a regression, listed first among them).
        """
        if self.old is None or self.new is None or self.old == 0:
            return None
        return change_percent(self.new, self.old)

    @property
    def within_tolerance(self) -> bool:
        """A count that moved, but not beyond the tolerance (its kind is
        `unchanged`, as JSON and the totals have always said)."""
        return self.kind is ChangeKind.UNCHANGED and bool(self.delta)


def compare(old: Mapping[str, int], new: Mapping[str, int], tolerance: float = 0.0) -> list[Change]:
    """Every test of either report with how its count moved, in report order.

    `tolerance` is in percent, as for budgets: a count is regressed above
    `old * (1 + tolerance/100)` and improved below `old * (1 - tolerance/100)`.
    Order: regressions (largest growth first), improvements (largest drop
    first), then new, removed and unchanged tests, each by node id.
    """
    nodeids = old.keys() | new.keys()
    return sorted((_change(n, old.get(n), new.get(n), tolerance) for n in nodeids), key=_order)


def _change(nodeid: str, old: int | None, new: int | None, tolerance: float) -> Change:
    return Change(nodeid, old, new, _kind(old, new, tolerance))


def _kind(old: int | None, new: int | None, tolerance: float) -> ChangeKind:
    if old is None:
        return ChangeKind.NEW
    if new is None:
        return ChangeKind.REMOVED
    if exceeds(new, old, tolerance):
        return ChangeKind.REGRESSED
    if falls_below(new, old, tolerance):
        return ChangeKind.IMPROVED
    return ChangeKind.UNCHANGED


def _order(change: Change) -> tuple[int, float, str]:
    percent = change.percent
    if change.kind is ChangeKind.REGRESSED:
        steepness = -percent if percent is not None else -math.inf
    elif change.kind is ChangeKind.IMPROVED and percent is not None:
        steepness = percent
    else:
        steepness = 0.0
    return KIND_ORDER.index(change.kind), steepness, change.nodeid


def tally(changes: Iterable[Change]) -> dict[str, int]:
    """Kind name to how many changes are of that kind, every kind present."""
    counted = dict.fromkeys((kind.value for kind in KIND_ORDER), 0)
    for change in changes:
        counted[change.kind.value] += 1
    return counted


# -- within a test: which functions changed -------------------------------------


#: What a change of the functions a partial baseline does not name, counted
#: together, is called (its `file` is empty).
UNLISTED: Final = "the functions the baseline does not list, together"


@final
@dataclass(frozen=True)
class FunctionChange:
    """A function's own count in the baseline and now.

    `before` is 0 for a function that did not run in the baseline, `after` 0
    for one that no longer runs. Against a baseline that listed only its
    test's biggest functions (a report of an earlier version), the others
    are one change, `UNLISTED`, with an empty `file`. `before` is None only
    in reports written by an earlier version, for a function it did not
    find listed: its change is unknown."""

    function: str
    file: str
    line: int
    before: int | None
    after: int

    @property
    def delta(self) -> int | None:
        """After minus before; None where the change is unknown."""
        return None if self.before is None else self.after - self.before

    @property
    def unlisted(self) -> bool:
        """Whether this is the change of the functions the baseline does not list."""
        return self.function == UNLISTED and not self.file


def function_changes(
    before: Iterable[FunctionCount],
    after: Iterable[FunctionCount],
    count: int = FUNCTION_CHANGES,
    *,
    before_total: int | None = None,
) -> tuple[FunctionChange, ...]:
    """The `count` functions whose own counts moved most between a baseline's
    entry (`before`) and now (`after`, every function that ran), largest
    move first; files as the report names them. A function whose count did
    not move is never named.

    `before_total` is the test's count in the baseline (None: `before` is
    every function that ran then). Where `before` names every function, one
    it does not name did not run then. Where it adds up to less (a report of
    an earlier version kept only the biggest), nothing is known of a
    function it does not name: those functions are compared together, as
    one change named `UNLISTED`, whose count then is what `before` leaves of
    the total.

    A function is known by its name and file: an edit above it moves its
    first line. Only where one file has two functions of one name, then or
    now (a redefinition, two lambdas), does the line tell them apart."""
    before, after = list(before), list(after)
    listed = sum(f.instructions for f in before)
    partial = before_total is not None and listed < before_total
    ambiguous = _repeated(before) | _repeated(after)
    old, new = _keyed(before, ambiguous), _keyed(after, ambiguous)
    changes = []
    unlisted_now = 0
    for key in old.keys() | new.keys():
        was, now = old.get(key), new.get(key)
        if now is None:
            assert was is not None
            changes.append(FunctionChange(was.function, was.file, was.line, was.instructions, 0))
        elif was is None and partial:
            unlisted_now += now.instructions
        elif was is None:
            changes.append(FunctionChange(now.function, now.file, now.line, 0, now.instructions))
        elif was.instructions != now.instructions:
            changes.append(
                FunctionChange(now.function, now.file, now.line, was.instructions, now.instructions)
            )
    if partial:
        assert before_total is not None
        changes.append(FunctionChange(UNLISTED, "", 0, before_total - listed, unlisted_now))
    changes = [change for change in changes if change.delta]
    changes.sort(key=lambda c: (-abs(c.delta or 0), c.file, c.line, c.function))
    return tuple(changes[:count])


def _repeated(functions: list[FunctionCount]) -> set[tuple[str, str]]:
    """The (name, file) pairs that functions of more than one first line have."""
    lines: dict[tuple[str, str], int] = {}
    repeated = set()
    for f in functions:
        if lines.setdefault((f.function, f.file), f.line) != f.line:
            repeated.add((f.function, f.file))
    return repeated


def _keyed(
    functions: list[FunctionCount], ambiguous: set[tuple[str, str]]
) -> dict[tuple[str, str, int | None], FunctionCount]:
    """`functions` by name, file and (for namesakes) line. Two code objects
    of one function (a module imported twice) count as one."""
    keyed: dict[tuple[str, str, int | None], FunctionCount] = {}
    for f in functions:
        key = (f.function, f.file, f.line if (f.function, f.file) in ambiguous else None)
        found = keyed.get(key)
        keyed[key] = (
            f if found is None else replace(f, instructions=found.instructions + f.instructions)
        )
    return keyed
