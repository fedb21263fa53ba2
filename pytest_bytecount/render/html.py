"""`--bytecount-html=PATH`: one self-contained page (pure, no pytest).

The summary, a sortable table of the measured tests, a growth chart for
each group of `max_complexity` cases, and for each test its
flame graph (inline SVG, click a frame to zoom, the root to zoom out) and
its hottest lines with their instructions. Every style and script is in the
page, which loads nothing, so it can be opened from a CI artifact offline.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Final

from ..complexity_verdict import Verdict
from ..records import CCallCount, TestRecord
from ..verdict import DISPLAY_ORDER, PROBLEMS, SOURCE_LABELS, LimitSource, Status, change_percent
from . import source_page, source_view
from .growth_chart import growth_sections
from .html_page import PAGE, SCRIPT, STYLE
from .numbers import signed_percent

#: The flame graph's coordinates: the page scales it to its width.
WIDTH: Final = 1200
ROW: Final = 18
#: Frames narrower than this (in WIDTH units) are left out: unreadable, and
#: a large suite's page would grow with them.
NARROWEST: Final = 0.5
#: Rough width of a character of the labels, to cut them to their frame.
CHAR: Final = 7.5
STATUS_ORDER: Final = {status: place for place, status in enumerate(DISPLAY_ORDER)}
#: The most rows the table draws at once. A larger suite's rows are data in
#: the page, drawn that many at a time, problems first, and sorted as data:
#: a browser takes many seconds to lay out a table of 50,000 rows, and again
#: at each sort.
ROWS_SHOWN: Final = 1000
#: The most tests the page gives a section (flame graph, hottest lines): every
#: problem first, then the highest counts. Each section is a few kilobytes,
#: and a page of 50,000 of them would be too big to open; the table lists
#: every test.
DETAILED: Final = 1000


@dataclass
class _Frame:
    name: str
    total: int = 0
    own: int = 0
    children: dict[str, _Frame] = field(default_factory=dict)


def tree_of(folded: str) -> _Frame:
    """The call tree of folded stacks, under a root named `all`."""
    root = _Frame("all")
    for line in folded.splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        node = root
        node.total += n
        for name in stack.split(";"):
            node = node.children.setdefault(name, _Frame(name))
            node.total += n
        node.own += n
    return root


def flame_graph(folded: str, *, title: str) -> str:
    """An icicle-style flame graph as inline SVG: the root on top, callees
    below, widths in proportion to instructions."""
    root = tree_of(folded)
    if not root.total:
        return '<p class="muted">No instructions were counted.</p>'
    frames: list[str] = []
    depth = _place(root, 0.0, 0, root.total, frames)
    height = (depth + 1) * ROW
    return (
        f'<svg class="flame" viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
        + "".join(frames)
        + "</svg>"
    )


def _place(node: _Frame, x: float, depth: int, total: int, out: list[str]) -> int:
    """Draw `node` at `x` (a fraction of the width) and its children below;
    the deepest row drawn."""
    w = node.total / total
    share = 100 * node.total / total
    tip = f"{node.name}\n{node.total:,} instructions ({share:.2f}%), {node.own:,} in its own frames"
    px, pw = x * WIDTH, w * WIDTH
    out.append(
        f'<g class="f" data-x="{x:.9f}" data-w="{w:.9f}" data-n="{escape(node.name)}">'
        f"<title>{escape(tip)}</title>"
        f'<rect x="{px:.2f}" y="{depth * ROW}" width="{pw:.2f}" height="{ROW - 1}" '
        f'rx="2" fill="{_colour(node.name)}"/>'
        f'<text x="{px + 3:.2f}" y="{depth * ROW + 13}">{escape(_fit(node.name, pw))}</text></g>'
    )
    deepest = depth
    at = x
    for child in sorted(node.children.values(), key=lambda c: c.name):
        if child.total / total * WIDTH >= NARROWEST:
            deepest = max(deepest, _place(child, at, depth + 1, total, out))
        at += child.total / total
    return deepest


def _fit(label: str, width: float) -> str:
    room = int((width - 6) / CHAR)
    if room < 3:
        return ""
    return label if len(label) <= room else label[: room - 1] + "…"


def _colour(name: str) -> str:
    """A warm colour of its own for each function, the same every run."""
    h = zlib.crc32(name.split(" (")[0].encode("utf-8"))
    return f"hsl({h % 55}, {60 + h // 55 % 30}%, {55 + h // 1650 % 15}%)"


def render(
    records: Sequence[TestRecord],
    *,
    title: str,
    headline: str,
    details: str,
    profiles: Mapping[str, str],
    explanations: Mapping[str, str],
    budgets_file: str | None = None,
    recorded: frozenset[str] = frozenset(),
    detailed: int = DETAILED,
    rows_shown: int = ROWS_SHOWN,
    verdicts: Sequence[Verdict] = (),
    sources: Mapping[str, str] | None = None,
    root: str = ".",
) -> str:
    """The page: `headline` (the terminal summary's), `details` (interpreter,
    versions), the table, the `max_complexity` groups' growth charts, then
    a section per test. `recorded`: the tests whose budgets an update run
    wrote, shown as such (as in the summary). `sources`: each test's
    `source_counts` text, for the annotated source of the files under `root`."""
    ordered = sorted(records, key=lambda r: (STATUS_ORDER[r.status], r.nodeid))
    labels = dict(SOURCE_LABELS)
    if budgets_file is not None:
        labels[LimitSource.FILE] = budgets_file
    shown = {r.nodeid: _status(r, recorded) for r in ordered}
    with_section = _detailed(ordered, detailed)
    rows = "".join(
        _row(i, r, shown[r.nodeid], labels, r.nodeid in with_section)
        for i, r in enumerate(ordered[:rows_shown])
    )
    if len(ordered) > rows_shown:
        data = [
            _row_data(i, r, shown[r.nodeid], labels, r.nodeid in with_section)
            for i, r in enumerate(ordered)
        ]
        # In a script element, `</script>` would end it: no `<` is left as it is.
        text = json.dumps({"shown": rows_shown, "rows": data}, separators=(",", ":"))
        pager = (
            '<script type="application/json" id="rows">'
            + text.replace("<", "\\u003c")
            + '</script>\n<p id="pager" class="muted">The table shows '
            f'<span id="drawn">{rows_shown:,}</span> of the {len(ordered):,} tests, problems '
            f'first. <button type="button">Show {rows_shown:,} more</button></p>'
        )
    else:
        pager = ""
    sources = sources or {}
    source = source_view.render(
        [
            (i, r.nodeid, sources[r.nodeid])
            for i, r in enumerate(ordered)
            if r.nodeid in with_section and r.nodeid in sources
        ],
        root,
    )
    sections = "".join(
        _section(i, r, shown[r.nodeid], profiles.get(r.nodeid), explanations.get(r.nodeid), source)
        for i, r in enumerate(ordered)
        if r.nodeid in with_section
    )
    if len(with_section) < len(ordered):
        sections = (
            f'<p class="muted" id="left-out">Flame graphs and hottest lines of '
            f"{len(with_section):,} of the {len(ordered):,} tests: every test over its "
            "budget or regressed, then the highest counts. The table lists every test; "
            "--bytecount-profile writes the call paths of each.</p>" + sections
        )
    return PAGE.format(
        title=escape(title),
        headline=escape(headline),
        details=escape(details),
        rows=rows,
        pager=pager,
        growth=growth_sections(verdicts),
        sections=sections,
        source=source.html,
        style=STYLE + source_page.STYLE,
        script=SCRIPT + source_page.SCRIPT,
    )


#: The status of a test whose budget an update run wrote.
RECORDED: Final = "recorded"


def _status(record: TestRecord, recorded: frozenset[str]) -> str:
    """A test's status as the page shows it: `recorded` where an update run
    wrote its budget, unless it regressed (the summary's rule)."""
    if record.nodeid in recorded and record.status is not Status.REGRESSED:
        return RECORDED
    return record.status.value


def _detailed(ordered: Sequence[TestRecord], most: int) -> set[str]:
    """The tests given a section: the problems, then the highest counts."""
    by_need = sorted(ordered, key=lambda r: (r.status not in PROBLEMS, -r.instructions, r.nodeid))
    return {record.nodeid for record in by_need[:most]}


def _row(
    index: int,
    record: TestRecord,
    status: str,
    labels: Mapping[LimitSource, str],
    linked: bool,
) -> str:
    """A row as HTML: the cells of `_row_data`, as the script draws them."""
    (nodeid, count, limit, source, order, baseline, change, outcome, _, shown_change, _, _) = (
        _row_data(index, record, status, labels, linked)
    )
    unstable = ' <span class="tag">unstable</span>' if record.unstable else ""
    name = escape(str(nodeid))
    return (
        f'<tr class="{status}">'
        f'<td data-v="{name}">'
        + (f'<a href="#t{index}">{name}</a>' if linked else name)
        + f"{unstable}</td>"
        f'<td class="n" data-v="{count}">{_number(count)}</td>'
        f'<td class="n" data-v="{limit}">{_number(limit)}</td>'
        f'<td data-v="{escape(str(source))}">{escape(str(source))}</td>'
        f'<td data-v="{order}"><span class="status">{status}</span></td>'
        f'<td class="n" data-v="{baseline}">{_number(baseline)}</td>'
        f'<td class="n" data-v="{change}">{shown_change}</td>'
        f'<td data-v="{escape(str(outcome))}">{escape(str(outcome))}</td>'
        "</tr>"
    )


def _number(value: object) -> str:
    """A count as the table shows it; -1 (none) as nothing."""
    return "" if value == -1 else f"{value:,}"


def _row_data(
    index: int,
    record: TestRecord,
    status: str,
    labels: Mapping[LimitSource, str],
    linked: bool,
) -> list[object]:
    """A row as the page's script draws it (SCRIPT's `drawRow`): the sort
    keys of its cells in order (as `_row`'s data-v), then its status, its
    change as shown, its section (or -1) and whether it is unstable."""
    limit = record.limit.instructions if record.limit is not None else -1
    source = labels[record.limit.source] if record.limit is not None else ""
    baseline = record.baseline
    change = change_percent(record.instructions, baseline) if baseline else None
    return [
        record.nodeid,
        record.instructions,
        limit,
        source,
        STATUS_ORDER[record.status],
        baseline if baseline is not None else -1,
        # As `_row` writes it: a Python float's text, which the script's
        # numeric sort reads as the number.
        str(change if change is not None else -1e9),
        record.outcome,
        status,
        signed_percent(change) if change is not None else "",
        index if linked else -1,
        1 if record.unstable else 0,
    ]


def _section(
    index: int,
    record: TestRecord,
    status: str,
    folded: str | None,
    explained: str | None,
    source: source_view.SourceView,
) -> str:
    opened = " open" if status in {problem.value for problem in PROBLEMS} else ""
    parts = [
        f'<details id="t{index}" class="test {status}" data-id="{escape(record.nodeid)}"{opened}>'
        f'<summary><span class="status">{status}</span> '
        f"<code>{escape(record.nodeid)}</code> "
        f'<span class="muted">{record.instructions:,} instructions</span></summary>'
    ]
    if record.unstable:
        parts.append(f'<p class="warn">Unstable: {escape(record.unstable)}</p>')
    if folded is not None:
        parts.append("<h3>Flame graph</h3>")
        parts.append(
            '<p class="muted">Width: instructions run in a function and its callees. '
            "Click a frame to zoom in, the top row to zoom out; hover for counts.</p>"
        )
        parts.append(flame_graph(folded, title=f"flame graph of {record.nodeid}"))
    if record.c_calls:
        parts.append(_c_calls_table(record.c_calls))
    if explained is not None:
        parts.append("<h3>Hottest lines and call paths</h3>")
        parts.append(f"<pre>{source_view.link_places(escape(explained), source)}</pre>")
    parts.append("</details>")
    return "".join(parts)


def _c_calls_table(calls: Sequence[CCallCount]) -> str:
    """The calls into C made most: what the count cannot see the cost of."""
    rows = "".join(
        f'<tr><td class="n">{call.calls:,}</td><td><code>{escape(call.name)}</code></td>'
        f"<td><code>{escape(call.file)}:{call.line}</code></td></tr>"
        for call in calls
    )
    return (
        "<h3>Calls into C</h3>"
        '<p class="muted">Each is one CALL instruction, whatever work it does: '
        "where time and the count may disagree.</p>"
        f'<table class="c-calls"><thead><tr><th>calls</th><th>function</th>'
        f"<th>called from</th></tr></thead><tbody>{rows}</tbody></table>"
    )
