"""The budgets file, `bytecount.toml`: load, look up, update, write; and
what a run's records teach it (`recording`). Its TOML text, read and
checked or written, is budgets_toml.py's.

One table per interpreter tag maps test node ids to instruction budgets: a
positive int below 2**63, or an inline table `{ budget = 36767, tolerance =
"2%" }` for a test with a tolerance of its own (below 100%); and the groups
of `max_complexity` tests to the growth class recorded for them. The file is
read and validated once, at the start of the session; updates are collected
during the run and written once at its end, as `Changes` applied under the
file's lock to the file as it is then, so that writers running at once keep
each other's budgets (pure, no pytest). Nothing is written that `load`
would refuse.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final, final

from .budgets_toml import MAX_BUDGET, BudgetsError, check_text, file_text, is_text, parse_file
from .complexity import ORDERS
from .files import locked, write_atomically
from .records import TestRecord
from .verdict import LimitSource, parse_tolerance

DEFAULT_HEADER: Final = (
    "# Executed-instruction budgets for pytest-bytecount.\n"
    "# `pytest --bytecount-update` rewrites the table of the running interpreter.\n"
)


@final
@dataclass(frozen=True)
class Changes:
    """One writer's changes to one interpreter's table: budgets to set, own
    tolerances to set (`None`: the entry loses its own), growth classes to
    set, entries to remove (applied last). What a writer applies, under
    the file's lock, to the file as it is then, so that other writers'
    changes are kept."""

    tag: str
    counts: Mapping[str, int] = field(default_factory=dict)
    tolerances: Mapping[str, str | None] = field(default_factory=dict)
    removed: frozenset[str] = frozenset()
    classes: Mapping[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.counts or self.tolerances or self.removed or self.classes)

    def check(self) -> None:
        """`ValueError` for anything the loader would refuse to read back."""
        check_text(self.tag, "interpreter tag")
        for nodeid, count in self.counts.items():
            check_text(nodeid, "node id")
            if isinstance(count, bool) or not isinstance(count, int) or not 0 < count <= MAX_BUDGET:
                raise ValueError(f"{nodeid!r}: a budget must be an int from 1 to 2**63 - 1")
        for nodeid, tolerance in self.tolerances.items():
            check_text(nodeid, "node id")
            try:
                if tolerance is not None:
                    parse_tolerance(tolerance)
            except ValueError as exc:
                raise ValueError(f"{nodeid!r}: tolerance: {exc}") from None
        for group, order in self.classes.items():
            check_text(group, "node id")
            if order not in ORDERS:
                raise ValueError(f"{group!r}: {order!r} is not a growth class")


@final
@dataclass(frozen=True)
class Budgets:
    """The content of a budgets file: a comment header and one table per interpreter."""

    path: Path
    tables: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    header: str = DEFAULT_HEADER
    #: Per interpreter, the tests with a tolerance of their own, as written.
    tolerances: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    #: Per interpreter, the growth class of each `max_complexity` group.
    classes: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    #: For a copy made by `apply` or `updated`: the budgets it was made from,
    #: whose differences from it are what `write` applies to the file.
    base: Budgets | None = field(default=None, compare=False, repr=False)

    @classmethod
    def load(cls, path: Path) -> Budgets:
        """Read and validate `path` (through a symlink); a missing file is an
        empty one. `BudgetsError`, in one line naming the file, for anything
        that is not a budgets file."""
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return cls(path)
        except OSError as exc:
            raise BudgetsError(f"{path}: cannot read the budgets file: {exc.strerror}") from None
        tables, header, tolerances, classes = parse_file(path, raw)
        return cls(path, tables, header, tolerances, classes)

    def table(self, tag: str) -> Mapping[str, int]:
        """The budgets of the interpreter `tag` (empty if it has none)."""
        return self.tables.get(tag, {})

    def growth_classes(self, tag: str) -> Mapping[str, str]:
        """The growth classes recorded for the interpreter `tag`, by group."""
        return self.classes.get(tag, {})

    def tolerance(self, tag: str, nodeid: str) -> float | None:
        """The test's own tolerance in percent, if its entry has one."""
        text = self.tolerances.get(tag, {}).get(nodeid)
        return parse_tolerance(text) if text is not None else None

    def changes(
        self,
        tag: str,
        counts: Mapping[str, int],
        *,
        remove: Iterable[str] = (),
        tolerances: Mapping[str, str] = {},
        classes: Mapping[str, str] = {},
    ) -> Changes:
        """What writing `counts` into `tag`'s table, with `tolerances` and
        growth `classes`, and pruning `remove` changes here: the entries
        whose budget or class differs, the tolerances that grow (an entry's
        own tolerance stays with it, unless it is the smaller), the entries
        there are to remove."""
        table = self.table(tag)
        known = self.growth_classes(tag)
        own = self.tolerances.get(tag, {})
        grown: dict[str, str | None] = {}
        for nodeid, tolerance in tolerances.items():
            kept = own.get(nodeid)
            if kept is None or parse_tolerance(kept) < parse_tolerance(tolerance):
                grown[nodeid] = tolerance
        return Changes(
            tag,
            {nodeid: count for nodeid, count in counts.items() if table.get(nodeid) != count},
            grown,
            frozenset(nodeid for nodeid in remove if nodeid in table or nodeid in known),
            {group: order for group, order in classes.items() if known.get(group) != order},
        )

    def changes_to(self, other: Budgets) -> list[Changes]:
        """The changes that make these budgets `other`'s, per interpreter."""
        found = []
        tags = set(self.tables) | set(other.tables) | set(self.classes) | set(other.classes)
        for tag in sorted(tags):
            old, new = self.table(tag), other.table(tag)
            old_own, new_own = self.tolerances.get(tag, {}), other.tolerances.get(tag, {})
            old_classes, new_classes = self.growth_classes(tag), other.growth_classes(tag)
            change = Changes(
                tag,
                {nodeid: count for nodeid, count in new.items() if old.get(nodeid) != count},
                {
                    nodeid: new_own.get(nodeid)
                    for nodeid in new
                    if new_own.get(nodeid) != old_own.get(nodeid)
                },
                frozenset(nodeid for nodeid in old if nodeid not in new)
                | frozenset(group for group in old_classes if group not in new_classes),
                {
                    group: order
                    for group, order in new_classes.items()
                    if old_classes.get(group) != order
                },
            )
            if change:
                found.append(change)
        return found

    def apply(self, *changes: Changes) -> Budgets:
        """A copy with `changes` applied, in order; `ValueError` for a change
        the loader would not read back. A table left empty is dropped, and a
        tolerance without a budget. The copy remembers what it was made
        from, so that `write` writes only the changes."""
        tables = {tag: dict(table) for tag, table in self.tables.items()}
        tolerances = {tag: dict(own) for tag, own in self.tolerances.items()}
        classes = {tag: dict(known) for tag, known in self.classes.items()}
        for change in changes:
            change.check()
            table = tables.setdefault(change.tag, {})
            own = tolerances.setdefault(change.tag, {})
            known = classes.setdefault(change.tag, {})
            table.update(change.counts)
            known.update(change.classes)
            for nodeid, tolerance in change.tolerances.items():
                if tolerance is None:
                    own.pop(nodeid, None)
                else:
                    own[nodeid] = tolerance
            for nodeid in change.removed:
                table.pop(nodeid, None)
                known.pop(nodeid, None)
            for nodeid in [nodeid for nodeid in own if nodeid not in table]:
                del own[nodeid]
            if not table:
                del tables[change.tag]
            if not own:
                del tolerances[change.tag]
            if not known:
                del classes[change.tag]
        base = self.base if self.base is not None else self
        return Budgets(self.path, tables, self.header, tolerances, classes, base)

    def updated(
        self,
        tag: str,
        counts: Mapping[str, int],
        *,
        remove: Iterable[str] = (),
        tolerances: Mapping[str, str] = {},
    ) -> Budgets:
        """A copy in which `tag`'s table has `counts` written, with
        `tolerances` where given (an entry's own tolerance stays with it,
        unless it is the smaller), and `remove` pruned."""
        return self.apply(self.changes(tag, counts, remove=remove, tolerances=tolerances))

    def render(self) -> str:
        """The file's text: the header, then tables and keys sorted, for minimal diffs."""
        return file_text(self.header, self.tables, self.tolerances, self.classes)

    def write(self) -> None:
        """Write the file, atomically and under its lock. A copy made by
        `apply` or `updated` writes only its changes, onto the file as it is
        now (`write_merged`): what other writers changed since it was read is
        kept. Other budgets are written whole."""
        if self.base is not None:
            write_merged(self.path, self.base.changes_to(self))
            return
        text = self.render()
        with locked(self.path):
            write_atomically(self.path, text, durable=True)


@final
@dataclass(frozen=True)
class Written:
    """What `write_merged` found and left: the file as read under the lock,
    as written, and whether it was written (not when nothing changed)."""

    before: Budgets
    after: Budgets
    written: bool


def write_merged(path: Path, changes: Iterable[Changes], *, create: bool = True) -> Written:
    """Apply `changes` to the budgets file at `path` as it is now: under the
    file's lock, read it again, apply them, and write it atomically if that
    changed anything (or, with `create`, if there is no file yet). Writers
    that run at once (two pytest processes, `tox -p` over several
    interpreters, `record`) each keep the others' changes.

    `BudgetsError` if the file has become unreadable since (nothing is
    written then); `ValueError` for a change the loader would not read back
    (checked before anything is touched); `OSError` from the write."""
    changes = tuple(changes)
    for change in changes:
        change.check()
    with locked(path):
        before = Budgets.load(path)
        after = before.apply(*changes)
        text = after.render()
        write = text != before.render() or (create and not path.exists())
        if write:
            write_atomically(path, text, durable=True)
    return Written(before, replace(after, base=None), write)


@final
@dataclass(frozen=True)
class Recording:
    """What measured tests teach a budgets file: each recordable test's
    highest count, and for a test whose count differed between runs (the
    same node id in several reports), the tolerance covering the spread.
    Tests that no budget can hold are left out, with the reason: counts
    that differ by 100% or more (a tolerance is below 100%), a count of
    2**63 or more, a node id that is not text UTF-8 can hold."""

    counts: Mapping[str, int]
    tolerances: Mapping[str, str]
    spreads: Mapping[str, tuple[int, int]]
    #: Node id to why it is not budgeted, in a phrase such as "its counts
    #: 100 to 300 differ by 200%; a tolerance must be below 100%".
    refused: Mapping[str, str] = field(default_factory=dict)


def recording(records: Iterable[TestRecord]) -> Recording:
    """The budgets to write from `records`, as `--bytecount-update` writes
    them after a run and `pytest-bytecount record` from reports: tests that
    passed (or failed only for being over a budget, which an update run
    forgives), with no budget or one from the budgets file (a marker's limit
    is the test's own), and a count. Nothing in it is refused by the loader."""
    seen: dict[str, list[int]] = {}
    for record in records:
        if (
            (record.outcome == "passed" or record.failed_by_budget)
            and (record.limit is None or record.limit.source is LimitSource.FILE)
            and record.instructions > 0
        ):
            seen.setdefault(record.nodeid, []).append(record.instructions)
    counts: dict[str, int] = {}
    tolerances: dict[str, str] = {}
    spreads: dict[str, tuple[int, int]] = {}
    refused: dict[str, str] = {}
    for nodeid, found in seen.items():
        low, high = min(found), max(found)
        if not is_text(nodeid):
            refused[nodeid] = "its node id holds characters that UTF-8 cannot encode"
        elif high > MAX_BUDGET:
            refused[nodeid] = f"its count {high:,} is above the largest budget, 2**63 - 1"
        elif low < high and _tenths(low, high) >= 1000:
            refused[nodeid] = (
                f"its counts {low:,} to {high:,} differ by {_percent(_tenths(low, high))}; "
                "a tolerance must be below 100%"
            )
        else:
            counts[nodeid] = high
            if low < high:
                spreads[nodeid] = (low, high)
                tolerances[nodeid] = _percent(_tenths(low, high))
    return Recording(counts, tolerances, spreads, refused)


def _tenths(low: int, high: int) -> int:
    """The tolerance, in tenths of a percent of `low` rounded up, under which
    `low` and `high` are within one another (integer arithmetic: exact)."""
    return -(-(high - low) * 1000 // low)


def _percent(tenths: int) -> str:
    """`25` -> `"2.5%"`."""
    whole, tenth = divmod(tenths, 10)
    return f"{whole}.{tenth}%" if tenth else f"{whole}%"
