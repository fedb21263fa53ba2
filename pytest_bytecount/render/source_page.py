"""The annotated source's style and script (pure): `source_view.py` writes
the files and the data; this script draws each line's count and heat for
the tests chosen, lists a clicked line's instructions, and follows links
to a line from a flame-graph frame or the hottest lines.
"""

from __future__ import annotations

from typing import Final

STYLE: Final = """
#source select { max-width: 60ch; }
table.source { margin: .3rem 0 1rem; font: 12px/1.4 ui-monospace, monospace; }
table.source td { border: 0; padding: 0 .5rem; white-space: pre; tab-size: 4; }
table.source td.n { min-width: 6ch; color: #1f2328; }
table.source td.ln { color: #8c959f; text-align: right; user-select: none; }
table.source tr[class*=" h"] td.ln { color: #57606a; }
table.source tr.h7 td.ln, table.source tr.h8 td.ln { color: #fff; }
table.source tr.code { cursor: pointer; }
table.source tr.code:hover td.txt { text-decoration: underline dotted #8c959f; }
table.source tr.never td.txt { background: repeating-linear-gradient(135deg, #f6f8fa 0 4px,
  #eaeef2 4px 8px); color: #57606a; }
table.source tr.never td.n::after { content: "never"; color: #8c959f; font-size: 10px; }
table.source tr.zero td.n { color: #8c959f; }
table.source tr.target td.ln { background: #0969da; color: #fff; }
table.source tr.ins td { white-space: normal; padding: 0 .5rem .4rem; }
table.source tr.ins pre { margin: 0; }
.heat, .key { display: inline-block; min-width: 1.2em; padding: 0 .3rem; border-radius: 2px; }
.key.never { background: repeating-linear-gradient(135deg, #f6f8fa 0 4px, #eaeef2 4px 8px); }
.key.zero { border: 1px solid #d0d7de; }
.h1 { background: #fff3c4; } .h2 { background: #ffe59e; } .h3 { background: #ffd580; }
.h4 { background: #ffc266; } .h5 { background: #ffa94d; } .h6 { background: #ff8c3a; }
.h7 { background: #f56d2c; } .h8 { background: #e04d1f; color: #fff; }
.frame-source { min-height: 1.4em; margin: .2rem 0; }
"""

SCRIPT: Final = """
"use strict";
(function () {
  const holder = document.getElementById("source-data");
  if (!holder) { return; }
  const data = JSON.parse(holder.textContent);
  const testPicker = document.getElementById("src-test");
  const filePicker = document.getElementById("src-file");
  const codeLines = data.code.map(function (lines) { return new Set(lines); });
  let test = -1, file = 0;
  function chosen() { return test === -1 ? data.tests : [data.tests[test]]; }
  // Each line's count in file `f` for the chosen tests, as a Map.
  function counts(f, tests) {
    const found = new Map();
    tests.forEach(function (t) {
      const lines = t.l[f] || {};
      Object.keys(lines).forEach(function (line) {
        const pairs = lines[line];  // instruction, count, instruction, count...
        let n = 0;
        for (let i = 1; i < pairs.length; i += 2) { n += pairs[i]; }
        found.set(Number(line), (found.get(Number(line)) || 0) + n);
      });
    });
    return found;
  }
  function total(found) {
    let sum = 0;
    found.forEach(function (n) { sum += n; });
    return sum;
  }
  function fillFiles() {
    const tests = chosen();
    filePicker.replaceChildren();
    data.files.forEach(function (path, f) {
      const option = document.createElement("option");
      option.value = f;
      option.textContent = path + " \\u2014 " + total(counts(f, tests)).toLocaleString("en-US") +
        " instructions";
      filePicker.appendChild(option);
    });
    filePicker.value = file;
  }
  // Draw file `file` for the chosen tests: counts, heat, never ran or 0.
  function draw() {
    document.querySelectorAll("div.src-file").forEach(function (div) {
      div.hidden = div.id !== "src" + file;
    });
    const here = counts(file, chosen()), ever = counts(file, data.tests);
    let most = 0;
    here.forEach(function (n) { most = Math.max(most, n); });
    const rows = document.getElementById("src" + file).querySelectorAll("tr[id]");
    rows.forEach(function (tr) {
      const line = Number(tr.id.split("-")[1]), n = here.get(line) || 0;
      const code = codeLines[file].has(line) || ever.has(line);
      tr.className = "";
      const cell = tr.cells[0];
      cell.textContent = "";
      cell.title = "";
      const next = tr.nextElementSibling;
      if (next && next.classList.contains("ins")) { next.remove(); }
      if (!code) { return; }
      tr.classList.add("code");
      if (n > 0) {
        const level = most > 1 ? 1 + Math.floor(7 * Math.log(n) / Math.log(most) + 1e-9) : 8;
        tr.classList.add("h" + Math.min(level, 8));
        cell.className = "n h" + Math.min(level, 8);
        cell.textContent = n.toLocaleString("en-US");
      } else if (ever.has(line)) {
        tr.classList.add("zero");
        cell.className = "n";
        cell.textContent = "0";
        cell.title = "ran in other tests shown, not in this one";
      } else {
        tr.classList.add("never");
        cell.className = "n";
        cell.title = "never ran in any test shown";
      }
    });
  }
  // The instructions of a line that ran, summed over the chosen tests, in
  // code order, each function named where several share the line.
  function instructions(line) {
    const summed = new Map(), made = new Map();
    chosen().forEach(function (t) {
      const pairs = (t.l[file] || {})[line] || [];
      for (let i = 0; i < pairs.length; i += 2) {
        summed.set(pairs[i], (summed.get(pairs[i]) || 0) + pairs[i + 1]);
      }
      ((t.c[file] || {})[line] || []).forEach(function (call) {
        made.set(call[0], (made.get(call[0]) || 0) + call[1]);
      });
    });
    const rows = Array.from(summed.keys()).map(function (k) {
      return [data.ins[k], summed.get(k)];
    });
    rows.sort(function (a, b) {
      return a[0][1] - b[0][1] || (a[0][0] < b[0][0] ? -1 : a[0][0] > b[0][0] ? 1 : 0) ||
        a[0][2] - b[0][2];
    });
    if (!rows.length) { return "No instruction of this line ran in the tests chosen."; }
    const width = Math.max.apply(null, rows.map(function (r) {
      return r[1].toLocaleString("en-US").length;
    }));
    const names = Math.max.apply(null, rows.map(function (r) { return r[0][3].length; }));
    const several = new Set(rows.map(function (r) { return r[0][0]; })).size > 1;
    const out = [];
    let function_ = null;
    rows.forEach(function (r) {
      if (several && r[0][0] !== function_) {
        function_ = r[0][0];
        out.push("in " + function_ + ":");
      }
      out.push((r[1].toLocaleString("en-US").padStart(width) + "  " + r[0][3].padEnd(names) +
        "  " + r[0][4]).trimEnd());
    });
    if (made.size) {
      const calls = Array.from(made.entries()).sort(function (a, b) { return b[1] - a[1]; });
      out.push("calls into C here: " + calls.map(function (c) {
        return c[0] + " " + c[1].toLocaleString("en-US");
      }).join(", "));
    }
    return out.join("\\n");
  }
  function toggle(tr) {
    const next = tr.nextElementSibling;
    if (next && next.classList.contains("ins")) { next.remove(); return; }
    const row = document.createElement("tr"), pre = document.createElement("pre");
    row.className = "ins";
    row.append(document.createElement("td"), document.createElement("td"));
    const cell = document.createElement("td");
    pre.textContent = instructions(Number(tr.id.split("-")[1]));
    cell.appendChild(pre);
    row.appendChild(cell);
    tr.after(row);
  }
  document.querySelectorAll("table.source").forEach(function (table) {
    table.addEventListener("click", function (event) {
      const tr = event.target.closest("tr.code");
      if (tr) { toggle(tr); }
    });
  });
  testPicker.addEventListener("change", function () {
    test = Number(testPicker.value);
    fillFiles();
    draw();
  });
  filePicker.addEventListener("change", function () {
    file = Number(filePicker.value);
    draw();
  });
  // Show line `line` of file `f` for test `t` (-1: all), its instructions open.
  function show(t, f, line) {
    test = t;
    file = f;
    testPicker.value = t;
    fillFiles();
    draw();
    document.querySelectorAll("tr.target").forEach(function (old) {
      old.classList.remove("target");
    });
    const tr = document.getElementById("L" + f + "-" + line);
    if (!tr) { return; }
    tr.classList.add("target");
    if (tr.classList.contains("code")) { toggle(tr); }
    tr.scrollIntoView({block: "center"});
  }
  // A frame's label writes a path's ";" as ":" (folded stacks split at ";").
  const byPath = new Map();
  data.files.forEach(function (path, f) {
    byPath.set(path, f);
    byPath.set(path.split(";").join(":"), f);
  });
  const byId = new Map(data.tests.map(function (t, k) { return [t.id, k]; }));
  function testOf(element) {
    const section = element.closest("details.test");
    const k = section ? byId.get(section.dataset.id) : undefined;
    return k === undefined ? -1 : k;
  }
  document.addEventListener("click", function (event) {
    const link = event.target.closest("a.src-link");
    if (!link) { return; }
    event.preventDefault();
    const place = link.getAttribute("href").slice(2).split("-");
    show(testOf(link), Number(place[0]), Number(place[1]));
  });
  // A flame-graph frame clicked: a link to its function's first line.
  document.querySelectorAll("svg.flame").forEach(function (svg) {
    const note = document.createElement("p");
    note.className = "frame-source muted";
    svg.after(note);
    svg.addEventListener("click", function (event) {
      const frame = event.target.closest("g.f");
      if (!frame) { return; }
      const place = /^(.*) \\((.*):(\\d+)\\)$/.exec(frame.dataset.n);
      note.replaceChildren();
      if (!place || !byPath.has(place[2])) { return; }
      const a = document.createElement("a");
      a.className = "src-link";
      a.href = "#L" + byPath.get(place[2]) + "-" + place[3];
      a.textContent = place[2] + ":" + place[3];
      note.append(place[1] + " is at ", a, " in the source");
    });
  });
  // The file that ran the most first.
  fillFiles();
  draw();
})();
"""
