"""The HTML page's fixed parts (pure): its skeleton, its style and its
script, which sorts the table, draws a large suite's rows from the data in
the page, opens a test's section from its row and zooms the flame graphs.
`html.py` fills the skeleton in.
"""

from __future__ import annotations

from typing import Final

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
{growth}
{sections}
{source}
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
svg.flame g.new rect { stroke: #1f2328; stroke-width: 1.2; stroke-dasharray: 3 2; }
.differential { display: flex; gap: 1.5rem; align-items: flex-start; margin-bottom: .5rem; }
.differential p { flex: 1 1 0; margin: 0; }
table.changes { width: auto; margin: 0; font-size: 12px; }
.key.grew { background: hsl(0, 85%, 65%); } .key.shrank { background: hsl(215, 85%, 65%); }
.key.new { border: 1px dashed #1f2328; }
.charts { display: flex; flex-wrap: wrap; gap: 1rem; }
figure.growth { border: 1px solid #d0d7de; border-radius: 6px; margin: 0; padding: .5rem;
                max-width: 440px; }
figure.growth.failed .status { color: #cf222e; }
figure.growth.passed .status { color: #1a7f37; }
figure.growth.skipped .status { color: #9a6700; }
svg.growth { display: block; max-width: 100%; height: auto; font: 11px system-ui, sans-serif; }
svg.growth .axis { fill: none; stroke: #656d76; }
svg.growth .grid { stroke: #d0d7de; stroke-dasharray: 2 3; }
svg.growth .tick, svg.growth .label { fill: #656d76; }
svg.growth .fit { fill: none; stroke: #0969da; stroke-width: 2; }
svg.growth .limit { fill: none; stroke: #cf222e; stroke-width: 1.5; stroke-dasharray: 6 4; }
svg.growth .count { fill: #1f2328; }
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
