"""Reading a JSON report back (pure, no pytest): `load_report`, the one
reader, checks a file well enough that nothing downstream (the summary,
`compare`, the renderers) can crash on it, and says in one line what is
wrong when it is not."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, final

from .attribution import FunctionKey
from .compare import FunctionChange, function_changes
from .escaping import one_line
from .measurement import FunctionCount
from .records import TestRecord
from .report import MAX_COUNT, SCHEMA
from .verdict import LimitSource, Status

OUTCOMES: Final = ("passed", "failed", "skipped", "error")
#: A bad value is quoted in the error message up to this many characters.
QUOTE_LIMIT: Final = 40
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
    except _Invalid as exc:
        raise ReportError(f"{path}: {exc}") from None


# -- reading and checking -------------------------------------------------------


class _Invalid(Exception):
    """What is wrong with the document, without the path (added once, at the top)."""


def _read_json(path: Path) -> Any:
    try:
        # utf-8-sig: an editor on Windows may have added a byte-order mark.
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise _Invalid("no such file") from None
    except IsADirectoryError:
        raise _Invalid("is a directory, not a report") from None
    except UnicodeDecodeError:
        raise _Invalid("not a JSON report: the file is not UTF-8 text") from None
    except OSError as exc:
        raise _Invalid(f"cannot read it: {exc.strerror or exc}") from None
    try:
        return json.loads(text, object_pairs_hook=_json_object, parse_constant=_json_constant)
    except json.JSONDecodeError as exc:
        raise _Invalid(
            f"not a JSON report: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    except RecursionError:
        raise _Invalid("not a JSON report: arrays or objects nested too deeply") from None
    except ValueError:
        # An integer longer than Python converts from text (4,300 digits).
        raise _Invalid("not a JSON report: a number too long to read") from None


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object of the document; a key written twice is refused, where
    `json` would keep the last one silently (a merge conflict resolved by
    hand, say)."""
    found = dict(pairs)
    if len(found) < len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Invalid(f"not a JSON report: the key {_quote(key)} twice in one object")
            seen.add(key)
    return found


def _json_constant(name: str) -> Any:
    """`NaN`, `Infinity` and `-Infinity`, which Python writes but JSON has not."""
    raise _Invalid(f"not a JSON report: {name} is not a JSON number")


def _parse(document: Any, path: Path) -> LoadedReport:
    if not isinstance(document, dict):
        raise _Invalid(f"not a JSON report: expected an object, got {_quote(document)}")
    schema = document.get("schema")
    if schema != SCHEMA:
        found = "no schema" if schema is None else f"schema {_quote(schema)}"
        raise _Invalid(f"{found}, expected {_quote(SCHEMA)}: not a pytest-bytecount report")
    interpreter = _object(_require(document, "interpreter", ""), "interpreter")
    tag = _string(_require(interpreter, "tag", "interpreter"), "interpreter.tag")
    if not (tag and tag.isprintable()):
        # It names the budgets table `record` writes, and appears in messages.
        raise _Invalid(f'interpreter.tag: expected a tag such as "cpython-312", got {_quote(tag)}')
    version = _string(_require(interpreter, "version", "interpreter"), "interpreter.version")
    if not VERSION.fullmatch(version):
        raise _Invalid(f'interpreter.version: expected one such as "3.12.1", got {_quote(version)}')
    entries = _array(_require(document, "tests", ""), "tests")
    table = _function_table(document.get("functions"))
    records = tuple(_record(entry, f"tests[{index}]", table) for index, entry in enumerate(entries))
    _check_unique(records)
    stale = _array(document.get("stale", []), "stale")
    for index, nodeid in enumerate(stale):
        _string(nodeid, f"stale[{index}]")
    hash_seed = document.get("hash_seed")
    if hash_seed is not None and not (
        isinstance(hash_seed, str) and hash_seed and hash_seed.isprintable()
    ):
        # Not only digits: Python takes PYTHONHASHSEED=+5 too, which the run wrote.
        raise _Invalid(f'hash_seed: expected "random" or a number, got {_quote(hash_seed)}')
    tolerance = _require(document, "tolerance", "")
    _percent_value(tolerance, "tolerance")
    seen = document.get("budgets_seen")
    if seen is not None:
        for index, nodeid in enumerate(_array(seen, "budgets_seen")):
            _string(nodeid, f"budgets_seen[{index}]")
    counted = document.get("totals")
    if counted is not None:
        counted = _object(counted, "totals")
        for key in TOTALS:
            if key in counted:
                _count(counted[key], f"totals.{key}")
    return LoadedReport(
        path,
        tag,
        version,
        records,
        tuple(stale),
        hash_seed,
        float(tolerance),
        tuple(seen) if seen is not None else None,
    )


def _function_table(value: Any) -> list[FunctionKey] | None:
    """The report's `functions`: rows of name, file and first line; None in
    reports of earlier versions."""
    if value is None:
        return None
    table = []
    for index, row in enumerate(_array(value, "functions")):
        where = f"functions[{index}]"
        if not (isinstance(row, list) and len(row) == 3):
            raise _Invalid(f"{where}: expected [name, file, line], got {_quote(row)}")
        table.append(
            (
                _string(row[0], f"{where}[0]"),
                _string(row[1], f"{where}[1]"),
                _count(row[2], f"{where}[2]"),
            )
        )
    return table


def _function_counts(value: Any, where: str, table: list[FunctionKey] | None) -> None:
    """A test's `function_counts`: pairs of an index into the report's
    `functions` and that function's own count."""
    counts = _array(value, where)
    if table is None:
        raise _Invalid(f"{where}: the report has no functions table to refer to")
    if len(counts) % 2:
        raise _Invalid(f"{where}: expected pairs of a function's index and its count")
    for index in range(0, len(counts), 2):
        function = _count(counts[index], f"{where}[{index}]")
        if function >= len(table):
            raise _Invalid(f"{where}[{index}]: no function {function} in a table of {len(table):,}")
        _count(counts[index + 1], f"{where}[{index + 1}]")


def _record(value: Any, where: str, table: list[FunctionKey] | None) -> TestRecord:
    entry = _object(value, where)
    nodeid = _string(_require(entry, "nodeid", where), f"{where}.nodeid")
    # From here on the entry is named by its test as well as by its place.
    where = f"{where} ({_quote(nodeid, NODEID_LIMIT)})"
    _count(_require(entry, "instructions", where), f"{where}.instructions")
    limit = _require(entry, "limit", where)
    if limit is not None and not (_is_int(limit) and 0 < limit <= MAX_COUNT):
        raise _Invalid(
            f"{where}.limit: expected a positive integer below 2**63 or null, got {_quote(limit)}"
        )
    source = _require(entry, "budget_source", where)
    if source is not None:
        _choice(source, [s.value for s in LimitSource], f"{where}.budget_source")
    if (limit is None) != (source is None):
        # from_json would drop such a limit silently; the writer never makes one.
        raise _Invalid(f"{where}: limit and budget_source must be both set or both null")
    _choice(_require(entry, "status", where), [s.value for s in Status], f"{where}.status")
    _choice(_require(entry, "outcome", where), OUTCOMES, f"{where}.outcome")
    if entry.get("baseline") is not None:
        _count(entry["baseline"], f"{where}.baseline")
    if entry.get("unstable") is not None:
        _string(entry["unstable"], f"{where}.unstable")
    if "tolerance" in entry:
        _percent_value(entry["tolerance"], f"{where}.tolerance")
    if "failed_by_budget" in entry and not isinstance(entry["failed_by_budget"], bool):
        raise _Invalid(
            f"{where}.failed_by_budget: expected true or false, "
            f"got {_quote(entry['failed_by_budget'])}"
        )
    for key in ("top_functions", "functions"):
        for index, function in enumerate(_array(entry.get(key, []), f"{where}.{key}")):
            _function(function, f"{where}.{key}[{index}]")
    if "function_counts" in entry:
        if "functions" in entry:
            raise _Invalid(f"{where}: functions and function_counts: one or the other")
        _function_counts(entry["function_counts"], f"{where}.function_counts", table)
    for index, line in enumerate(_array(entry.get("top_lines", []), f"{where}.top_lines")):
        _line(line, f"{where}.top_lines[{index}]")
    changes = _array(entry.get("function_changes", []), f"{where}.function_changes")
    for index, change in enumerate(changes):
        _function_change(change, f"{where}.function_changes[{index}]")
    return TestRecord.from_json(entry, table or ())


def _function_change(value: Any, where: str) -> None:
    change = _named_function(value, where)
    if _require(change, "before", where) is not None:
        _count(change["before"], f"{where}.before")
    _count(_require(change, "after", where), f"{where}.after")


def _function(value: Any, where: str) -> None:
    function = _named_function(value, where)
    _count(_require(function, "instructions", where), f"{where}.instructions")


def _named_function(value: Any, where: str) -> dict[str, Any]:
    """An object naming a function: `function`, `file` and `line`."""
    entry = _object(value, where)
    _string(_require(entry, "function", where), f"{where}.function")
    _string(_require(entry, "file", where), f"{where}.file")
    _count(_require(entry, "line", where), f"{where}.line")
    return entry


def _line(value: Any, where: str) -> None:
    line = _object(value, where)
    _string(_require(line, "file", where), f"{where}.file")
    _count(_require(line, "line", where), f"{where}.line")
    _count(_require(line, "instructions", where), f"{where}.instructions")


def _check_unique(records: Iterable[TestRecord]) -> None:
    # Counts are looked up by node id: a second entry would silently win.
    seen: set[str] = set()
    for record in records:
        if record.nodeid in seen:
            raise _Invalid(f"tests: {_quote(record.nodeid, NODEID_LIMIT)} appears more than once")
        seen.add(record.nodeid)


def _percent_value(value: Any, where: str) -> None:
    # NaN compares false both ways, and JSON's parser refuses it anyway.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 100:
        raise _Invalid(f"{where}: expected a percentage from 0 to below 100, got {_quote(value)}")


def _require(mapping: dict[str, Any], key: str, where: str) -> Any:
    if key not in mapping:
        raise _Invalid(f"{where}.{key}: missing" if where else f"{key}: missing")
    return mapping[key]


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Invalid(f"{where}: expected an object, got {_quote(value)}")
    return value


def _array(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise _Invalid(f"{where}: expected an array, got {_quote(value)}")
    return value


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise _Invalid(f"{where}: expected a string, got {_quote(value)}")
    return value


def _count(value: Any, where: str) -> int:
    if not (_is_int(value) and 0 <= value <= MAX_COUNT):
        raise _Invalid(f"{where}: expected a non-negative integer below 2**63, got {_quote(value)}")
    return int(value)


def _choice(value: Any, allowed: Sequence[str], where: str) -> None:
    if value not in allowed or not isinstance(value, str):
        raise _Invalid(f"{where}: expected one of {', '.join(allowed)}, got {_quote(value)}")


def _is_int(value: Any) -> bool:
    # JSON true/false arrive as bool, which Python counts as an int.
    return isinstance(value, int) and not isinstance(value, bool)


def _quote(value: Any, limit: int = QUOTE_LIMIT) -> str:
    """A value as it was written in the file, shortened, with every
    character that could end a line or hide escaped: a message stays one line."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    text = json.dumps(value, ensure_ascii=False)
    if _is_int(value) and len(text) > limit:
        return f"an integer of {len(text.lstrip('-')):,} digits"
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return one_line(text)
