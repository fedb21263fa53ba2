"""The budgets file, `bytecount.toml`: load, validate, look up, update, write.

One table per interpreter tag maps test node ids to instruction budgets: a
positive int, or an inline table `{ budget = 36767, tolerance = "2%" }` for
a test with a tolerance of its own. The file is read and validated once, at
the start of the session; updates are collected during the run and written
once at its end (pure, no pytest).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, final

from .files import write_atomically
from .report import TestRecord
from .verdict import LimitSource, parse_tolerance

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10
    import tomli as tomllib

DEFAULT_HEADER: Final = (
    "# Executed-instruction budgets for pytest-bytecount.\n"
    "# `pytest --bytecount-update` rewrites the table of the running interpreter.\n"
)


class BudgetsError(Exception):
    """The budgets file cannot be used; the message names the file and the problem."""


@final
@dataclass(frozen=True)
class Budgets:
    """The content of a budgets file: a comment header and one table per interpreter."""

    path: Path
    tables: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    header: str = DEFAULT_HEADER
    #: Per interpreter, the tests with a tolerance of their own, as written.
    tolerances: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Budgets:
        """Read and validate `path`; a missing file is an empty one."""
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return cls(path)
        except OSError as exc:
            raise BudgetsError(f"{path}: cannot read the budgets file: {exc.strerror}") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BudgetsError(
                f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})"
            ) from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise BudgetsError(f"{path}: not valid TOML: {exc}") from None
        tables, tolerances = _validated(path, data)
        return cls(path, tables, _header_of(text), tolerances)

    def table(self, tag: str) -> Mapping[str, int]:
        """The budgets of the interpreter `tag` (empty if it has none)."""
        return self.tables.get(tag, {})

    def tolerance(self, tag: str, nodeid: str) -> float | None:
        """The test's own tolerance in percent, if its entry has one."""
        text = self.tolerances.get(tag, {}).get(nodeid)
        return parse_tolerance(text) if text is not None else None

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
        table = dict(self.table(tag))
        table.update(counts)
        own = dict(self.tolerances.get(tag, {}))
        for nodeid, tolerance in tolerances.items():
            kept = own.get(nodeid)
            if kept is None or parse_tolerance(kept) < parse_tolerance(tolerance):
                own[nodeid] = tolerance
        tolerances = own
        for nodeid in remove:
            table.pop(nodeid, None)
            tolerances.pop(nodeid, None)
        tables = dict(self.tables)
        if table:
            tables[tag] = table
        else:
            tables.pop(tag, None)
        all_tolerances = {t: dict(entries) for t, entries in self.tolerances.items() if t != tag}
        if tolerances:
            all_tolerances[tag] = tolerances
        return Budgets(self.path, tables, self.header, all_tolerances)

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
        write_atomically(self.path, self.render())


@final
@dataclass(frozen=True)
class Recording:
    """What measured tests teach a budgets file: each recordable test's
    highest count, and for a test whose count differed between runs (the
    same node id in several reports), the tolerance covering the spread."""

    counts: Mapping[str, int]
    tolerances: Mapping[str, str]
    spreads: Mapping[str, tuple[int, int]]


def recording(records: Iterable[TestRecord]) -> Recording:
    """The budgets to write from `records`, as `--bytecount-update` writes
    them after a run and `pytest-bytecount record` from reports: tests that
    passed (or failed only for being over a budget, which an update run
    forgives), with no budget or one from the budgets file (a marker's limit
    is the test's own), and a count."""
    seen: dict[str, list[int]] = {}
    for record in records:
        if (
            (record.outcome == "passed" or record.failed_by_budget)
            and (record.limit is None or record.limit.source is LimitSource.FILE)
            and record.instructions > 0
        ):
            seen.setdefault(record.nodeid, []).append(record.instructions)
    counts = {nodeid: max(found) for nodeid, found in seen.items()}
    spreads = {
        nodeid: (min(found), max(found))
        for nodeid, found in seen.items()
        if min(found) < max(found)
    }
    tolerances = {nodeid: _covering(low, high) for nodeid, (low, high) in spreads.items()}
    return Recording(counts, tolerances, spreads)


def _covering(low: int, high: int) -> str:
    """The tolerance, in tenths of a percent rounded up, under which `low`
    and `high` are within one another: `"2.5%"`."""
    tenths = math.ceil((high - low) * 1000 / low)
    return f"{tenths / 10:g}%"


def _validated(
    path: Path, data: Mapping[str, Any]
) -> tuple[dict[str, dict[str, int]], dict[str, dict[str, str]]]:
    tables: dict[str, dict[str, int]] = {}
    tolerances: dict[str, dict[str, str]] = {}
    for tag, table in data.items():
        if not isinstance(table, dict):
            raise BudgetsError(
                f'{path}: "{tag}" must be a table of budgets for one interpreter, '
                f'such as ["cpython-312"], not a {_toml_type(table)}'
            )
        tables[tag] = {}
        for nodeid, value in table.items():
            where = f'{path}: ["{tag}"] "{nodeid}"'
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
    """The comment lines (and blank lines) the file starts with."""
    header = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            break
        header.append(line)
    return "\n".join(header).strip("\n") + "\n" if any(h.strip() for h in header) else ""


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
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"{value!r} ({_toml_type(value)})"
