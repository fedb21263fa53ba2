"""The terminal summary's lines, rendered from records (pure, no pytest)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, final

from .report import TestRecord, totals
from .verdict import SOURCE_LABELS, Status, change_percent

#: Row order: problems first, then improvements, new tests, and the rest.
ORDER: Final = (Status.OVER, Status.IMPROVED, Status.NEW, Status.OK)
LABELS: Final = {
    Status.OVER: "OVER",
    Status.IMPROVED: "IMPROVED",
    Status.NEW: "NEW",
    Status.OK: "OK",
}
#: pytest's terminal colours for each status.
COLOURS: Final = {
    Status.OVER: "red",
    Status.IMPROVED: "green",
    Status.NEW: "yellow",
    Status.OK: "green",
}


@final
@dataclass(frozen=True)
class Line:
    text: str
    colour: str | None = None


def render(records: Sequence[TestRecord], *, verbosity: int = 0) -> list[Line]:
    """Headline, then one row per test worth showing at this verbosity.

    `-q` (verbosity < 0) shows only problems; the default adds improvements
    and tests without a budget; `-v` adds every measured test.
    """
    counts = totals(records)
    parts = [f"{counts['measured']:,} measured"]
    for key, words in (
        ("over", "over budget"),
        ("improved", "improved"),
        ("new", "without budget"),
    ):
        if counts[key]:
            parts.append(f"{counts[key]:,} {words}")
    headline_colour = "red" if counts["over"] else "yellow" if counts["new"] else "green"
    lines = [Line(" · ".join(parts), headline_colour)]

    shown = {Status.OVER}
    if verbosity >= 0:
        shown |= {Status.IMPROVED, Status.NEW}
    if verbosity > 0:
        shown.add(Status.OK)
    rows = [
        record
        for status in ORDER
        if status in shown
        for record in records
        if record.status is status
    ]
    width = max((len(record.nodeid) for record in rows), default=0)
    lines.extend(Line(_row(record, width), COLOURS[record.status]) for record in rows)
    return lines


def _row(record: TestRecord, width: int) -> str:
    label = f"{LABELS[record.status]:<9} {record.nodeid:<{width}}  {record.instructions:>9,}"
    limit = record.limit
    if limit is None:
        return label.rstrip()
    relation = (
        ">"
        if record.instructions > limit.instructions
        else "<"
        if record.instructions < limit.instructions
        else "="
    )
    text = f"{label} {relation} {limit.instructions:,}"
    if record.status is not Status.OK:
        text += f"  {change_percent(record.instructions, limit.instructions):+.1f}%"
    return f"{text}  ({SOURCE_LABELS[limit.source]})"
