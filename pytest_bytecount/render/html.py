"""`--bytecount-html=PATH`: one self-contained page (pure, no pytest).

The summary, a sortable table of the measured tests, and for each test its
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

from ..records import TestRecord
from ..verdict import DISPLAY_ORDER, PROBLEMS, SOURCE_LABELS, LimitSource, Status, change_percent
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
) -> str:
    """The page: `headline` (the terminal summary's), `details` (interpreter,
    versions), the table, then a section per test. `recorded`: the tests
    whose budgets an update run wrote, shown as such (as in the summary)."""
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
    sections = "".join(
        _section(i, r, shown[r.nodeid], profiles.get(r.nodeid), explanations.get(r.nodeid))
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
        sections=sections,
        style=STYLE,
        script=SCRIPT,
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
    limit = record.limit.instructions if record.limit is not None else None
    source = labels[record.limit.source] if record.limit is not None else ""
    baseline = record.baseline
    change = change_percent(record.instructions, baseline) if baseline else None
    unstable = ' <span class="tag">unstable</span>' if record.unstable else ""
    return (
        f'<tr class="{status}">'
        f'<td data-v="{escape(record.nodeid)}">'
        + (f'<a href="#t{index}">{escape(record.nodeid)}</a>' if linked else escape(record.nodeid))
        + f"{unstable}</td>"
        f'<td class="n" data-v="{record.instructions}">{record.instructions:,}</td>'
        f'<td class="n" data-v="{limit if limit is not None else -1}">'
        f"{f'{limit:,}' if limit is not None else ''}</td>"
        f'<td data-v="{escape(source)}">{escape(source)}</td>'
        f'<td data-v="{STATUS_ORDER[record.status]}">'
        f'<span class="status">{status}</span></td>'
        f'<td class="n" data-v="{baseline if baseline is not None else -1}">'
        f"{f'{baseline:,}' if baseline is not None else ''}</td>"
        f'<td class="n" data-v="{change if change is not None else -1e9}">'
        f"{signed_percent(change) if change is not None else ''}</td>"
        f'<td data-v="{escape(record.outcome)}">{escape(record.outcome)}</td>'
        "</tr>"
    )


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
    index: int, record: TestRecord, status: str, folded: str | None, explained: str | None
) -> str:
    opened = " open" if status in {problem.value for problem in PROBLEMS} else ""
    parts = [
        f'<details id="t{index}" class="test {status}"{opened}>'
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
    if explained is not None:
        parts.append("<h3>Hottest lines and call paths</h3>")
        parts.append(f"<pre>{escape(explained)}</pre>")
    parts.append("</details>")
    return "".join(parts)


PAGE: Final = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
<header>
<h1>{title}</h1>
<p class="headline">{headline}</p>
<p class="muted">{details}</p>
</header>
<main>
<table id="tests">
<thead><tr>
<th data-type="text">Test</th><th data-type="number">Instructions</th>
<th data-type="number">Limit</th><th data-type="text">Limit from</th>
<th data-type="number">Status</th><th data-type="number">Baseline</th>
<th data-type="number">Change</th><th data-type="text">Outcome</th>
</tr></thead>
<tbody>{rows}</tbody>
</table>
{pager}
{sections}
</main>
<script>{script}</script>
</body>
</html>
"""

STYLE: Final = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1240px;
       padding: 1rem 1.5rem 4rem; color: #1f2328; background: #fff; }
h1 { font-size: 1.4rem; margin-bottom: .2rem; }
h3 { font-size: 1rem; margin: 1rem 0 .3rem; }
.headline { font-size: 1.05rem; font-weight: 600; }
.muted { color: #656d76; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0 2rem; }
th, td { padding: .3rem .5rem; border-bottom: 1px solid #d0d7de; text-align: left; }
th { cursor: pointer; user-select: none; background: #f6f8fa; position: sticky; top: 0; }
th.asc::after { content: " \\25B2"; } th.desc::after { content: " \\25BC"; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
td a { color: inherit; }
.status { font-weight: 600; text-transform: uppercase; font-size: .8rem; }
.over .status, .regressed .status { color: #cf222e; }
.improved .status, .ok .status, .recorded .status { color: #1a7f37; }
.new .status { color: #9a6700; }
.tag { background: #fff8c5; border: 1px solid #d4a72c; border-radius: 3px;
       font-size: .75rem; padding: 0 .3rem; }
details.test { border: 1px solid #d0d7de; border-radius: 6px; margin: .6rem 0;
               padding: .4rem .8rem; }
details.test > summary { cursor: pointer; }
.warn { color: #9a6700; }
pre { background: #f6f8fa; padding: .8rem; overflow-x: auto; font-size: 12px; line-height: 1.35; }
svg.flame { display: block; font: 12px ui-monospace, monospace; }
svg.flame g.f { cursor: pointer; }
svg.flame g.f:hover rect { stroke: #1f2328; stroke-width: .6; }
svg.flame text { pointer-events: none; fill: #1f2328; }
"""

SCRIPT: Final = """
"use strict";
(function () {
  // Sort the table by a column: numbers by their data-v, text by its text.
  const table = document.getElementById("tests");
  // A large suite's rows: data, drawn `shown` at a time (render/html.py).
  const data = document.getElementById("rows");
  const large = data ? JSON.parse(data.textContent) : null;
  let drawn = large ? large.shown : 0;
  function drawRow(d) {
    const tr = document.createElement("tr");
    tr.className = d[8];
    function cell(v, text, numeric) {
      const td = document.createElement("td");
      td.dataset.v = v;
      if (numeric) { td.className = "n"; }
      if (text !== null) { td.textContent = text; }
      tr.appendChild(td);
      return td;
    }
    const number = function (v) { return v === -1 ? "" : v.toLocaleString("en-US"); };
    const name = cell(d[0], d[10] === -1 ? d[0] : null, false);
    if (d[10] !== -1) {
      const a = document.createElement("a");
      a.href = "#t" + d[10];
      a.textContent = d[0];
      a.addEventListener("click", openSection);
      name.appendChild(a);
    }
    if (d[11]) {
      const tag = document.createElement("span");
      tag.className = "tag";
      tag.textContent = "unstable";
      name.append(" ", tag);
    }
    cell(d[1], number(d[1]), true);
    cell(d[2], number(d[2]), true);
    cell(d[3], d[3], false);
    const status = cell(d[4], null, false), label = document.createElement("span");
    label.className = "status";
    label.textContent = d[8];
    status.appendChild(label);
    cell(d[5], number(d[5]), true);
    cell(d[6], d[9], true);
    cell(d[7], d[7], false);
    return tr;
  }
  function draw() {
    const rows = document.createDocumentFragment();
    large.rows.slice(0, drawn).forEach(function (d) { rows.appendChild(drawRow(d)); });
    table.tBodies[0].replaceChildren(rows);
    document.getElementById("drawn").textContent = Math.min(drawn, large.rows.length)
      .toLocaleString("en-US");
  }
  if (large) {
    document.querySelector("#pager button").addEventListener("click", function () {
      drawn += large.shown;
      draw();
    });
  }
  table.querySelectorAll("th").forEach(function (th, column) {
    th.addEventListener("click", function () {
      const ascending = !th.classList.contains("asc");
      table.querySelectorAll("th").forEach(function (h) { h.classList.remove("asc", "desc"); });
      th.classList.add(ascending ? "asc" : "desc");
      const numeric = th.dataset.type === "number";
      if (large) {
        const by = new Intl.Collator().compare;
        large.rows.sort(function (a, b) {
          const order = numeric ? a[column] - b[column] : by(a[column], b[column]);
          return ascending ? order : -order;
        });
        draw();
        return;
      }
      const body = table.tBodies[0];
      // Keys read once, compared with one collator, rows put back in one
      // go: a table of 50,000 tests sorts in a moment.
      const compare = new Intl.Collator().compare;
      const keyed = Array.from(body.rows, function (row) {
        const v = row.cells[column].dataset.v;
        return [numeric ? Number(v) : v, row];
      });
      keyed.sort(function (a, b) {
        const order = numeric ? a[0] - b[0] : compare(a[0], b[0]);
        return ascending ? order : -order;
      });
      const sorted = document.createDocumentFragment();
      keyed.forEach(function (pair) { sorted.appendChild(pair[1]); });
      body.appendChild(sorted);
    });
  });
  // A test's row opens its section.
  function openSection(event) {
    const target = document.querySelector(event.currentTarget.getAttribute("href"));
    if (target) { target.open = true; }
  }
  table.querySelectorAll("a").forEach(function (a) {
    a.addEventListener("click", openSection);
  });
  // Zoom a flame graph on the clicked frame: it and its callees fill the
  // width, its callers span it; the top row zooms out.
  const WIDTH = 1200, CHAR = 7.5;
  function fit(label, width) {
    const room = Math.floor((width - 6) / CHAR);
    if (room < 3) { return ""; }
    return label.length <= room ? label : label.slice(0, room - 1) + "\\u2026";
  }
  document.querySelectorAll("svg.flame").forEach(function (svg) {
    svg.addEventListener("click", function (event) {
      const clicked = event.target.closest("g.f");
      if (!clicked) { return; }
      const zx = Number(clicked.dataset.x), zw = Number(clicked.dataset.w);
      svg.querySelectorAll("g.f").forEach(function (g) {
        const x = Number(g.dataset.x), w = Number(g.dataset.w), eps = 1e-9;
        const inside = x >= zx - eps && x + w <= zx + zw + eps;
        const around = x <= zx + eps && x + w >= zx + zw - eps;
        g.style.display = inside || around ? "" : "none";
        if (!(inside || around)) { return; }
        const nx = inside ? (x - zx) / zw * WIDTH : 0;
        const nw = inside ? w / zw * WIDTH : WIDTH;
        const rect = g.querySelector("rect"), text = g.querySelector("text");
        rect.setAttribute("x", nx.toFixed(2));
        rect.setAttribute("width", nw.toFixed(2));
        text.setAttribute("x", (nx + 3).toFixed(2));
        text.textContent = fit(g.dataset.n, nw);
      });
    });
  });
})();
"""
