"""`--bytecount-html=PATH`: one self-contained page (pure, no pytest).

The summary, a sortable table of the measured tests, a growth chart for
each group of `max_complexity` cases, and for each test its
flame graph (inline SVG, click a frame to zoom, the root to zoom out) and
its hottest lines with their instructions. Every style and script is in the
page, which loads nothing, so it can be opened from a CI artifact offline.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from html import escape
from typing import Final

from .. import stack_diff
from ..compare import FunctionChange
from ..complexity_verdict import Verdict
from ..records import CCallCount, TestRecord
from ..verdict import DISPLAY_ORDER, PROBLEMS, SOURCE_LABELS, LimitSource, Status, change_percent
from . import source_page, source_view
from .flame_graph import differential_flame_graph, flame_graph
from .growth_chart import growth_sections
from .html_page import PAGE, SCRIPT, STYLE
from .numbers import signed_percent

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
    baseline_stacks: Mapping[str, Sequence[tuple[str, int]]] | None = None,
    baseline_name: str = "the baseline",
) -> str:
    """The page: `headline` (the terminal summary's), `details` (interpreter,
    versions), the table, the `max_complexity` groups' growth charts, then
    a section per test. `recorded`: the tests whose budgets an update run
    wrote, shown as such (as in the summary). `sources`: each test's
    `source_counts` text, for the annotated source of the files under `root`.
    `baseline_stacks`: call paths of the tests in the report compared
    against (`baseline_name`), for a problem's differential flame graph."""
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
    old = baseline_stacks or {}
    sections = "".join(
        _section(
            i,
            r,
            shown[r.nodeid],
            profiles.get(r.nodeid),
            explanations.get(r.nodeid),
            source,
            (dict(old[r.nodeid]), baseline_name) if r.nodeid in old else None,
        )
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
    baseline: tuple[dict[str, int], str] | None,
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
        if baseline is not None and record.status in PROBLEMS:
            parts.append(_differential(record, folded, *baseline))
    if record.c_calls:
        parts.append(_c_calls_table(record.c_calls))
    if explained is not None:
        parts.append("<h3>Hottest lines and call paths</h3>")
        parts.append(f"<pre>{source_view.link_places(escape(explained), source)}</pre>")
    parts.append("</details>")
    return "".join(parts)


def _differential(record: TestRecord, folded: str, old: dict[str, int], name: str) -> str:
    """A problem's call paths coloured by change since the baseline's, the
    same paths kept of both (`stack_diff.bounded`), and beside them the
    functions whose own counts moved most."""
    new = stack_diff.bounded(stack_diff.parse_folded(folded))
    graph = differential_flame_graph(new, old, title=f"differential flame graph of {record.nodeid}")
    rows = "".join(_change_row(change) for change in record.function_changes)
    changes = (
        '<table class="changes"><thead><tr><th>function (own)</th><th>before</th>'
        f"<th>after</th><th>change</th></tr></thead><tbody>{rows}</tbody></table>"
        if rows
        else ""
    )
    return (
        f'<div class="what-changed"><h3>What changed since {escape(name)}</h3>'
        '<div class="differential"><p class="muted">This run\'s call paths, each frame '
        "coloured by how its instructions with its callees changed: "
        '<span class="key grew">red grew</span>, <span class="key shrank">blue shrank</span>, '
        "deeper the more; grey did not change; "
        '<span class="key new">outlined</span>: not in the baseline. Beside, the functions '
        f"whose own counts moved most.</p>{changes}</div>{graph}</div>"
    )


def _change_row(change: FunctionChange) -> str:
    """A function whose own count moved: where it is, before, after, by how
    much (unknown before: a baseline of an earlier version did not list it)."""
    where = f'<span class="muted">{escape(change.file)}:{change.line}</span>' if change.file else ""
    before = change.before
    return (
        f"<tr><td><code>{escape(change.function)}</code> {where}</td>"
        f'<td class="n">{f"{before:,}" if before is not None else "?"}</td>'
        f'<td class="n">{change.after:,}</td>'
        f'<td class="n">{f"{change.after - before:+,}" if before is not None else ""}</td></tr>'
    )


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
