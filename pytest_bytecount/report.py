"""The JSON report written at the end of a run (pure, no pytest): its
layout, schema `pytest-bytecount/1`, from the run's test records.

Each test's entry holds the own count of every function that ran in it, so
that a later compare can say exactly which functions changed. A function
runs in many tests, so the report names each one once, in its `functions`
table, and a test's `function_counts` refers to it by its index there.
Reports of earlier versions kept in each entry (`functions`) only the
biggest functions of the test, by name. `report_loader.py` reads reports
back.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Final, TextIO

from .attribution import FunctionKey
from .determinism import hash_seed as current_hash_seed
from .files import write_atomically
from .records import TestRecord
from .verdict import Status

SCHEMA: Final = "pytest-bytecount/1"
#: The largest count a report holds: TOML's integers, which budgets made
#: from a report are written as, are 64-bit, and floats hold it closely
#: enough that the percentages of a change stay finite.
MAX_COUNT: Final = 2**63 - 1


def interpreter_tag() -> str:
    """The key counts are filed under: `sys.implementation.cache_tag`."""
    return sys.implementation.cache_tag or sys.implementation.name


def totals(records: Sequence[TestRecord]) -> dict[str, int]:
    counted = {status: 0 for status in Status}
    for record in records:
        counted[record.status] += 1
    return {
        "measured": len(records),
        "over": counted[Status.OVER],
        "improved": counted[Status.IMPROVED],
        "new": counted[Status.NEW],
        "ok": counted[Status.OK],
        "regressed": counted[Status.REGRESSED],
        "instructions": sum(record.instructions for record in records),
    }


def build_report(
    records: Sequence[TestRecord],
    *,
    plugin_version: str,
    stale: Iterable[str] = (),
    tolerance: float = 0.0,
    hash_seed: str | None = None,
    budgets_seen: Iterable[str] = (),
    interpreter: tuple[str, str] | None = None,
    complexity: Iterable[dict[str, Any]] = (),
) -> dict[str, Any]:
    """The JSON report, schema `pytest-bytecount/1` (see docs/report.rst).

    Tests are sorted by node id, so that a serial run, a pytest-xdist run and
    shards merged give the same report. `interpreter` (tag, version) is the
    running one's unless given (a merge writes its shards'). `complexity`:
    the entries of the `max_complexity` groups (`Verdict.to_json`)."""
    tag, version = interpreter or (
        interpreter_tag(),
        ".".join(str(part) for part in sys.version_info[:3]),
    )
    ordered = sorted(records, key=lambda record: record.nodeid)
    table = function_table(ordered)
    index = {function: number for number, function in enumerate(table)}
    frames = frame_table(ordered)
    frame_index = {frame: number for number, frame in enumerate(frames)}
    return {
        "schema": SCHEMA,
        "plugin_version": plugin_version,
        "interpreter": {"tag": tag, "version": version},
        "tolerance": tolerance,
        "hash_seed": hash_seed if hash_seed is not None else current_hash_seed(),
        "tests": [record.to_json(index, frame_index) for record in ordered],
        "functions": [list(function) for function in table],
        "frames": frames,
        "stale": sorted(stale),
        "complexity": sorted(complexity, key=lambda entry: str(entry["nodeid"])),
        "budgets_seen": sorted(budgets_seen),
        "totals": totals(ordered),
    }


def function_table(records: Iterable[TestRecord]) -> list[FunctionKey]:
    """Every function that ran in `records`, once, by file, line and name:
    the same table whatever order the tests ran in."""
    functions = {(f.function, f.file, f.line) for record in records for f in record.functions}
    return sorted(functions, key=lambda function: (function[1], function[2], function[0]))


def frame_table(records: Iterable[TestRecord]) -> list[str]:
    """Every frame of the tests' call paths, sorted, once: a test's
    `stacks` refer to them by index."""
    return sorted(
        {
            frame
            for record in records
            for stack, _ in record.stacks or ()
            for frame in stack.split(";")
        }
    )


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write `data` to `path` atomically (readers see the old file or the
    new), laid out as `json_text` lays it out, a piece at a time: the text of
    a report of 50,000 tests is some 30 MB, and the fragments it is joined
    from take several times that. A lone surrogate (a node id from a file
    name that is not UTF-8) is written as its JSON escape, `\\udcff`, which
    reads back as it was."""

    def write(stream: TextIO) -> None:
        def flush(parts: list[str]) -> None:
            stream.write("".join(parts))
            parts.clear()

        parts: list[str] = []
        _lay_out(data, "\n", parts, _encode, flush)
        parts.append("\n")
        flush(parts)

    write_atomically(path, write)


def json_text(data: Any) -> str:
    """`data` as `json.dumps(indent=2)` writes it, one key or item a line,
    except arrays of numbers, and the rows of a table (numbers and strings),
    which take one line each: a report lists thousands of function counts.
    Arrays of strings only (node ids) keep one a line."""
    parts: list[str] = []
    _lay_out(data, "\n", parts, _encode)
    parts.append("\n")
    text = "".join(parts)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # A node id from a file name that is not UTF-8 holds lone surrogates,
        # which UTF-8 cannot hold: written as JSON escapes, read back as they were.
        parts = []
        _lay_out(data, "\n", parts, _encode_ascii)
        parts.append("\n")
        text = "".join(parts)
    return text


#: Fragments `write_json` lets gather before it writes them.
FRAGMENTS: Final = 20_000


def _lay_out(
    value: Any,
    newline: str,
    parts: list[str],
    encode: Callable[[Any], str],
    flush: Callable[[list[str]], None] | None = None,
) -> None:
    if isinstance(value, dict) and value:
        inner = newline + "  "
        parts.append("{")
        separator = inner
        for key, item in value.items():
            parts.append(f"{separator}{encode(key)}: ")
            separator = "," + inner
            if isinstance(item, (dict, list, tuple)) and item:
                _lay_out(item, inner, parts, encode, flush)
            else:  # most values of a report: written without a call of their own
                parts.append(_scalar(item, encode))
        parts.append(newline + "}")
    elif isinstance(value, (list, tuple)) and value and not _on_one_line(value):
        inner = newline + "  "
        parts.append("[")
        for number, item in enumerate(value):
            parts.append(f"{',' if number else ''}{inner}")
            _lay_out(item, inner, parts, encode, flush)
            if flush is not None and len(parts) > FRAGMENTS:
                flush(parts)
        parts.append(newline + "]")
    else:
        parts.append(encode(value))


def _scalar(value: Any, encode: Callable[[Any], str]) -> str:
    """A value as `encode` writes it; an int, the most common, as `json` does
    (its `repr`) without `encode`'s cost of a call of the JSON encoder."""
    if type(value) is int:
        return int.__repr__(value)
    return encode(value)


#: One encoder for every value: `json.dumps` makes one a call.
_encode: Final = json.JSONEncoder(ensure_ascii=False).encode
_encode_ascii: Final = json.JSONEncoder(ensure_ascii=True).encode


def _on_one_line(items: list[Any] | tuple[Any, ...]) -> bool:
    return not any(isinstance(item, (dict, list, tuple)) for item in items) and not all(
        isinstance(item, str) for item in items
    )
