"""The terminal summary's lines, rendered from records (pure, no pytest)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, final

from ..determinism import UNSTABLE_HINT
from ..report import TestRecord, totals
from ..verdict import SOURCE_LABELS, LimitSource, Status, change_percent
from .failure import change_lines
from .numbers import signed_percent

#: Row order: problems first, then improvements, new tests, and the rest.
ORDER: Final = (Status.OVER, Status.REGRESSED, Status.IMPROVED, Status.NEW, Status.OK)
PROBLEMS: Final = frozenset({Status.OVER, Status.REGRESSED})
LABELS: Final = {
    Status.OVER: "OVER",
    Status.REGRESSED: "REGRESSED",
    Status.IMPROVED: "IMPROVED",
    Status.NEW: "NEW",
    Status.OK: "OK",
}
#: pytest's terminal colours for each status.
COLOURS: Final = {
    Status.OVER: "red",
    Status.REGRESSED: "red",
    Status.IMPROVED: "green",
    Status.NEW: "yellow",
    Status.OK: "green",
}
HEADLINE: Final = (
    ("over", "over budget"),
    ("regressed", "regressed"),
    ("improved", "improved"),
    ("new", "without budget"),
)


@final
@dataclass(frozen=True)
class Line:
    text: str
    colour: str | None = None


def render(
    records: Sequence[TestRecord],
    *,
    stale: Iterable[str] = (),
    verbosity: int = 0,
    budgets_file: str | None = None,
) -> list[Line]:
    """Headline, then one row per test worth showing at this verbosity.

    `-q` (verbosity < 0) shows only problems; the default adds improvements,
    tests without a budget and stale budgets; `-v` adds every measured test.
    """
    stale = sorted(stale)
    counts = totals(records)
    parts = [f"{counts['measured']:,} measured"]
    parts += [f"{counts[key]:,} {words}" for key, words in HEADLINE if counts[key]]
    if stale:
        parts.append(f"{len(stale):,} stale budget{'s' if len(stale) > 1 else ''}")
    unstable = [record for record in records if record.unstable is not None]
    if unstable:
        parts.append(f"{len(unstable):,} unstable")
    problems = counts["over"] or counts["regressed"]
    colour = "red" if problems else "yellow" if counts["new"] or stale else "green"
    lines = [Line(" · ".join(parts), colour)]

    shown = set(PROBLEMS)
    if verbosity >= 0:
        shown |= {Status.IMPROVED, Status.NEW}
    if verbosity > 0:
        shown.add(Status.OK)
    rows = [r for status in ORDER if status in shown for r in records if r.status is status]
    width = max((len(record.nodeid) for record in rows), default=0)
    labels = dict(SOURCE_LABELS)
    if budgets_file is not None:
        labels[LimitSource.FILE] = budgets_file
    for record in rows:
        lines.append(Line(_row(record, width, labels), COLOURS[record.status]))
        # With a baseline, what moved in a regressed or over-budget test.
        lines += [Line(text) for text in change_lines(record.function_changes, indent=" " * 10)]
    if verbosity >= 0:
        lines += [
            Line(f"stale budget: {nodeid}  (prune with --bytecount-update)", "yellow")
            for nodeid in stale
        ]
        if counts["improved"]:
            lines.append(Line("ratchet improved budgets down with --bytecount-update"))
        lines += [
            Line(f"unstable: {record.nodeid}: {record.unstable}", "yellow") for record in unstable
        ]
        if unstable:
            lines.append(Line(UNSTABLE_HINT))
    return lines


def _row(record: TestRecord, width: int, labels: dict[LimitSource, str]) -> str:
    start = f"{LABELS[record.status]:<9} {record.nodeid:<{width}}  {record.instructions:>9,}"
    unstable = "  unstable" if record.unstable is not None else ""
    if record.status is Status.REGRESSED and record.baseline is not None:
        reference, source = record.baseline, "baseline"
    elif record.limit is not None:
        reference, source = record.limit.instructions, labels[record.limit.source]
    else:
        return start.rstrip() + unstable
    count = record.instructions
    relation = ">" if count > reference else "<" if count < reference else "="
    text = f"{start} {relation} {reference:,}"
    if record.status is not Status.OK and reference:  # growth from 0 has no percentage
        text += f"  {signed_percent(change_percent(count, reference))}"
    return f"{text}  ({source}){unstable}"
