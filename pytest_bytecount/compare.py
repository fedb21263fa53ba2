"""Reading reports back, and comparing the counts of two (pure, no pytest).

`load_report` is the one reader of the JSON report: it checks a file well enough
that nothing downstream (the summary, `compare`, the renderers) can crash on
it, and says in one line what is wrong when it is not. `compare` turns two sets
of counts into per-test changes; the `render_*` functions present them as
plain text, GitHub-flavoured Markdown or JSON.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, final

from .determinism import HASH_SEED_FIX
from .report import SCHEMA, TestRecord
from .verdict import LimitSource, Status, change_percent, exceeds, falls_below

OUTCOMES: Final = ("passed", "failed", "skipped", "error")
#: A bad value is quoted in the error message up to this many characters.
QUOTE_LIMIT: Final = 40
MISSING: Final = "—"


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

    @cached_property
    def counts(self) -> Mapping[str, int]:
        """Node id to instructions (read-only: built once, looked up once per test)."""
        return MappingProxyType({record.nodeid: record.instructions for record in self.records})


def load_report(path: Path) -> LoadedReport:
    """Read and check a report written by `--bytecount-report`; `ReportError` if bad."""
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
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _Invalid(
            f"not a JSON report: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    except (ValueError, RecursionError) as exc:
        # Integers too long to convert, or nesting too deep for the parser.
        raise _Invalid(f"not a JSON report: {exc}") from None


def _parse(document: Any, path: Path) -> LoadedReport:
    if not isinstance(document, dict):
        raise _Invalid(f"not a JSON report: expected an object, got {_quote(document)}")
    schema = document.get("schema")
    if schema != SCHEMA:
        found = "no schema" if schema is None else f"schema {_quote(schema)}"
        raise _Invalid(f"{found}, expected {_quote(SCHEMA)}: not a pytest-bytecount report")
    interpreter = _object(_require(document, "interpreter", ""), "interpreter")
    tag = _string(_require(interpreter, "tag", "interpreter"), "interpreter.tag")
    version = _string(_require(interpreter, "version", "interpreter"), "interpreter.version")
    entries = _array(_require(document, "tests", ""), "tests")
    records = tuple(_record(entry, f"tests[{index}]") for index, entry in enumerate(entries))
    _check_unique(records)
    stale = _array(document.get("stale", []), "stale")
    for index, nodeid in enumerate(stale):
        _string(nodeid, f"stale[{index}]")
    hash_seed = document.get("hash_seed")
    if hash_seed is not None:
        _string(hash_seed, "hash_seed")
    return LoadedReport(path, tag, version, records, tuple(stale), hash_seed)


def hash_seed_warning(
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


def _record(value: Any, where: str) -> TestRecord:
    entry = _object(value, where)
    _string(_require(entry, "nodeid", where), f"{where}.nodeid")
    _count(_require(entry, "instructions", where), f"{where}.instructions")
    limit = _require(entry, "limit", where)
    if limit is not None and not (_is_int(limit) and limit > 0):
        raise _Invalid(f"{where}.limit: expected a positive integer or null, got {_quote(limit)}")
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
    for key in ("top_functions", "functions"):
        for index, function in enumerate(_array(entry.get(key, []), f"{where}.{key}")):
            _function(function, f"{where}.{key}[{index}]")
    for index, line in enumerate(_array(entry.get("top_lines", []), f"{where}.top_lines")):
        _line(line, f"{where}.top_lines[{index}]")
    return TestRecord.from_json(entry)


def _function(value: Any, where: str) -> None:
    function = _object(value, where)
    _string(_require(function, "function", where), f"{where}.function")
    _string(_require(function, "file", where), f"{where}.file")
    _count(_require(function, "line", where), f"{where}.line")
    _count(_require(function, "instructions", where), f"{where}.instructions")


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
            raise _Invalid(f"tests: {_quote(record.nodeid)} appears more than once")
        seen.add(record.nodeid)


def _percent_value(value: Any, where: str) -> None:
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
    if not (_is_int(value) and value >= 0):
        raise _Invalid(f"{where}: expected a non-negative integer, got {_quote(value)}")
    return int(value)


def _choice(value: Any, allowed: Sequence[str], where: str) -> None:
    if value not in allowed or not isinstance(value, str):
        raise _Invalid(f"{where}: expected one of {', '.join(allowed)}, got {_quote(value)}")


def _is_int(value: Any) -> bool:
    # JSON true/false arrive as bool, which Python counts as an int.
    return isinstance(value, int) and not isinstance(value, bool)


def _quote(value: Any) -> str:
    """A value as it was written in the file, shortened."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= QUOTE_LIMIT else text[: QUOTE_LIMIT - 3] + "..."


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


def count_line(changes: Iterable[Change]) -> str:
    """`1 regressed · 2 improved · 3 new · 1 removed · 10 unchanged`."""
    return " · ".join(f"{count:,} {kind}" for kind, count in tally(changes).items())


# -- rendering ------------------------------------------------------------------


def render_text(changes: Sequence[Change], *, verbose: bool = False) -> str:
    """Aligned rows for the terminal, unchanged tests only when `verbose`."""
    rows = [c for c in changes if verbose or c.kind is not ChangeKind.UNCHANGED]
    cells = [_text_cells(change) for change in rows]
    widths = [max((len(row[i]) for row in cells), default=0) for i in range(6)]
    lines = []
    for label, nodeid, old, new, delta, percent in cells:
        line = (
            f"{label:<{widths[0]}}  {nodeid:<{widths[1]}}  {old:>{widths[2]}} -> "
            f"{new:>{widths[3]}}  {delta:>{widths[4]}}  {percent:>{widths[5]}}"
        )
        lines.append(line.rstrip())
    lines.append(count_line(changes))
    return "\n".join(lines) + "\n"


def _text_cells(change: Change) -> tuple[str, str, str, str, str, str]:
    show_delta = change.kind is not ChangeKind.UNCHANGED or bool(change.delta)
    return (
        change.kind.name,
        change.nodeid,
        _number(change.old),
        _number(change.new),
        _signed(change.delta) if show_delta else "",
        _percent(change.percent) if show_delta else "",
    )


#: The first column of the Markdown table; GitHub renders the shortcodes as emoji.
MARKS: Final = {
    ChangeKind.REGRESSED: ":red_circle: regressed",
    ChangeKind.IMPROVED: ":green_circle: improved",
    ChangeKind.NEW: "new",
    ChangeKind.REMOVED: "removed",
}


def render_markdown(
    changes: Sequence[Change], *, old_label: str, new_label: str, tolerance: float
) -> str:
    """A GitHub-flavoured Markdown fragment for a job summary or a PR comment."""
    lines = [f"### bytecount: {_code(new_label)} against {_code(old_label)}", ""]
    rows = [change for change in changes if change.kind is not ChangeKind.UNCHANGED]
    if not rows:
        unchanged = len(changes)
        lines.append(
            f"No changes in instruction counts beyond the tolerance ({tolerance:g}%): "
            f"{unchanged:,} test{'' if unchanged == 1 else 's'} unchanged."
        )
        return "\n".join(lines) + "\n"
    counted = count_line(changes)
    if any(change.kind is ChangeKind.REGRESSED for change in rows):
        # Bold the regressions: they are what fails the job.
        regressed, rest = counted.split(" · ", 1)
        counted = f"**{regressed}** · {rest}"
    lines += [f"{counted} (tolerance {tolerance:g}%)", ""]
    lines += ["| | test | old | new | delta | % |", "|:--|:--|--:|--:|--:|--:|"]
    for change in rows:
        cells = (
            MARKS[change.kind],
            _code(change.nodeid, in_table=True),
            _number(change.old),
            _number(change.new),
            _signed(change.delta),
            _percent(change.percent),
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def render_json(changes: Sequence[Change], tolerance: float) -> str:
    """`{"tolerance": percent, "changes": [...], "totals": {kind: count}}`."""
    document = {
        "tolerance": tolerance,
        "changes": [
            {
                "nodeid": change.nodeid,
                "old": change.old,
                "new": change.new,
                "delta": change.delta,
                "percent": change.percent,
                "kind": change.kind.value,
            }
            for change in changes
        ],
        "totals": tally(changes),
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _number(value: int | None) -> str:
    return MISSING if value is None else f"{value:,}"


def _signed(value: int | None) -> str:
    return "" if value is None else f"{value:+,}"


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value:+.1f}%"


_BACKTICK_RUNS: Final = re.compile(r"`+")
# A pipe after an odd run of backslashes: GFM pairs `\\` first, so our `\|`
# would come out as `\\` + `|` and split the cell.
_ODD_BACKSLASHES_BEFORE_PIPE: Final = re.compile(r"(?<!\\)((?:\\\\)*\\)(?=\|)")


def _code(text: str, *, in_table: bool = False) -> str:
    """`text` as a Markdown code span that shows it verbatim.

    Inside a code span backslash escapes do not work, so a backtick is kept
    by a fence longer than any run of backticks in the text. In a table, GFM
    splits cells before parsing code spans and lets `\\|` stand for a pipe
    even there. A line break would end the table row, so it is shown escaped.
    """
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    if in_table:
        # Rare (pytest escapes backslashes in ids): one backslash too many is
        # shown rather than a broken table.
        text = _ODD_BACKSLASHES_BEFORE_PIPE.sub(r"\1\\", text)
        text = text.replace("|", "\\|")
    fence = "`" * (max((len(run) for run in _BACKTICK_RUNS.findall(text)), default=0) + 1)
    # One space each side is stripped by the parser; it keeps a leading or
    # trailing backtick (or space) from merging with the fence.
    if not text or text[0] in "` " or text[-1] in "` ":
        text = f" {text} "
    return f"{fence}{text}{fence}"
