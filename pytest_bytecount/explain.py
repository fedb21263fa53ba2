"""`Measurement.explain()`: the hottest lines of a measurement, each with
its source and, under it, the instructions of that line that ran, with their
execution counts: `dis` with counts (pure, no pytest).

Worked out after the span from the per-offset counts the engine kept, the
code's line table and `dis`; never while counting.
"""

from __future__ import annotations

import dis
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import compress, pairwise
from types import CodeType
from typing import final

from .engine.bytecode import EXTENDED_ARG, PREFIX_REPORTED_WITH_INSTRUCTION, reported_opname


@final
@dataclass(frozen=True)
class Ran:
    """One instruction that ran: where, how often, and what it is."""

    function: str
    count: int
    opname: str
    argrepr: str


def source_lines(file: str) -> list[str]:
    """The lines of a source file, or none where it cannot be read.

    Read directly, not through `linecache`: its cache is state the measured
    code can see (doctest's runner, a traceback), so filling it after one
    test could change the count of the next. No import either, for the same
    reason (first-use costs)."""
    try:
        with open(file, encoding="utf-8", errors="replace") as source:
            return source.read().splitlines()
    except OSError:
        return []


def source_of(file: str, line: int, cache: dict[str, list[str]] | None = None) -> str:
    """Line `line` of `file` as written, stripped; "" where unknown."""
    lines = cache.setdefault(file, source_lines(file)) if cache is not None else source_lines(file)
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


def line_of_each_offset(code: CodeType) -> list[int]:
    """The source line of the instruction at each byte offset of `code`:
    `co_lines()`, with no-line ranges given the line before them (or the
    function's first line), the line the interpreter's frame reported last."""
    lines = [code.co_firstlineno] * len(code.co_code)
    last = code.co_firstlineno
    for start, end, line in code.co_lines():
        if line is not None:
            last = line
        lines[start:end] = [last] * (end - start)
    return lines


def instructions_by_line(
    ran: Iterable[tuple[CodeType, list[int]]],
) -> dict[tuple[str, int], list[Ran]]:
    """Per `(filename, line)`, the instructions of that line that ran, in
    code order (several code objects may share a line: a comprehension)."""
    by_line: dict[tuple[str, int], list[Ran]] = {}
    for code, counter in ran:
        lines = line_of_each_offset(code)
        described = _describe(code)
        function = getattr(code, "co_qualname", code.co_name)
        for offset in compress(range(len(counter)), counter):
            opname, argrepr = described.get(offset, ("?", ""))
            key = (code.co_filename, lines[offset])
            ran_here = Ran(function, counter[offset], opname, argrepr)
            by_line.setdefault(key, []).append(ran_here)
    return by_line


def _describe(code: CodeType) -> dict[int, tuple[str, str]]:
    """Offset to (opname, argument) as `dis` shows them; an EXTENDED_ARG
    prefix the interpreter reports with its instruction (3.10/3.11) is named
    after that instruction."""
    described = {}
    raw = code.co_code
    following: dict[int, dis.Instruction] = {}
    instructions = list(dis.get_instructions(code))
    for before, after in pairwise(instructions):
        following[before.offset] = after
    for instruction in instructions:
        offset = instruction.offset
        if raw[offset] == EXTENDED_ARG and PREFIX_REPORTED_WITH_INSTRUCTION:
            target = following.get(offset, instruction)
            while target.opname == "EXTENDED_ARG" and target.offset in following:
                target = following[target.offset]
            described[offset] = (reported_opname(raw, offset), target.argrepr)
        else:
            described[offset] = (instruction.opname, _short(instruction))
    return described


def _short(instruction: dis.Instruction) -> str:
    """The argument as `dis` shows it, but a code object by its name only."""
    if isinstance(instruction.argval, CodeType):
        return f"<code {getattr(instruction.argval, 'co_qualname', instruction.argval.co_name)}>"
    return instruction.argrepr


def render(
    instructions: int,
    by_line: dict[tuple[str, int], int],
    ran: Sequence[tuple[CodeType, list[int]]],
    *,
    lines: int = 10,
) -> str:
    """The text of `explain()`: a headline, then the `lines` hottest lines,
    files shown relative to the current directory when under it."""
    hottest = list(by_line.items())[:lines]
    if not hottest:
        return "0 instructions executed\n"
    detail = instructions_by_line(ran)
    shown = [detail.get(where, []) for where, _ in hottest]
    count_width = max(len(f"{count:,}") for _, count in hottest)
    width = max((len(f"{r.count:,}") for rows in shown for r in rows), default=1)
    name_width = max((len(r.opname) for rows in shown for r in rows), default=1)
    out = [
        f"{instructions:,} instructions executed on {len(by_line):,} lines; "
        f"the {len(hottest)} hottest:",
    ]
    sources: dict[str, list[str]] = {}
    for ((file, line), count), ran_here in zip(hottest, shown, strict=True):
        source = source_of(file, line, sources)
        out.append("")
        out.append(f"{count:>{count_width},}  {_shown(file)}:{line}  {source}".rstrip())
        several = len({r.function for r in ran_here}) > 1  # a lambda, a comprehension
        function = None
        for r in ran_here:
            if several and r.function != function:
                function = r.function
                out.append(" " * (count_width + 2) + f"in {function}:")
            row = f"{r.count:>{width},}  {r.opname:<{name_width}}  {r.argrepr}"
            out.append(" " * (count_width + 2) + row.rstrip())
    return "\n".join(out) + "\n"


def _shown(file: str) -> str:
    """`file` relative to the current directory when under it."""
    try:
        relative = os.path.relpath(file)
    except ValueError:  # another drive on Windows
        return file
    return file if relative.startswith(os.pardir) else relative


def render_paths(hottest: Sequence[tuple[str, int]], instructions: int) -> str:
    """The hottest call paths, after the lines: each with the instructions
    run in its innermost frame, its share, and its frames outermost first
    (a frame repeated in a row, recursion, shown once with `xN`)."""
    if not hottest:
        return ""
    width = max(len(f"{count:,}") for _, count in hottest)
    out = ["", f"the {len(hottest)} hottest call paths (instructions in the innermost frame):"]
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
