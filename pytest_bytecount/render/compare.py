"""Per-test changes between two reports as plain text, GitHub-flavoured
Markdown or JSON (pure, no pytest)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Final

from ..compare import Change, ChangeKind, count_line, tally
from .numbers import signed_percent

MISSING: Final = "—"


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
