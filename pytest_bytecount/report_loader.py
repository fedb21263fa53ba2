"""Reading a JSON report back (pure, no pytest): `load_report`, the one
reader, checks a file well enough that nothing downstream (the summary,
`compare`, the renderers) can crash on it, and says in one line what is
wrong when it is not."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, final

from .attribution import FunctionKey
from .compare import FunctionChange, function_changes
from .complexity import ORDERS
from .measurement import FunctionCount
from .records import TestRecord
from .report import MAX_COUNT, SCHEMA
from .report_checks import (
    Invalid,
    as_array,
    as_count,
    as_object,
    as_string,
    choice,
    is_int,
    percent_value,
    quoted,
    require,
    stack_entry,
)
from .verdict import LimitSource, Status

OUTCOMES: Final = ("passed", "failed", "skipped", "error")
#: A test's node id, which says which entry is bad, up to this many.
NODEID_LIMIT: Final = 160
#: `interpreter.version`, as the plugin writes it.
VERSION: Final = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+")
#: The keys of `totals`; each, where present, a count.
TOTALS: Final = ("measured", "over", "improved", "new", "ok", "regressed", "instructions")


class ReportError(Exception):
    """A report that cannot be read; the message starts with the file's path."""


@final
@dataclass(frozen=True)
class LoadedReport:
    """A report read back from disk and checked."""

    path: Path
    tag: str
    version: str
    records: tuple[TestRecord, ...]
    stale: tuple[str, ...]
    #: PYTHONHASHSEED of the run ("random" or its value); None in reports
    #: written before the plugin recorded it.
    hash_seed: str | None = None
    tolerance: float = 0.0
    #: The budgeted node ids the run collected (to judge stale budgets over
    #: several shards); None in reports written before the plugin kept them.
    budgets_seen: tuple[str, ...] | None = None
    #: The `max_complexity` groups' entries, as written (checked).
    complexity: tuple[dict[str, Any], ...] = ()

    @cached_property
    def counts(self) -> Mapping[str, int]:
        """Node id to instructions (read-only: built once, looked up once per test)."""
        return MappingProxyType({record.nodeid: record.instructions for record in self.records})

    @cached_property
    def functions(self) -> Mapping[str, tuple[FunctionCount, ...]]:
        """Node id to every function's own count in its entry, for the
        entries that hold them all (not those of earlier versions' reports,
        which kept only the biggest)."""
        return MappingProxyType(
            {
                record.nodeid: record.functions
                for record in self.records
                if record.functions_complete
            }
        )

    @cached_property
    def by_nodeid(self) -> Mapping[str, TestRecord]:
        """Node id to its entry."""
        return MappingProxyType({record.nodeid: record for record in self.records})

    def function_changes(
        self, nodeid: str, after: Iterable[FunctionCount]
    ) -> tuple[FunctionChange, ...]:
        """The functions whose own counts moved most between this report's
        entry for `nodeid` and `after` (every function that ran now, files as
        reports name them), as `compare.function_changes` finds them; none
        where the entry lists no functions (a report of a version that did
        not record them)."""
        record = self.by_nodeid.get(nodeid)
        if record is None or not (record.functions or record.functions_complete):
            return ()
        return function_changes(record.functions, after, before_total=record.instructions)


def load_report(path: Path) -> LoadedReport:
    """Read and check a report written by `--bytecount-report`; `ReportError`,
    in one line naming the file, the entry (a test's by its node id) and
    what is wrong, if bad. Counts are integers from 0 to 2**63 - 1 and
    tolerances percentages from 0 to below 100, so that nothing read can
    overflow a float or make a budget TOML cannot hold."""
    try:
        return _parse(_read_json(path), path)
    except Invalid as exc:
        raise ReportError(f"{path}: {exc}") from None


# -- reading and checking -------------------------------------------------------


def _read_json(path: Path) -> Any:
    try:
        # utf-8-sig: an editor on Windows may have added a byte-order mark.
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise Invalid("no such file") from None
    except IsADirectoryError:
        raise Invalid("is a directory, not a report") from None
    except UnicodeDecodeError:
        raise Invalid("not a JSON report: the file is not UTF-8 text") from None
    except OSError as exc:
        raise Invalid(f"cannot read it: {exc.strerror or exc}") from None
    try:
        return json.loads(text, object_pairs_hook=_json_object, parse_constant=_json_constant)
    except json.JSONDecodeError as exc:
        raise Invalid(
            f"not a JSON report: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    except RecursionError:
        raise Invalid("not a JSON report: arrays or objects nested too deeply") from None
    except ValueError:
        # An integer longer than Python converts from text (4,300 digits).
        raise Invalid("not a JSON report: a number too long to read") from None


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object of the document; a key written twice is refused, where
    `json` would keep the last one silently (a merge conflict resolved by
    hand, say)."""
    found = dict(pairs)
    if len(found) < len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise Invalid(f"not a JSON report: the key {quoted(key)} twice in one object")
            seen.add(key)
    return found


def _json_constant(name: str) -> Any:
    """`NaN`, `Infinity` and `-Infinity`, which Python writes but JSON has not."""
    raise Invalid(f"not a JSON report: {name} is not a JSON number")


def _parse(document: Any, path: Path) -> LoadedReport:
    if not isinstance(document, dict):
        raise Invalid(f"not a JSON report: expected an object, got {quoted(document)}")
    schema = document.get("schema")
    if schema != SCHEMA:
        found = "no schema" if schema is None else f"schema {quoted(schema)}"
        raise Invalid(f"{found}, expected {quoted(SCHEMA)}: not a pytest-bytecount report")
    interpreter = as_object(require(document, "interpreter", ""), "interpreter")
    tag = as_string(require(interpreter, "tag", "interpreter"), "interpreter.tag")
    if not (tag and tag.isprintable()):
        # It names the budgets table `record` writes, and appears in messages.
        raise Invalid(f'interpreter.tag: expected a tag such as "cpython-312", got {quoted(tag)}')
    version = as_string(require(interpreter, "version", "interpreter"), "interpreter.version")
    if not VERSION.fullmatch(version):
        raise Invalid(f'interpreter.version: expected one such as "3.12.1", got {quoted(version)}')
    entries = as_array(require(document, "tests", ""), "tests")
    table = _function_table(document.get("functions"))
    frames = as_array(document.get("frames", []), "frames")
    for index, frame in enumerate(frames):
        as_string(frame, f"frames[{index}]")
    records = tuple(
        _record(entry, f"tests[{index}]", table, frames) for index, entry in enumerate(entries)
    )
    _check_unique(records)
    stale = as_array(document.get("stale", []), "stale")
    for index, nodeid in enumerate(stale):
        as_string(nodeid, f"stale[{index}]")
    hash_seed = document.get("hash_seed")
    if hash_seed is not None and not (
        isinstance(hash_seed, str) and hash_seed and hash_seed.isprintable()
    ):
        # Not only digits: Python takes PYTHONHASHSEED=+5 too, which the run wrote.
        raise Invalid(f'hash_seed: expected "random" or a number, got {quoted(hash_seed)}')
    tolerance = require(document, "tolerance", "")
    percent_value(tolerance, "tolerance")
    seen = document.get("budgets_seen")
    if seen is not None:
        for index, nodeid in enumerate(as_array(seen, "budgets_seen")):
            as_string(nodeid, f"budgets_seen[{index}]")
    groups = as_array(document.get("complexity", []), "complexity")
    for index, group in enumerate(groups):
        _complexity(group, f"complexity[{index}]")
    counted = document.get("totals")
    if counted is not None:
        counted = as_object(counted, "totals")
        for key in TOTALS:
            if key in counted:
                as_count(counted[key], f"totals.{key}")
    return LoadedReport(
        path,
        tag,
        version,
        records,
        tuple(stale),
        hash_seed,
        float(tolerance),
        tuple(seen) if seen is not None else None,
        tuple(groups),
    )


def _function_table(value: Any) -> list[FunctionKey] | None:
    """The report's `functions`: rows of name, file and first line; None in
    reports of earlier versions."""
    if value is None:
        return None
    table = []
    for index, row in enumerate(as_array(value, "functions")):
        where = f"functions[{index}]"
        if not (isinstance(row, list) and len(row) == 3):
            raise Invalid(f"{where}: expected [name, file, line], got {quoted(row)}")
        table.append(
            (
                as_string(row[0], f"{where}[0]"),
                as_string(row[1], f"{where}[1]"),
                as_count(row[2], f"{where}[2]"),
            )
        )
    return table


def _function_counts(value: Any, where: str, table: list[FunctionKey] | None) -> None:
    """A test's `function_counts`: pairs of an index into the report's
    `functions` and that function's own count."""
    counts = as_array(value, where)
    if table is None:
        raise Invalid(f"{where}: the report has no functions table to refer to")
    if len(counts) % 2:
        raise Invalid(f"{where}: expected pairs of a function's index and its count")
    for index in range(0, len(counts), 2):
        function = as_count(counts[index], f"{where}[{index}]")
        if function >= len(table):
            raise Invalid(f"{where}[{index}]: no function {function} in a table of {len(table):,}")
        as_count(counts[index + 1], f"{where}[{index + 1}]")


def _record(
    value: Any, where: str, table: list[FunctionKey] | None, frames: list[str]
) -> TestRecord:
    entry = as_object(value, where)
    nodeid = as_string(require(entry, "nodeid", where), f"{where}.nodeid")
    # From here on the entry is named by its test as well as by its place.
    where = f"{where} ({quoted(nodeid, NODEID_LIMIT)})"
    as_count(require(entry, "instructions", where), f"{where}.instructions")
    limit = require(entry, "limit", where)
    if limit is not None and not (is_int(limit) and 0 < limit <= MAX_COUNT):
        raise Invalid(
            f"{where}.limit: expected a positive integer below 2**63 or null, got {quoted(limit)}"
        )
    source = require(entry, "budget_source", where)
    if source is not None:
        choice(source, [s.value for s in LimitSource], f"{where}.budget_source")
    if (limit is None) != (source is None):
        # from_json would drop such a limit silently; the writer never makes one.
        raise Invalid(f"{where}: limit and budget_source must be both set or both null")
    choice(require(entry, "status", where), [s.value for s in Status], f"{where}.status")
    choice(require(entry, "outcome", where), OUTCOMES, f"{where}.outcome")
    if entry.get("baseline") is not None:
        as_count(entry["baseline"], f"{where}.baseline")
    if entry.get("unstable") is not None:
        as_string(entry["unstable"], f"{where}.unstable")
    if "tolerance" in entry:
        percent_value(entry["tolerance"], f"{where}.tolerance")
    if "failed_by_budget" in entry and not isinstance(entry["failed_by_budget"], bool):
        raise Invalid(
            f"{where}.failed_by_budget: expected true or false, "
            f"got {quoted(entry['failed_by_budget'])}"
        )
    for key in ("top_functions", "functions"):
        for index, function in enumerate(as_array(entry.get(key, []), f"{where}.{key}")):
            _function(function, f"{where}.{key}[{index}]")
    if "function_counts" in entry:
        if "functions" in entry:
            raise Invalid(f"{where}: functions and function_counts: one or the other")
        _function_counts(entry["function_counts"], f"{where}.function_counts", table)
    for index, line in enumerate(as_array(entry.get("top_lines", []), f"{where}.top_lines")):
        _line(line, f"{where}.top_lines[{index}]")
    for index, call in enumerate(as_array(entry.get("c_calls", []), f"{where}.c_calls")):
        _c_call(call, f"{where}.c_calls[{index}]")
    changes = as_array(entry.get("function_changes", []), f"{where}.function_changes")
    for index, change in enumerate(changes):
        _function_change(change, f"{where}.function_changes[{index}]")
    for index, stack in enumerate(as_array(entry.get("stacks", []), f"{where}.stacks")):
        stack_entry(stack, f"{where}.stacks[{index}]", len(frames))
    return TestRecord.from_json(entry, table or (), frames)


def _complexity(value: Any, where: str) -> None:
    """A `max_complexity` group's entry: what `merge` reads of it."""
    entry = as_object(value, where)
    as_string(require(entry, "nodeid", where), f"{where}.nodeid")
    choice(require(entry, "outcome", where), ("passed", "failed", "skipped"), f"{where}.outcome")
    choice(require(entry, "limit", where), ORDERS, f"{where}.limit")
    sizes = as_array(require(entry, "sizes", where), f"{where}.sizes")
    counts = as_array(require(entry, "counts", where), f"{where}.counts")
    cases = as_array(require(entry, "cases", where), f"{where}.cases")
    if not len(cases) == len(sizes) == len(counts):
        raise Invalid(f"{where}: {len(cases)} cases, {len(sizes)} sizes and {len(counts)} counts")
    for index, case in enumerate(cases):
        as_string(case, f"{where}.cases[{index}]")
    if "members" in entry:
        as_count(entry["members"], f"{where}.members")
    if entry.get("recorded") is not None:
        choice(entry["recorded"], ORDERS, f"{where}.recorded")
    as_string(require(entry, "over", where), f"{where}.over")
    for index, (size, count) in enumerate(zip(sizes, counts, strict=True)):
        as_count(size, f"{where}.sizes[{index}]")
        if count is not None:
            as_count(count, f"{where}.counts[{index}]")
    fitted = require(entry, "fit", where)
    if fitted is not None:
        choice(require(as_object(fitted, f"{where}.fit"), "order", where), ORDERS, f"{where}.fit")


def _function_change(value: Any, where: str) -> None:
    change = _named_function(value, where)
    if require(change, "before", where) is not None:
        as_count(change["before"], f"{where}.before")
    as_count(require(change, "after", where), f"{where}.after")


def _function(value: Any, where: str) -> None:
    function = _named_function(value, where)
    as_count(require(function, "instructions", where), f"{where}.instructions")


def _named_function(value: Any, where: str) -> dict[str, Any]:
    """An object naming a function: `function`, `file` and `line`."""
    entry = as_object(value, where)
    as_string(require(entry, "function", where), f"{where}.function")
    as_string(require(entry, "file", where), f"{where}.file")
    as_count(require(entry, "line", where), f"{where}.line")
    return entry


def _line(value: Any, where: str) -> None:
    line = as_object(value, where)
    as_string(require(line, "file", where), f"{where}.file")
    as_count(require(line, "line", where), f"{where}.line")
    as_count(require(line, "instructions", where), f"{where}.instructions")


def _c_call(value: Any, where: str) -> None:
    call = as_object(value, where)
    as_string(require(call, "name", where), f"{where}.name")
    as_string(require(call, "file", where), f"{where}.file")
    as_count(require(call, "line", where), f"{where}.line")
    as_count(require(call, "calls", where), f"{where}.calls")


def _check_unique(records: Iterable[TestRecord]) -> None:
    # Counts are looked up by node id: a second entry would silently win.
    seen: set[str] = set()
    for record in records:
        if record.nodeid in seen:
            raise Invalid(f"tests: {quoted(record.nodeid, NODEID_LIMIT)} appears more than once")
        seen.add(record.nodeid)
