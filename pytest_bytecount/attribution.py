"""Where a measurement's instructions went (pure, no pytest): per line, the
instructions of each line that ran and the source they came from; per call
path, folded stacks, the hottest paths and each function's total with its
callees. Also the place of a function as every renderer shows it (`where`,
`frame_label`); its name comes from generated_code.py.

Worked out after the span, never while counting: from the per-offset counts
the engine kept, the code's line table and `dis`, and the call tree it
recorded (`engine/paths.py`: nodes in order of creation, each with its code,
its parent's index and the instructions run in its own frames).
"""

from __future__ import annotations

import dis
import io
import os
import tokenize
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import compress, pairwise
from types import CodeType
from typing import Final, final

from .engine.bytecode import EXTENDED_ARG, PREFIX_REPORTED_WITH_INSTRUCTION, reported_opname
from .engine.paths import Path
from .generated_code import GENERATED, function_name, is_generated, name_generated


@final
@dataclass(frozen=True)
class Ran:
    """One instruction that ran: where, how often, and what it is."""

    function: str
    count: int
    opname: str
    argrepr: str


#: The source files read, by path: the (modification time, size) they were
#: read at, and their lines. Every measured test's explanation reads the
#: files of its hottest lines, mostly the same few; the oldest goes first.
_READ: dict[str, tuple[tuple[int, int], list[str]]] = {}
_MOST_FILES: Final = 256


def source_lines(file: str) -> list[str]:
    """The lines of a source file, or none where it cannot be read; read
    again when its size or modification time changed.

    Read directly, not through `linecache`: its cache is state the measured
    code can see (doctest's runner, a traceback), so filling it after one
    test could change the count of the next. No import either, for the same
    reason (first-use costs)."""
    try:
        status = os.stat(file)
    except (OSError, ValueError):
        return []
    version = (status.st_mtime_ns, status.st_size)
    kept = _READ.get(file)
    if kept is not None and kept[0] == version:
        return kept[1]
    lines = _read_lines(file)
    if len(_READ) >= _MOST_FILES:
        del _READ[next(iter(_READ))]
    _READ[file] = (version, lines)
    return lines


def _read_lines(file: str) -> list[str]:
    try:
        with open(file, "rb") as source:
            raw = source.read()
    except OSError:
        return []
    # As the tokenizer reads it: the encoding its cookie names, and lines
    # ended by \n, \r\n or \r only (str.splitlines() also ends them at form
    # feeds and U+2028, which would shift every line after one).
    try:
        encoding = tokenize.detect_encoding(io.BytesIO(raw).readline)[0]
        text = raw.decode(encoding, errors="replace")
    except (SyntaxError, LookupError):
        text = raw.decode("utf-8", errors="replace")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines and not lines[-1]:
        lines.pop()
    return lines


def source_of(file: str, line: int) -> str:
    """Line `line` of `file` as written, stripped; "generated code" for code
    made from a string, which has no file; "" where unknown."""
    if is_generated(file):
        return GENERATED
    lines = source_lines(file)
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


def c_calls_by_line(
    calls: Iterable[tuple[CodeType, int, str, int]],
) -> dict[tuple[str, str, int], int]:
    """Calls into C as counted, (calling code, offset, name, calls), per
    `(name, filename, line)`, most first."""
    lines: dict[int, list[int]] = {}
    by_line: dict[tuple[str, str, int], int] = {}
    for code, offset, name, count in calls:
        of_code = lines.get(id(code))
        if of_code is None:
            of_code = lines[id(code)] = line_of_each_offset(code)
        key = (name, code.co_filename, of_code[offset])
        by_line[key] = by_line.get(key, 0) + count
    return dict(sorted(by_line.items(), key=lambda item: (-item[1], item[0])))


def c_calls_by_name(by_line: dict[tuple[str, str, int], int]) -> dict[str, int]:
    """The same per name alone, most first."""
    by_name: dict[str, int] = {}
    for (name, _, _), count in by_line.items():
        by_name[name] = by_name.get(name, 0) + count
    return dict(sorted(by_name.items(), key=lambda item: (-item[1], item[0])))


def instructions_by_line(
    ran: Iterable[tuple[CodeType, list[int]]],
) -> dict[tuple[str, int], list[Ran]]:
    """Per `(filename, line)`, the instructions of that line that ran, in
    code order (several code objects may share a line: a comprehension)."""
    ran = list(ran)
    name_generated(code for code, _ in ran)
    by_line: dict[tuple[str, int], list[Ran]] = {}
    for code, counter in ran:
        lines = line_of_each_offset(code)
        described = describe(code)
        function = function_name(code)
        for offset in compress(range(len(counter)), counter):
            opname, argrepr = described.get(offset, ("?", ""))
            key = (code.co_filename, lines[offset])
            ran_here = Ran(function, counter[offset], opname, argrepr)
            by_line.setdefault(key, []).append(ran_here)
    return by_line


#: `describe`'s results, by code object (equal code, equal description):
#: each test's explanation and annotated source describe mostly the same
#: functions, and `dis` is most of what they cost.
_DESCRIBED: dict[CodeType, dict[int, tuple[str, str]]] = {}
_MOST_DESCRIBED: Final = 512


def describe(code: CodeType) -> dict[int, tuple[str, str]]:
    """Offset to (opname, argument) as `dis` shows them; an EXTENDED_ARG
    prefix the interpreter reports with its instruction (3.10/3.11) is named
    after that instruction."""
    described = _DESCRIBED.get(code)
    if described is None:
        if len(_DESCRIBED) >= _MOST_DESCRIBED:
            del _DESCRIBED[next(iter(_DESCRIBED))]
        described = _DESCRIBED[code] = _describe(code)
    return described


def _describe(code: CodeType) -> dict[int, tuple[str, str]]:
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


#: A function as `FunctionCount` names it: qualified name, file, first line.
FunctionKey = tuple[str, str, int]


def function_key(code: CodeType) -> FunctionKey:
    return (function_name(code), code.co_filename, code.co_firstlineno)


#: `relative_file`'s answers for absolute files and roots, which depend on
#: nothing else: every test's call paths name mostly the same files, and
#: `os.path.relpath` is most of what labelling a frame costs.
_RELATIVE: dict[tuple[str, str], str] = {}
_MOST_RELATIVE: Final = 4096


def relative_file(file: str, root: str | None = None) -> str:
    """`file` relative to `root` (else the current directory) when under it;
    a name in angle brackets (`<frozen os>`, `<doctest ...>`) is no path."""
    if file.startswith("<") and file.endswith(">"):
        return file
    if root is None or not (os.path.isabs(file) and os.path.isabs(root)):
        return _relative(file, root)
    found = _RELATIVE.get((file, root))
    if found is None:
        if len(_RELATIVE) >= _MOST_RELATIVE:
            _RELATIVE.clear()
        found = _RELATIVE[file, root] = _relative(file, root)
    return found


def _relative(file: str, root: str | None) -> str:
    try:
        relative = os.path.relpath(file, root)
    except ValueError:  # another drive on Windows
        return file
    return file if relative.startswith(os.pardir) else relative


#: A folded stack is one line, its frames split at `;`: in a frame's label,
#: `;` becomes `:` and every character that ends a line (for
#: `str.splitlines()`, which readers use) its escape, `\u2028`.
LABEL_ESCAPES: Final = {
    ord(";"): ":",
    **{ord(c): ascii(c)[1:-1] for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"},
}


def where(file: str, line: int) -> str:
    """Where a function is, as shown: `file:line`, or "generated code" for
    code made from a string, whose file and line point nowhere."""
    return GENERATED if is_generated(file) else f"{file}:{line}"


def frame_label(code: CodeType, root: str | None = None) -> str:
    """`qualname (file:line)`, a frame of a folded stack, the file relative
    to `root` (else the current directory) when under it; `Point.__init__
    (generated code)` for a method a dataclass wrote."""
    name, file, line = function_key(code)
    return f"{name} ({where(relative_file(file, root), line)})"


def stacks(paths: Sequence[Path], root: str | None = None) -> dict[str, int]:
    """Folded stack (`frame;frame;frame`, outermost first) to the
    instructions run with it innermost, sorted by stack; nodes that ran
    nothing of their own are left out, and equal stacks are added up."""
    name_generated(code for code, _, _ in paths if code is not None)
    labels: list[str] = [""] * len(paths)
    by_code: dict[int, str] = {}
    folded: dict[str, int] = {}
    for index, (code, parent, own) in enumerate(paths):
        if code is None:  # the root: no frame
            continue
        label = by_code.get(id(code))
        if label is None:
            label = by_code[id(code)] = frame_label(code, root).translate(LABEL_ESCAPES)
        labels[index] = f"{labels[parent]};{label}" if labels[parent] else label
        if own:
            folded[labels[index]] = folded.get(labels[index], 0) + own
    return dict(sorted(folded.items()))


def folded_text(paths: Sequence[Path], root: str | None = None) -> str:
    """The folded-stacks file format: one `stack count` line per stack."""
    return "".join(f"{stack} {count}\n" for stack, count in stacks(paths, root).items())


def hottest_stacks(
    paths: Sequence[Path], count: int, root: str | None = None
) -> list[tuple[str, int]]:
    """The `count` stacks that ran the most instructions of their own."""
    ranked = sorted(stacks(paths, root).items(), key=lambda item: (-item[1], item[0]))
    return ranked[:count]


def totals(paths: Sequence[Path]) -> dict[FunctionKey, int]:
    """Each function's instructions with its callees: every instruction run
    under at least one of its frames, counted once even under recursion."""
    name_generated(code for code, _, _ in paths if code is not None)
    keys: list[FunctionKey | None] = [None] * len(paths)
    by_code: dict[int, FunctionKey] = {}
    totals: dict[FunctionKey, int] = {}
    for index, (code, _, own) in enumerate(paths):
        if code is None:
            continue
        key = by_code.get(id(code))
        if key is None:
            key = by_code[id(code)] = function_key(code)
        keys[index] = key
        if not own:
            continue
        on_path: set[FunctionKey] = set()
        node = index
        while node > 0:
            key = keys[node]
            assert key is not None, "a node's parent comes before it"
            on_path.add(key)
            node = paths[node][1]
        for key in on_path:
            totals[key] = totals.get(key, 0) + own
    return totals


def merged(trees: Sequence[Sequence[Path]]) -> list[Path]:
    """Several measurements' call trees as one (their roots joined)."""
    result: list[Path] = [(None, -1, 0)]
    for paths in trees:
        offset = len(result) - 1  # node k of this tree becomes node k + offset
        for code, parent, own in paths[1:]:
            result.append((code, parent + offset if parent > 0 else 0, own))
    return result
