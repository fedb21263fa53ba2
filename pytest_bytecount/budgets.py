"""The budgets file, `bytecount.toml`: load, validate, look up, update, write.

One table per interpreter tag maps test node ids to instruction budgets: a
positive int below 2**63, or an inline table `{ budget = 36767, tolerance =
"2%" }` for a test with a tolerance of its own (below 100%). The file is
read and validated once, at the start of the session; updates are collected
during the run and written once at its end, as `Changes` applied under the
file's lock to the file as it is then, so that writers running at once keep
each other's budgets (pure, no pytest). Nothing is written that `load`
would refuse.
"""

from __future__ import annotations

import sys
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final, final

from .files import locked, write_atomically
from .records import TestRecord
from .verdict import LimitSource, parse_tolerance

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10
    import tomli as tomllib

DEFAULT_HEADER: Final = (
    "# Executed-instruction budgets for pytest-bytecount.\n"
    "# `pytest --bytecount-update` rewrites the table of the running interpreter.\n"
)

#: The largest budget: TOML's integers are 64-bit signed.
MAX_BUDGET: Final = 2**63 - 1

#: A byte order mark some editors put at the start of UTF-8 files; TOML
#: does not allow it, the file is read without it.
BOM: Final = "\ufeff"

#: How much of a bad value an error message quotes.
SHOWN_LENGTH: Final = 60

#: Whitespace as TOML has it (`str.strip` would take more).
TOML_SPACE: Final = " \t"

#: Unicode categories `_quoted` escapes: controls, line and paragraph
#: separators, surrogates.
UNSHOWN: Final = frozenset({"Cc", "Zl", "Zp", "Cs"})


class BudgetsError(ValueError):
    """The budgets file cannot be used; the message names the file and the problem."""


@final
@dataclass(frozen=True)
class Changes:
    """One writer's changes to one interpreter's table: budgets to set, own
    tolerances to set (`None`: the entry loses its own), entries to remove
    (applied last). What a writer applies, under the file's lock, to the
    file as it is then, so that other writers' changes are kept."""

    tag: str
    counts: Mapping[str, int] = field(default_factory=dict)
    tolerances: Mapping[str, str | None] = field(default_factory=dict)
    removed: frozenset[str] = frozenset()

    def check(self) -> None:
        """`ValueError` for anything the loader would refuse to read back."""
        _check_text(self.tag, "interpreter tag")
        for nodeid, count in self.counts.items():
            _check_text(nodeid, "node id")
            if isinstance(count, bool) or not isinstance(count, int) or not 0 < count <= MAX_BUDGET:
                raise ValueError(f"{nodeid!r}: a budget must be an int from 1 to 2**63 - 1")
        for nodeid, tolerance in self.tolerances.items():
            _check_text(nodeid, "node id")
            try:
                if tolerance is not None:
                    parse_tolerance(tolerance)
            except ValueError as exc:
                raise ValueError(f"{nodeid!r}: tolerance: {exc}") from None


@final
@dataclass(frozen=True)
class Budgets:
    """The content of a budgets file: a comment header and one table per interpreter."""

    path: Path
    tables: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    header: str = DEFAULT_HEADER
    #: Per interpreter, the tests with a tolerance of their own, as written.
    tolerances: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
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
        try:
            text = raw.decode("utf-8").removeprefix(BOM)
        except UnicodeDecodeError as exc:
            raise BudgetsError(
                f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})"
            ) from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise BudgetsError(f"{path}: not valid TOML: {exc}") from None
        except RecursionError:
            raise BudgetsError(
                f"{path}: not valid TOML: arrays or inline tables nested too deeply"
            ) from None
        except ValueError:
            # An integer longer than Python converts from text (4,300 digits).
            raise BudgetsError(f"{path}: not valid TOML: a number too long to read") from None
        tables, tolerances = _validated(path, data)
        return cls(path, tables, _header_of(text), tolerances)

    def table(self, tag: str) -> Mapping[str, int]:
        """The budgets of the interpreter `tag` (empty if it has none)."""
        return self.tables.get(tag, {})

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
    ) -> Changes:
        """What writing `counts` into `tag`'s table, with `tolerances`, and
        pruning `remove` changes here: the entries whose budget differs, the
        tolerances that grow (an entry's own tolerance stays with it, unless
        it is the smaller), the entries there are to remove."""
        table = self.table(tag)
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
            frozenset(nodeid for nodeid in remove if nodeid in table),
        )

    def changes_to(self, other: Budgets) -> list[Changes]:
        """The changes that make these budgets `other`'s, per interpreter."""
        found = []
        for tag in sorted(set(self.tables) | set(other.tables)):
            old, new = self.table(tag), other.table(tag)
            old_own, new_own = self.tolerances.get(tag, {}), other.tolerances.get(tag, {})
            change = Changes(
                tag,
                {nodeid: count for nodeid, count in new.items() if old.get(nodeid) != count},
                {
                    nodeid: new_own.get(nodeid)
                    for nodeid in new
                    if new_own.get(nodeid) != old_own.get(nodeid)
                },
                frozenset(nodeid for nodeid in old if nodeid not in new),
            )
            if change.counts or change.tolerances or change.removed:
                found.append(change)
        return found

    def apply(self, *changes: Changes) -> Budgets:
        """A copy with `changes` applied, in order; `ValueError` for a change
        the loader would not read back. A table left empty is dropped, and a
        tolerance without a budget. The copy remembers what it was made
        from, so that `write` writes only the changes."""
        tables = {tag: dict(table) for tag, table in self.tables.items()}
        tolerances = {tag: dict(own) for tag, own in self.tolerances.items()}
        for change in changes:
            change.check()
            table = tables.setdefault(change.tag, {})
            own = tolerances.setdefault(change.tag, {})
            table.update(change.counts)
            for nodeid, tolerance in change.tolerances.items():
                if tolerance is None:
                    own.pop(nodeid, None)
                else:
                    own[nodeid] = tolerance
            for nodeid in change.removed:
                table.pop(nodeid, None)
            for nodeid in [nodeid for nodeid in own if nodeid not in table]:
                del own[nodeid]
            if not table:
                del tables[change.tag]
            if not own:
                del tolerances[change.tag]
        base = self.base if self.base is not None else self
        return Budgets(self.path, tables, self.header, tolerances, base)

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
        import tomli_w  # here: only --bytecount-update writes budgets

        tables = []
        for tag in sorted(self.tables):
            tolerances = self.tolerances.get(tag, {})
            lines = [tomli_w.dumps({tag: {}}).rstrip("\n")]  # the header, quoted if need be
            for nodeid, budget in sorted(self.tables[tag].items()):
                line = tomli_w.dumps({nodeid: budget}).rstrip("\n")
                if nodeid in tolerances:
                    # tomli_w writes tables as [sections]; the file keeps one
                    # line per test, so the inline table is put together here.
                    key = line.rpartition(" = ")[0]
                    tolerance = tomli_w.dumps({"tolerance": tolerances[nodeid]}).rstrip("\n")
                    line = f"{key} = {{ budget = {budget}, {tolerance} }}"
                lines.append(line)
            tables.append("\n".join(lines) + "\n")
        body = "\n".join(tables)
        return f"{self.header.rstrip()}\n\n{body}" if self.header.strip() else body

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
        if not _is_text(nodeid):
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


def _validated(
    path: Path, data: Mapping[str, Any]
) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, str]]]:
    tables: dict[str, dict[str, int]] = {}
    tolerances: dict[str, dict[str, str]] = {}
    for tag, table in data.items():
        if not isinstance(table, dict):
            raise BudgetsError(
                f"{path}: {_quoted(tag)} must be a table of budgets for one interpreter, "
                f'such as ["cpython-312"], not a {_toml_type(table)}'
            )
        tables[tag] = {}
        for nodeid, value in table.items():
            where = f"{path}: [{_quoted(tag)}] {_quoted(nodeid)}"
            if isinstance(value, dict):
                budget, tolerance = _entry(where, value)
                if tolerance is not None:
                    tolerances.setdefault(tag, {})[nodeid] = tolerance
            else:
                budget = _budget(where, value)
            tables[tag][nodeid] = budget
    return tables, tolerances


def _budget(where: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise BudgetsError(
            f"{where}: a budget must be a positive integer or an inline table such as "
            f'{{ budget = 1000, tolerance = "2%" }}, got {_toml_value(value)}'
        )
    if value > MAX_BUDGET:
        raise BudgetsError(f"{where}: a budget must be below 2**63, got {_toml_value(value)}")
    return value


def _entry(where: str, entry: Mapping[str, Any]) -> tuple[int, str | None]:
    """`{ budget = n, tolerance = "2%" }`: the budget and the tolerance as written."""
    unknown = sorted(set(entry) - {"budget", "tolerance"})
    if unknown:
        raise BudgetsError(
            f"{where}: unknown key {unknown[0]!r}: an entry's table takes budget and tolerance"
        )
    if "budget" not in entry:
        raise BudgetsError(f"{where}: the inline table has no budget")
    budget = entry["budget"]
    if isinstance(budget, bool) or not isinstance(budget, int) or budget <= 0:
        raise BudgetsError(f"{where}: budget must be a positive integer, got {_toml_value(budget)}")
    if budget > MAX_BUDGET:
        raise BudgetsError(f"{where}: budget must be below 2**63, got {_toml_value(budget)}")
    tolerance = entry.get("tolerance")
    if tolerance is None:
        return budget, None
    if not isinstance(tolerance, str):
        raise BudgetsError(
            f'{where}: tolerance must be a string such as "2%", got {_toml_value(tolerance)}'
        )
    try:
        parse_tolerance(tolerance)
    except ValueError as exc:
        raise BudgetsError(f"{where}: tolerance: {exc}") from None
    return budget, tolerance


def _header_of(text: str) -> str:
    """The comment lines (and blank lines) the file starts with: lines as
    TOML has them, ended by `\n` only (`str.splitlines` would also end one
    at a U+2028 inside a comment, and start a line that is no comment)."""
    header = []
    for line in text.split("\n"):
        line = line.removesuffix("\r")
        if line.strip(TOML_SPACE) and not line.lstrip(TOML_SPACE).startswith("#"):
            break
        header.append(line)
    if not any(line.strip(TOML_SPACE) for line in header):
        return ""
    return "\n".join(header).strip("\n") + "\n"


def _toml_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return type(value).__name__


def _toml_value(value: object) -> str:
    """`value` for an error message, in one line and cut short."""
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and value.bit_length() > 4 * SHOWN_LENGTH:
        return f"an integer of {len(str(value)):,} digits"
    shown = repr(value)
    if len(shown) > SHOWN_LENGTH:
        shown = shown[: SHOWN_LENGTH - 3] + "..."
    return f"{shown} ({_toml_type(value)})"


def _quoted(text: str) -> str:
    """A key in double quotes, as TOML writes it, with every character that
    could end or hide a line escaped: an error message stays one line."""
    escaped = "".join(
        f"\\u{ord(char):04x}" if unicodedata.category(char) in UNSHOWN else char
        for char in text.replace("\\", "\\\\").replace('"', '\\"')
    )
    return f'"{escaped}"'


def _is_text(text: str) -> bool:
    """Whether `text` can be written as UTF-8 (no lone surrogates, such as
    the ones a file name that is not UTF-8 leaves in a node id)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_text(text: object, what: str) -> None:
    if not isinstance(text, str) or not _is_text(text):
        raise ValueError(f"{text!r}: a {what} must be text UTF-8 can encode")
