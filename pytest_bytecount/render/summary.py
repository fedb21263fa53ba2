"""The terminal summary's lines, rendered from records (pure, no pytest)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, final

from ..determinism import UNSTABLE_HINT
from ..records import TestRecord
from ..report import totals
from ..verdict import DISPLAY_ORDER, PROBLEMS, SOURCE_LABELS, LimitSource, Status, change_percent
from .failure import change_lines
from .numbers import signed_percent
from .text import escape_controls, natural_key

#: Row order: problems first, then improvements, new tests, and the rest.
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


#: In an update run, the label of a test whose budget the run wrote, and its
#: place among the others: after the problems and improvements that were
#: not recorded, before the tests left without a budget.
RECORDED: Final = "RECORDED"
ROW_ORDER: Final = ("OVER", "REGRESSED", "IMPROVED", RECORDED, "NEW", "OK")


@final
@dataclass(frozen=True)
class Line:
    text: str
    colour: str | None = None


@final
@dataclass(frozen=True)
class Update:
    """What an update run (`--bytecount-update`) wrote into the budgets
    file: the tests whose budgets it recorded, the stale budgets it pruned."""

    recorded: frozenset[str] = frozenset()
    pruned: frozenset[str] = frozenset()


def render(
    records: Sequence[TestRecord],
    *,
    stale: Iterable[str] = (),
    verbosity: int = 0,
    budgets_file: str | None = None,
    update: Update | None = None,
    grouped: frozenset[str] = frozenset(),
) -> list[Line]:
    """Headline, then one row per test worth showing at this verbosity.

    `-q` (verbosity < 0) shows only problems; the default adds improvements,
    tests without a budget and stale budgets; `-v` adds every measured test.
    After an update run (`update`), a test whose budget it wrote is
    `RECORDED` rather than over its budget, improved, new or OK (a
    regression stays one), and its stale budgets are said to be pruned.
    Node ids are shown with their control characters escaped. The cases of
    `max_complexity` groups (`grouped`), held by their group's line rather
    than by budgets, are not called tests without one, and are listed only
    at `-v`.
    """
    stale = sorted(stale, key=natural_key)
    recorded = update.recorded if update is not None else frozenset()
    pruned = [nodeid for nodeid in stale if update is not None and nodeid in update.pruned]
    kept = [nodeid for nodeid in stale if update is None or nodeid not in update.pruned]
    labels = {record.nodeid: _label(record, recorded) for record in records}
    cases = {r.nodeid for r in records if r.nodeid in grouped and r.status is Status.NEW}
    counts = totals([r for r in records if labels[r.nodeid] != RECORDED and r.nodeid not in cases])
    parts = [f"{len(records):,} measured"]
    parts += [f"{counts[key]:,} {words}" for key, words in HEADLINE if counts[key]]
    if cases:
        parts.append(f"{len(cases):,} in max_complexity groups")
    budgeted = sum(1 for record in records if record.nodeid in recorded)
    if budgeted:
        parts.append(f"{budgeted:,} recorded")
    if kept:
        parts.append(f"{len(kept):,} stale budget{'s' if len(kept) > 1 else ''}")
    if pruned:
        parts.append(f"{len(pruned):,} stale budget{'s' if len(pruned) > 1 else ''} pruned")
    unstable = [record for record in records if record.unstable is not None]
    if unstable:
        parts.append(f"{len(unstable):,} unstable")
    problems = counts["over"] or counts["regressed"]
    colour = "red" if problems else "yellow" if counts["new"] or kept else "green"
    lines = [Line(" · ".join(parts), colour)]

    shown = set(PROBLEMS)
    if verbosity >= 0:
        shown |= {Status.IMPROVED, Status.NEW}
    if verbosity > 0:
        shown.add(Status.OK)
    rows = [
        r
        for status in DISPLAY_ORDER
        if status in shown
        for r in records
        if r.status is status and (r.nodeid not in cases or verbosity > 0)
    ]
    rows.sort(key=lambda record: ROW_ORDER.index(labels[record.nodeid]))  # stable
    width = max((len(escape_controls(record.nodeid)) for record in rows), default=0)
    sources = dict(SOURCE_LABELS)
    if budgets_file is not None:
        sources[LimitSource.FILE] = budgets_file
    for record in rows:
        label = labels[record.nodeid]
        colour = "green" if label == RECORDED else COLOURS[record.status]
        lines.append(Line(_row(record, label, width, sources), colour))
        # With a baseline, what moved in a regressed or over-budget test.
        lines += [Line(text) for text in change_lines(record.function_changes, indent=" " * 10)]
    if verbosity >= 0:
        if update is None:
            hint = "(prune with --bytecount-update)"
        else:  # an update prunes only what it can judge
            hint = "(kept: only an update of the whole suite prunes)"
        lines += [
            Line(f"stale budget: {escape_controls(nodeid)}  {hint}", "yellow") for nodeid in kept
        ]
        lines += [Line(f"pruned stale budget: {escape_controls(nodeid)}") for nodeid in pruned]
        if counts["improved"] and update is None:
            lines.append(Line("ratchet improved budgets down with --bytecount-update"))
        lines += [
            Line(f"unstable: {escape_controls(record.nodeid)}: {record.unstable}", "yellow")
            for record in unstable
        ]
        if unstable:
            lines.append(Line(UNSTABLE_HINT))
    return lines


def group_line(outcome: str, group: str, message: str) -> str:
    """A `max_complexity` group's row, after the tests' rows."""
    return f"{outcome.upper():<9} {escape_controls(group)}  {message}"


def _label(record: TestRecord, recorded: frozenset[str]) -> str:
    if record.nodeid in recorded and record.status is not Status.REGRESSED:
        return RECORDED
    return LABELS[record.status]


def _row(record: TestRecord, label: str, width: int, sources: dict[LimitSource, str]) -> str:
    nodeid = escape_controls(record.nodeid)
    start = f"{label:<9} {nodeid:<{width}}  {record.instructions:>9,}"
    unstable = "  unstable" if record.unstable is not None else ""
    count = record.instructions
    if label == RECORDED:
        if record.limit is None:
            return start.rstrip() + unstable
        # The budget it had: a file's, as a marker's is never recorded.
        reference = record.limit.instructions
        text = f"{start} (was {reference:,})"
        if count != reference:
            text += f"  {signed_percent(change_percent(count, reference))}"
        return f"{text}  ({sources[record.limit.source]}){unstable}"
    if record.status is Status.REGRESSED and record.baseline is not None:
        reference, source = record.baseline, "baseline"
    elif record.limit is not None:
        reference, source = record.limit.instructions, sources[record.limit.source]
    else:
        return start.rstrip() + unstable
    relation = ">" if count > reference else "<" if count < reference else "="
    text = f"{start} {relation} {reference:,}"
    if record.status is not Status.OK and reference:  # growth from 0 has no percentage
        text += f"  {signed_percent(change_percent(count, reference))}"
    return f"{text}  ({source}){unstable}"
