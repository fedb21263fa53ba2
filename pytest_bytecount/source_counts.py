"""What the HTML page's annotated source needs of one test (pure, no
pytest): for each line of the project's own files that ran, each of its
instructions that ran with its count, and the calls into C it made.

Made in the process that measured the test, while its code objects are
alive (`dis` describes them), as JSON text: it travels to an xdist
controller like the test's other extras, and the page reads it as it is.
Files outside the project (the standard library, installed packages) are
left out: a page showing their source would be most of its size, and they
are not what a change under review touched.
"""

from __future__ import annotations

import functools
import json
import os
import sysconfig
from collections.abc import Iterable, Mapping
from types import CodeType
from typing import Final

from .attribution import describe, line_of_each_offset
from .generated_code import function_name

#: An instruction that ran, as the page reads it: its function, the
#: function's first line, its offset, opname, argument and count.
Instruction = tuple[str, int, int, str, str, int]

#: Directories whose files are never the project's own, though they may be
#: under its root (a virtual environment, a tox environment).
_INSTALLED: Final = ("site-packages", "dist-packages")


def is_project_file(file: str, root: str) -> bool:
    """Whether `file` is one of the project's own source files: under
    `root`, and neither an installed package (any `site-packages` or
    `dist-packages` directory, of a virtual environment under the root too)
    nor this interpreter's standard library."""
    if not os.path.isabs(file) or not file.startswith(root.rstrip(os.sep) + os.sep):
        return False
    if any(part in _INSTALLED for part in file.split(os.sep)):
        return False
    return not any(file.startswith(place) for place in _interpreter_places())


@functools.cache
def _interpreter_places() -> tuple[str, ...]:
    """This interpreter's library directories, each ending in a separator:
    not its prefix, which may hold projects too (`/usr` holds `/usr/src`)."""
    paths = sysconfig.get_paths()
    return tuple(
        paths[name].rstrip(os.sep) + os.sep
        for name in ("stdlib", "platstdlib", "purelib", "platlib")
        if name in paths
    )


def by_line(
    ran: Iterable[tuple[CodeType, list[int]]],
    c_calls: Mapping[tuple[str, str, int], int] | None,
    root: str,
) -> dict[str, dict[str, object]]:
    """Per project file (absolute path), `lines`: line number (as text, a
    JSON key) to its instructions that ran, in code order; `c`: line number
    to `[name, calls]` of the calls into C made there, most first."""
    wanted: dict[str, bool] = {}

    def ours(file: str) -> bool:
        if file not in wanted:
            wanted[file] = is_project_file(file, root)
        return wanted[file]

    instructions: dict[str, dict[str, list[Instruction]]] = {}
    for code, counter in ran:
        if not ours(code.co_filename):
            continue
        lines = line_of_each_offset(code)
        described = describe(code)
        function = function_name(code)
        per_line = instructions.setdefault(code.co_filename, {})
        for offset, count in enumerate(counter):
            if count:
                opname, argrepr = described.get(offset, ("?", ""))
                row = (function, code.co_firstlineno, offset, opname, argrepr, count)
                per_line.setdefault(str(lines[offset]), []).append(row)
    made: dict[str, dict[str, list[tuple[str, int]]]] = {}
    for (name, file, line), calls in (c_calls or {}).items():
        if ours(file):
            made.setdefault(file, {}).setdefault(str(line), []).append((name, calls))
    return {
        file: {"lines": instructions.get(file, {}), "c": made.get(file, {})}
        for file in sorted(instructions.keys() | made.keys())
    }


def as_text(files: Mapping[str, Mapping[str, object]]) -> str | None:
    """`by_line`'s result as the JSON text a test's extras carry; None
    when the test ran none of the project's files."""
    return json.dumps(files, separators=(",", ":")) if files else None
