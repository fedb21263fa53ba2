"""Measured-test records and the JSON report built from them (pure, no pytest)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, final

from .determinism import hash_seed as current_hash_seed
from .files import write_atomically
from .measurement import FunctionCount, LineCount
from .verdict import Limit, LimitSource, Status

SCHEMA: Final = "pytest-bytecount/1"
TOP_FUNCTIONS: Final = 5
#: The hottest lines a report entry keeps.
TOP_LINES: Final = 10
#: A report entry keeps the own count of every function with at least this
#: share of the test's count, and of the most expensive ones whatever it is.
FUNCTION_SHARE: Final = 0.01
FUNCTIONS_KEPT: Final = 20


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
    functions: tuple[FunctionCount, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """This test's entry in the report's `tests` list."""
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
        if self.functions:
            entry["functions"] = [_function_json(function) for function in self.functions]
        return entry

    @classmethod
    def from_json(cls, entry: Mapping[str, Any]) -> TestRecord:
        """The inverse of `to_json`, for an entry already checked against the schema."""
        limit = entry.get("limit")
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
            functions=tuple(_function_of(f) for f in entry.get("functions", ())),
            baseline=entry.get("baseline"),
            unstable=entry.get("unstable"),
        )


def kept_functions(
    functions: tuple[FunctionCount, ...], instructions: int
) -> tuple[FunctionCount, ...]:
    """The functions a report entry keeps (highest own count first): every
    one with at least `FUNCTION_SHARE` of the count, and the
    `FUNCTIONS_KEPT` highest."""
    floor = instructions * FUNCTION_SHARE
    return tuple(
        f for rank, f in enumerate(functions) if rank < FUNCTIONS_KEPT or f.instructions >= floor
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
) -> dict[str, Any]:
    """The JSON report, schema `pytest-bytecount/1` (see docs/report.rst)."""
    return {
        "schema": SCHEMA,
        "plugin_version": plugin_version,
        "interpreter": {
            "tag": interpreter_tag(),
            "version": ".".join(str(part) for part in sys.version_info[:3]),
        },
        "tolerance": tolerance,
        "hash_seed": hash_seed if hash_seed is not None else current_hash_seed(),
        "tests": [record.to_json() for record in records],
        "stale": sorted(stale),
        "totals": totals(records),
    }


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write `data` to `path` atomically: readers see the old file or the new."""
    write_atomically(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
