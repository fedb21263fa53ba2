"""`Measurement`: what one measured span executed, as plain data."""

from __future__ import annotations

import dis
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import compress
from types import CodeType
from typing import final

from . import attribution, generated_code
from .engine import Hits
from .engine.bytecode import EXTENDED_ARG, PREFIX_REPORTED_WITH_INSTRUCTION, reported_opname
from .engine.paths import Path

C_CALLS_NOT_ASKED = (
    "calls into C were not counted: measure with c_calls=True, or run pytest "
    "with --bytecount-profile, --bytecount-html or --bytecount-explain"
)


@final
@dataclass(frozen=True)
class FunctionCount:
    """Instructions executed in one function's own frames (callees excluded),
    and with its callees (`total`) where call paths were recorded."""

    function: str
    file: str
    line: int
    instructions: int
    total: int | None = None


@final
@dataclass(frozen=True)
class LineCount:
    """Instructions executed on one source line."""

    file: str
    line: int
    instructions: int


@final
class Measurement:
    """The instructions executed in one span.

    Yielded by `measure()` when the span opens and filled in when it closes;
    reading a count before that is an error, never a silent 0.
    """

    __slots__ = (
        "_by_line",
        "_by_opcode",
        "_c_calls",
        "_c_calls_lost",
        "_closed",
        "_disabled",
        "_functions",
        "_instructions",
        "_paths",
        "_paths_lost",
        "_ran",
        "_unstable",
        "root",
    )

    def __init__(self) -> None:
        self._instructions = 0
        # Each counted code object with its per-offset counts: by_opcode is
        # worked out from them when first read.
        self._ran: list[tuple[CodeType, list[int]]] = []
        self._by_opcode: dict[str, int] | None = None
        self._by_line: dict[tuple[str, int], int] | None = None
        self._functions: tuple[FunctionCount, ...] = ()
        self._closed = False
        self._disabled = False
        self._unstable: str | None = None
        # The call tree (engine/paths.py) where call paths were recorded and
        # kept; else None, and why not where they were lost.
        self._paths: list[Path] | None = None
        self._paths_lost: str | None = None
        # Calls into C as counted, (code, offset, name, calls), where they
        # were; else None, and why not where they could not be.
        self._c_calls: list[tuple[CodeType, int, str, int]] | None = None
        self._c_calls_lost: str | None = None
        #: Files in `folded()` are shown relative to this directory when
        #: under it (pytest sets its rootdir); None: the current directory.
        self.root: str | None = None

    @classmethod
    def of(cls, hits: Hits) -> Measurement:
        measurement = cls()
        measurement._fill(hits)
        return measurement

    @classmethod
    def disabled(cls) -> Measurement:
        """The empty result returned while pytest-bytecount is switched off."""
        measurement = cls()
        measurement._closed = measurement._disabled = True
        return measurement

    @classmethod
    def total_of(cls, measurements: Sequence[Measurement]) -> Measurement:
        """One measurement adding up several closed ones."""
        return _total_of(cls(), measurements)

    def _fill(self, hits: Hits) -> None:
        # This may run inside an outer span (nested measurements): it must call
        # no Python code outside this package, or the outer span would count
        # it. The opcode names are worked out only when asked for: most
        # measurements (one per test) are read for their total and functions.
        ran: list[tuple[CodeType, list[int]]] = []
        owns: list[int] = []
        for key, counter in hits.counters.items():
            own = sum(counter)
            if not own:  # a frame that was running but did nothing more
                continue
            ran.append((hits.codes[key], counter))
            owns.append(own)
        names = generated_code.function_names([code for code, _ in ran])
        functions = [
            FunctionCount(name, code.co_filename, code.co_firstlineno, own)
            for (code, _), name, own in zip(ran, names, owns, strict=True)
        ]
        self._ran = ran
        self._unstable = hits.unstable
        self._paths, self._paths_lost = hits.paths, hits.paths_lost
        if hits.c_calls is not None:
            codes = hits.codes
            self._c_calls = [  # made by counted code, which ran their CALL
                (codes[key], offset, name, calls)
                for (key, offset, name), calls in hits.c_calls.items()
                if key in codes
            ]
        self._c_calls_lost = hits.c_calls_lost
        self._set(sum(owns), functions)

    def _set(self, instructions: int, functions: list[FunctionCount]) -> None:
        if self._paths is not None:
            totals = attribution.totals(self._paths)
            functions = [
                FunctionCount(
                    f.function,
                    f.file,
                    f.line,
                    f.instructions,
                    totals.get((f.function, f.file, f.line), f.instructions),
                )
                for f in functions
            ]
        functions.sort(key=_hottest_first)
        self._functions = tuple(functions)
        self._instructions = instructions
        self._closed = True

    def _opcodes(self) -> dict[str, int]:
        if self._by_opcode is None:
            by_opcode: dict[str, int] = {}
            opnames = dis.opname
            for code, counter in self._ran:
                raw = code.co_code  # unspecialised: the opcodes that ran
                # Only the offsets that ran (in C, with no Python frame to count).
                for offset in compress(range(len(counter)), counter):
                    opcode = raw[offset]
                    if opcode == EXTENDED_ARG and PREFIX_REPORTED_WITH_INSTRUCTION:
                        name = reported_opname(raw, offset)
                    else:
                        name = opnames[opcode]
                    by_opcode[name] = by_opcode.get(name, 0) + counter[offset]
            self._by_opcode = dict(sorted(by_opcode.items(), key=lambda item: (-item[1], item[0])))
        return self._by_opcode

    def _check_closed(self) -> None:
        if not self._closed:
            raise RuntimeError("this measurement is still open: read it after the with block")

    @property
    def instructions(self) -> int:
        """Bytecode instructions executed in the span."""
        self._check_closed()
        return self._instructions

    @property
    def by_opcode(self) -> dict[str, int]:
        """Opcode name to instructions executed, most frequent first."""
        self._check_closed()
        return dict(self._opcodes())

    @property
    def by_function(self) -> tuple[FunctionCount, ...]:
        """Per-function instruction counts, highest own count first: own
        (callees excluded) and, where call paths were recorded, `total`
        (callees included, each instruction once under recursion)."""
        self._check_closed()
        return self._functions

    #: The name `by_function` had first.
    functions = by_function

    @property
    def by_line(self) -> dict[tuple[str, int], int]:
        """`(filename, line)` to instructions executed on that line, highest
        first, summing to `instructions`. An instruction with no line number
        counts under the nearest instruction before it in its code that has
        one, or under the function's first line."""
        self._check_closed()
        if self._by_line is None:
            by_line: dict[tuple[str, int], int] = {}
            for code, counter in self._ran:
                # Summed range by range of the line table (in C), half the
                # cost of looking up the line of each offset that ran.
                file, line = code.co_filename, code.co_firstlineno
                for start, end, at in code.co_lines():
                    if at is not None:
                        line = at  # else: the line before, as line_of_each_offset
                    count = sum(counter[start:end])
                    if count:
                        by_line[(file, line)] = by_line.get((file, line), 0) + count
            self._by_line = dict(sorted(by_line.items(), key=lambda item: (-item[1], item[0])))
        return dict(self._by_line)

    @property
    def c_calls(self) -> dict[tuple[str, str, int], int]:
        """`(name, filename, line)` to how often code on that line called
        that function not written in Python (`sorted`, `str.strip`), most
        first: one CALL instruction each, whatever work it does. Needs
        `measure(c_calls=True)`; CPython 3.10 reports none (see the docs)."""
        self._check_closed()
        if self._c_calls is None:
            raise ValueError(self._c_calls_lost or C_CALLS_NOT_ASKED)
        return attribution.c_calls_by_line(self._c_calls)

    @property
    def has_call_paths(self) -> bool:
        """Whether call paths were recorded (and kept): `folded()` works."""
        self._check_closed()
        return self._paths is not None

    def folded(self) -> str:
        """Folded stacks: one `frame;frame;frame count` line per call path,
        outermost frame first, each frame `qualname (file:line)`, or
        `Point.__init__ (generated code)` for code made from a string; the counts
        are the instructions run in the innermost frame and sum to
        `instructions`. What flamegraph.pl, inferno and speedscope read.
        Needs call paths: `measure(stacks=True)`."""
        return attribution.folded_text(self._call_paths(), self.root)

    def _call_paths(self) -> list[Path]:
        self._check_closed()
        if self._paths is not None:
            return self._paths
        if self._paths_lost is not None:
            raise ValueError(
                f"the call paths of this measurement were not kept: {self._paths_lost}"
            )
        raise ValueError(
            "call paths were not recorded: measure with stacks=True "
            "(measure(stacks=True), bytecount.measure(stacks=True)), or run pytest "
            "with --bytecount-profile, --bytecount-html or --bytecount-explain"
        )

    def explain(self, lines: int = 10) -> str:
        """The `lines` hottest lines, each with its count, `file:line` and
        source, and under it every instruction of that line that ran: its
        execution count, opcode name and argument, like `dis` with counts.
        Where calls into C were counted, a line names those called most;
        where call paths were recorded, the hottest call paths follow."""
        self._check_closed()
        from . import explain  # here: only explain() needs it

        c_calls = self.c_calls if self._c_calls is not None else None
        paths = self._paths
        hottest = attribution.hottest_stacks(paths, lines, self.root) if paths is not None else None
        return explain.render(self._instructions, self.by_line, self._ran, lines, c_calls, hottest)

    @property
    def unstable(self) -> str | None:
        """Why this count may differ next run, or None: another thread ran
        Python code during the span, or a module was compiled in it (see the
        Determinism docs)."""
        self._check_closed()
        return self._unstable

    def note_unstable(self, reason: str) -> None:
        """For the plugin: a cause the engine cannot see (a Hypothesis test's
        examples, a count that changed between two calls). The engine's own
        reason, found first, is kept."""
        if self._unstable is None:
            self._unstable = reason

    @property
    def is_disabled(self) -> bool:
        """True when measured under `--bytecount-disable`: nothing was counted."""
        return self._disabled

    def __repr__(self) -> str:
        if not self._closed:
            return "<Measurement (open)>"
        if self._disabled:
            return "<Measurement instructions=0 (pytest-bytecount disabled)>"
        return f"<Measurement instructions={self._instructions:,}>"


def _total_of(total: Measurement, measurements: Sequence[Measurement]) -> Measurement:
    """`total`, empty, filled with what `measurements` add up to."""
    ran: list[tuple[CodeType, list[int]]] = []
    functions: dict[tuple[str, str, int], int] = {}
    for measurement in measurements:
        measurement._check_closed()
        ran += measurement._ran
        for f in measurement._functions:
            key = (f.function, f.file, f.line)
            functions[key] = functions.get(key, 0) + f.instructions
    total._ran = ran
    total._unstable = next((m._unstable for m in measurements if m._unstable), None)
    trees = [m._paths for m in measurements]
    if measurements and all(tree is not None for tree in trees):
        total._paths = attribution.merged([tree for tree in trees if tree is not None])
    else:
        total._paths_lost = next((m._paths_lost for m in measurements if m._paths_lost), None)
    if measurements and all(m._c_calls is not None for m in measurements):
        total._c_calls = [call for m in measurements for call in m._c_calls or ()]
    else:
        total._c_calls_lost = next((m._c_calls_lost for m in measurements if m._c_calls_lost), None)
    total.root = next((m.root for m in measurements if m.root is not None), None)
    total._set(
        sum(functions.values()),
        [FunctionCount(*key, count) for key, count in functions.items()],
    )
    return total


def _hottest_first(function: FunctionCount) -> tuple[int, str, int, str]:
    return (-function.instructions, function.file, function.line, function.function)


def code_that_ran(measurement: Measurement) -> list[tuple[CodeType, list[int]]]:
    """For attribution beyond the API (the page's annotated source): each
    code object the span counted, with its instructions' counts by offset."""
    measurement._check_closed()
    return measurement._ran
