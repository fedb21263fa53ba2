"""Measured-test records and the JSON report built from them (pure, no pytest)."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, final

from .measurement import FunctionCount
from .verdict import Limit, Status

SCHEMA: Final = "pytest-bytecount/1"
TOP_FUNCTIONS: Final = 5


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
        "instructions": sum(record.instructions for record in records),
    }


def build_report(
    records: Sequence[TestRecord],
    *,
    plugin_version: str,
    stale: Iterable[str] = (),
    tolerance: float = 0.0,
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
        "tests": [_test_entry(record) for record in records],
        "stale": sorted(stale),
        "totals": totals(records),
    }


def _test_entry(record: TestRecord) -> dict[str, Any]:
    limit = record.limit
    return {
        "nodeid": record.nodeid,
        "instructions": record.instructions,
        "limit": limit.instructions if limit is not None else None,
        "budget_source": limit.source.value if limit is not None else None,
        "status": record.status.value,
        "outcome": record.outcome,
        "top_functions": [
            {
                "function": function.function,
                "file": function.file,
                "line": function.line,
                "instructions": function.instructions,
            }
            for function in record.top_functions[:TOP_FUNCTIONS]
        ],
    }


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write `data` to `path` atomically: readers see the old file or the new."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(data, stream, indent=2, ensure_ascii=False)
            stream.write("\n")
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
