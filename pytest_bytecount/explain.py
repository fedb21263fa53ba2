"""The text of `Measurement.explain()`: the hottest lines of a measurement,
each with its source and, under it, the instructions of that line that ran,
with their execution counts (`dis` with counts), then the hottest call paths
(pure, no pytest). What ran where is worked out in attribution.py. Beside
the measurement rather than among the renderers: `explain()` is part of the
measurement's API, and measurements import nothing from above them.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import CodeType

from .attribution import c_calls_by_name, instructions_by_line, relative_file, source_of
from .generated_code import is_generated


def render(
    instructions: int,
    by_line: dict[tuple[str, int], int],
    ran: Sequence[tuple[CodeType, list[int]]],
    lines: int = 10,
    c_calls: dict[tuple[str, str, int], int] | None = None,
    hottest_paths: Sequence[tuple[str, int]] | None = None,
) -> str:
    """The text of `explain()`: a headline, then the `lines` hottest lines,
    files shown relative to the current directory when under it; a line of
    generated code says so, and whose it is. With `c_calls`, each line ends
    with the calls into C it made, and a line names those made most; with
    `hottest_paths` (call paths recorded), they follow."""
    text = _render_lines(instructions, by_line, ran, lines, c_calls)
    if c_calls is not None and instructions:
        text += "\n" + render_c_calls(c_calls)
    if hottest_paths is not None and instructions:
        text += render_paths(hottest_paths, instructions)
    return text


def _render_lines(
    instructions: int,
    by_line: dict[tuple[str, int], int],
    ran: Sequence[tuple[CodeType, list[int]]],
    lines: int,
    c_calls: dict[tuple[str, str, int], int] | None,
) -> str:
    hottest = list(by_line.items())[:lines]
    if not hottest:
        return "0 instructions executed\n"
    # Only the code on those lines is disassembled: `dis` is most of the cost.
    hot = {where for where, _ in hottest}
    detail = instructions_by_line(
        (code, counter)
        for code, counter in ran
        if any((code.co_filename, line) in hot for _, _, line in code.co_lines())
    )
    shown = [detail.get(where, []) for where, _ in hottest]
    count_width = max(len(f"{count:,}") for _, count in hottest)
    width = max((len(f"{r.count:,}") for rows in shown for r in rows), default=1)
    name_width = max((len(r.opname) for rows in shown for r in rows), default=1)
    out = [
        f"{instructions:,} instructions executed on {len(by_line):,} lines; "
        f"the {len(hottest)} hottest:",
    ]
    for ((file, line), count), ran_here in zip(hottest, shown, strict=True):
        source = source_of(file, line)
        out.append("")
        out.append(f"{count:>{count_width},}  {relative_file(file)}:{line}  {source}".rstrip())
        # Several functions on one line (a lambda, a comprehension), or a
        # line of generated code, which says nothing of whose it is.
        several = len({r.function for r in ran_here}) > 1 or is_generated(file)
        function = None
        for r in ran_here:
            if several and r.function != function:
                function = r.function
                out.append(" " * (count_width + 2) + f"in {function}:")
            row = f"{r.count:>{width},}  {r.opname:<{name_width}}  {r.argrepr}"
            out.append(" " * (count_width + 2) + row.rstrip())
        made = [
            (name, n) for (name, f, at), n in (c_calls or {}).items() if (f, at) == (file, line)
        ]
        if made:
            named = ", ".join(f"{name} {n:,}" for name, n in made)
            out.append(" " * (count_width + 2) + f"calls into C here: {named}")
    return "\n".join(out) + "\n"


#: The calls into C that `explain()` and a failure name.
C_CALLS_SHOWN = 8


def render_c_calls(by_line: dict[tuple[str, str, int], int]) -> str:
    """One line naming the functions not written in Python that were called
    most: each call is one CALL instruction, whatever work it does."""
    by_name = c_calls_by_name(by_line)
    if not by_name:
        return "calls into C: none\n"
    shown = list(by_name.items())[:C_CALLS_SHOWN]
    text = ", ".join(f"{name} {count:,}" for name, count in shown)
    if len(by_name) > len(shown):
        text += f", and {len(by_name) - len(shown):,} more"
    total = sum(by_name.values())
    return f"calls into C ({total:,}, one CALL instruction each, whatever they do): {text}\n"


def render_paths(hottest: Sequence[tuple[str, int]], instructions: int) -> str:
    """The hottest call paths, after the lines: each with the instructions
    run in its innermost frame, its share, and its frames outermost first
    (a frame repeated in a row, recursion, shown once with `xN`)."""
    if not hottest:
        return ""
    width = max(len(f"{count:,}") for _, count in hottest)
    paths = "call path" if len(hottest) == 1 else "call paths"
    out = ["", f"the {len(hottest)} hottest {paths} (instructions in the innermost frame):"]
    for stack, count in hottest:
        share = 100 * count / instructions if instructions else 0.0
        out.append(f"{count:>{width},}  {share:5.1f}%  {_compressed(stack.split(';'))}")
    return "\n".join(out) + "\n"


def _compressed(frames: Sequence[str]) -> str:
    runs: list[list[object]] = []
    for frame in frames:
        if runs and runs[-1][0] == frame:
            runs[-1][1] = int(str(runs[-1][1])) + 1
        else:
            runs.append([frame, 1])
    return " > ".join(f"{frame} x{n}" if n != 1 else str(frame) for frame, n in runs)
