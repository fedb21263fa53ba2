"""Per-test changes between two reports as plain text, GitHub-flavoured
Markdown or JSON (pure, no pytest)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Final

from ..compare import Change, ChangeKind, tally
from .numbers import signed_percent
from .text import escape_controls

MISSING: Final = "—"
#: GitHub refuses a job summary over 1 MiB; a Markdown table, for a job
#: summary or a PR comment, stays well under.
MOST_MARKDOWN_BYTES: Final = 256 * 1024
#: The label of a test whose count moved, but not beyond the tolerance.
WITHIN_TOLERANCE: Final = "within tolerance"


def totals_line(changes: Sequence[Change]) -> str:
    """`1 regressed · 2 improved · 3 new · 1 removed · 10 unchanged`, with
    `· 2 within tolerance` before `unchanged` when counts moved within it
    (those are then not counted as unchanged)."""
    counted = tally(changes)
    within = sum(1 for change in changes if change.within_tolerance)
    unchanged = counted.pop(ChangeKind.UNCHANGED.value) - within
    if within:
        counted[WITHIN_TOLERANCE] = within
    counted[ChangeKind.UNCHANGED.value] = unchanged
    return " · ".join(f"{count:,} {kind}" for kind, count in counted.items())


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
    lines.append(totals_line(changes))
    return "\n".join(lines) + "\n"


def _text_cells(change: Change) -> tuple[str, str, str, str, str, str]:
    within = change.within_tolerance
    show_delta = change.kind is not ChangeKind.UNCHANGED or within
    return (
        WITHIN_TOLERANCE.upper() if within else change.kind.name,
        escape_controls(change.nodeid),
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
    """A GitHub-flavoured Markdown fragment for a job summary or a PR
    comment, cut to `MOST_MARKDOWN_BYTES` with a line saying how many rows
    were left out."""
    lines = [f"### bytecount: {_code(new_label)} against {_code(old_label)}", ""]
    rows = [change for change in changes if change.kind is not ChangeKind.UNCHANGED]
    if not rows:
        within = sum(1 for change in changes if change.within_tolerance)
        unchanged = len(changes) - within
        if within:
            tests = f"{within:,} {_tests(within)} {WITHIN_TOLERANCE}, {unchanged:,} unchanged"
        else:
            tests = f"{unchanged:,} {_tests(unchanged)} unchanged"
        lines.append(
            f"No changes in instruction counts beyond the tolerance ({tolerance:g}%): {tests}."
        )
        return "\n".join(lines) + "\n"
    counted = totals_line(changes)
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
    return capped("\n".join(lines) + "\n")


def capped(text: str) -> str:
    """Markdown `text` whole, or its first lines and a line saying how many
    table rows were left out, under `MOST_MARKDOWN_BYTES`."""
    if len(text.encode("utf-8")) <= MOST_MARKDOWN_BYTES:
        return text
    # Lines as Markdown ends them (not str.splitlines()'s, U+2028 among them).
    lines = text.removesuffix("\n").split("\n")
    kept: list[str] = []
    size = 0
    for index, line in enumerate(lines):
        size += len(line.encode("utf-8")) + 1
        if size > MOST_MARKDOWN_BYTES - 200:  # room for the closing line
            left = sum(1 for rest in lines[index:] if rest.startswith("| "))
            cap = f"{MOST_MARKDOWN_BYTES // 1024} KiB"
            kept += ["", f"_{left:,} more rows left out to keep this under {cap}._"]
            break
        kept.append(line)
    return "\n".join(kept) + "\n"


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
                # Added after "kind", whose values stay as they were.
                "within_tolerance": change.within_tolerance,
            }
            for change in changes
        ],
        "totals": tally(changes),
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _tests(count: int) -> str:
    return "test" if count == 1 else "tests"


def _number(value: int | None) -> str:
    return MISSING if value is None else f"{value:,}"


def _signed(value: int | None) -> str:
    return "" if value is None else f"{value:+,}"


def _percent(value: float | None) -> str:
    return "" if value is None else signed_percent(value)


_BACKTICK_RUNS: Final = re.compile(r"`+")
# A pipe after an odd run of backslashes: GFM pairs `\\` first, so our `\|`
# would come out as `\\` + `|` and split the cell.
_ODD_BACKSLASHES_BEFORE_PIPE: Final = re.compile(r"(?<!\\)((?:\\\\)*\\)(?=\|)")


def _code(text: str, *, in_table: bool = False) -> str:
    """`text` as a Markdown code span that shows it verbatim.

    Inside a code span backslash escapes do not work, so a backtick is kept
    by a fence longer than any run of backticks in the text. In a table, GFM
    splits cells before parsing code spans and lets `\\|` stand for a pipe
    even there. A line break would end the table row, so it is shown
    escaped, with every other control character.
    """
    text = escape_controls(text)
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
