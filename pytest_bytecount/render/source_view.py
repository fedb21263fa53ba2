"""The HTML page's annotated source (pure, no pytest): each project file
the page's tests ran, every line with the instructions run there, on a
heat scale, summed over those tests or for one of them; a click on a line
lists its instructions with their counts (the `explain()` view of it) and
the calls into C it made. The page's script (`source_page.py`) draws the
counts from the data this writes; the source itself is written here, read
as the tokenizer reads it, and escaped.
"""

from __future__ import annotations

import inspect
import json
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from types import CodeType
from typing import Any, Final

from ..attribution import relative_file, source_lines

#: The most instructions (one per offset that ran, per test) the page
#: carries for its annotated source: about 20 bytes each. The tests given a
#: section come first; those after the limit are left out of the view.
MOST_INSTRUCTIONS: Final = 400_000
#: The most files it shows, those that ran the most instructions first.
MOST_FILES: Final = 200


@dataclass(frozen=True)
class SourceView:
    """The view's HTML, and where each file is in it: by its path as the
    page shows it, relative to the rootdir and to the current directory,
    for links from flame graphs and hottest lines."""

    html: str
    files: Mapping[str, int]


def render(tests: Sequence[tuple[int, str, str]], root: str) -> SourceView:
    """The view of `tests`: (section index, node id, `source_counts`
    text), in the page's order."""
    kept, left_out, totals = _within_limit(tests)
    shown = sorted(totals, key=lambda file: (-totals[file], file))[:MOST_FILES]
    if not shown:
        return SourceView("", {})
    index = {file: i for i, file in enumerate(shown)}
    paths = [relative_file(file, root) for file in shown]
    data = _data(kept, index, paths)
    files_html = "".join(_file(i, file, paths[i]) for i, file in enumerate(shown))
    options = "".join(
        f'<option value="{k}">{escape(nodeid)}</option>' for k, (_, nodeid, _) in enumerate(kept)
    )
    note = (
        f" The counts of {len(left_out):,} more tests are not in the page: it keeps "
        f"{MOST_INSTRUCTIONS:,} instructions of the tests it gives a section, in their order."
        if left_out
        else ""
    )
    text = json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")
    html = (
        '<section id="source"><h2>Source</h2>'
        '<p class="muted">The project\'s files that these tests ran, each line with the '
        "instructions run on it. Click a line for its instructions and their counts."
        f"{escape(note)}</p>"
        '<p class="pickers"><label>Counts of <select id="src-test">'
        f'<option value="-1">all {len(kept):,} tests shown</option>{options}</select></label> '
        '<label>in <select id="src-file"></select></label></p>'
        '<p class="legend muted">Fewer <span class="heat h1">&nbsp;</span>'
        '<span class="heat h3">&nbsp;</span><span class="heat h5">&nbsp;</span>'
        '<span class="heat h8">&nbsp;</span> more instructions · '
        '<span class="key zero">0</span> ran in other tests, not this one · '
        '<span class="key never">never ran</span> in any test shown · '
        "no number: not code</p>"
        f"{files_html}"
        f'<script type="application/json" id="source-data">{text}</script></section>'
    )
    links = {path: i for i, path in enumerate(paths)}
    for i, file in enumerate(shown):
        links.setdefault(relative_file(file), i)
    return SourceView(html, links)


def _within_limit(
    tests: Sequence[tuple[int, str, str]],
) -> tuple[list[tuple[int, str, str]], list[str], dict[str, int]]:
    """The tests whose counts the page carries, in order, those left out,
    and the instructions each file ran in the tests kept. Each test's text is
    read here and again for the data, not kept read: a page's worth of them
    would be most of the memory writing it takes."""
    kept: list[tuple[int, str, str]] = []
    left_out: list[str] = []
    totals: dict[str, int] = {}
    room = MOST_INSTRUCTIONS
    for section, nodeid, text in tests:
        files = json.loads(text)
        size = sum(len(rows) for found in files.values() for rows in found["lines"].values())
        if size > room:
            left_out.append(nodeid)
            continue
        kept.append((section, nodeid, text))
        room -= size
        for file, found in files.items():
            ran = sum(row[-1] for rows in found["lines"].values() for row in rows)
            totals[file] = totals.get(file, 0) + ran
    return kept, left_out, totals


def _data(
    kept: Sequence[tuple[int, str, str]], index: Mapping[str, int], paths: Sequence[str]
) -> object:
    """The script's data: the files, each instruction once, and each test's
    counts by file and line, in instruction and count pairs."""
    instructions: dict[tuple[object, ...], int] = {}
    tests = []
    for section, nodeid, text in kept:
        files: dict[str, Any] = json.loads(text)
        lines: dict[int, dict[str, list[object]]] = {}
        calls: dict[int, dict[str, list[list[object]]]] = {}
        for file, found in files.items():
            f = index.get(file)
            if f is None:
                continue
            for line, rows in found["lines"].items():
                # Flat, [instruction, count, instruction, count, ...]: a
                # page's data holds hundreds of thousands of them.
                pairs = lines.setdefault(f, {}).setdefault(line, [])
                for *described, count in rows:
                    key = (f, *described)
                    pairs += (instructions.setdefault(key, len(instructions)), count)
            for line, made in found["c"].items():
                calls.setdefault(f, {})[line] = made
        tests.append({"id": nodeid, "sec": section, "l": lines, "c": calls})
    return {
        "files": list(paths),
        "code": [sorted(_code_lines(file)) for file in index],
        # Without the file: (function, first line, offset, opname, argument).
        "ins": [list(key[1:]) for key in instructions],
        "tests": tests,
    }


def _file(i: int, file: str, path: str) -> str:
    rows = "".join(
        f'<tr id="L{i}-{n}"><td class="n"></td><td class="ln">{n}</td>'
        f'<td class="txt">{escape(text.replace(chr(12), " ")) or " "}</td></tr>'
        for n, text in enumerate(source_lines(file), start=1)
    )
    if not rows:
        rows = '<tr><td></td><td></td><td class="muted">The file could not be read.</td></tr>'
    return (
        f'<div class="src-file" id="src{i}" hidden><h3><code>{escape(path)}</code></h3>'
        f'<table class="source"><tbody>{rows}</tbody></table></div>'
    )


def _code_lines(file: str) -> set[int]:
    """The lines of `file`'s functions that have instructions, as compiling
    it says: the lines a test can run, whether or not it did. Not the
    module's and classes' own code, nor the comprehensions in it, nor a
    function's first line (its `def` or decorator) unless it is its only
    one: those ran on import, before any test. Nothing where the file does
    not compile with this interpreter (its lines that ran still show)."""
    try:
        with warnings.catch_warnings():  # the import already said it
            warnings.simplefilter("ignore")
            code = compile("\n".join(source_lines(file)) + "\n", file, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    found: set[int] = set()
    for each in _functions(code, in_function=False):
        lines = {line for _, _, line in each.co_lines() if line}
        if len(lines) > 1:
            lines.discard(each.co_firstlineno)
        found |= lines
    return found


#: The names of the code objects of comprehensions (3.10, 3.11) and
#: generator expressions.
_COMPREHENSIONS: Final = frozenset({"<genexpr>", "<listcomp>", "<setcomp>", "<dictcomp>"})


def _functions(code: CodeType, *, in_function: bool) -> Iterator[CodeType]:
    """The code of the functions in `code`: every `def` and lambda, and the
    comprehensions within them (not those of a module or class body)."""
    for const in code.co_consts:
        if not isinstance(const, CodeType):
            continue
        function = bool(const.co_flags & inspect.CO_NEWLOCALS)
        if function and (in_function or const.co_name not in _COMPREHENSIONS):
            yield const
        yield from _functions(const, in_function=function)


#: A place in the explanation's text as escaped: `file.py:12`.
_PLACE: Final = re.compile(r"(?<![\w/.-])([\w./\\-]+\.pyw?):(\d+)\b")


def link_places(escaped: str, view: SourceView) -> str:
    """`escaped` (an explanation, as HTML) with each `file:line` of a file
    the view shows made a link to that line (the script shows it with the
    counts of the test whose section the link is in)."""

    def link(match: re.Match[str]) -> str:
        f = view.files.get(match[1])
        if f is None:
            return match[0]
        return f'<a class="src-link" href="#L{f}-{match[2]}">{match[0]}</a>'

    return _PLACE.sub(link, escaped)
