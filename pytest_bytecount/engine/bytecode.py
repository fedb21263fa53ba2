"""What the engines and measurements need to know about a code object's
bytecode, read with `dis`.

An instruction is not a fixed number of bytes: each opcode is followed by as
many inline CACHE entries as that opcode has on that CPython version (3.15
gave `RESUME` one, so the instruction after a function's `RESUME` moved from
offset 2 to 4), and what precedes a code object's first reported instruction
changes too (3.15 starts a generator expression with a `RESUME` of its own
before `RETURN_GENERATOR`). Only `dis` knows each version's layout, so every
instruction boundary and name used here comes from it, never from arithmetic
on offsets or from assuming which opcode comes where.

`dis` is slow next to a counting callback (tens of microseconds per code
object) and is Python code that a span open on the thread would count, so a
layout is computed once per code object, where no span can see it: inside a
tracing or monitoring callback, or before events are switched on. It is kept
for the life of the engine, with the code object itself, so that its id
stays unique.
"""

from __future__ import annotations

import dis
import sys
from bisect import bisect_right
from types import CodeType
from typing import Final, final

#: Up to 3.11 the interpreter reports an `EXTENDED_ARG` prefix and the
#: instruction it extends as one event, at the prefix's offset; from 3.12 on,
#: as two events, each at its own offset.
PREFIX_REPORTED_WITH_INSTRUCTION: Final = sys.version_info < (3, 12)


@final
class Layout:
    """Where each instruction of one code object starts, and its name."""

    __slots__ = ("opnames", "starts")

    def __init__(self, code: CodeType) -> None:
        instructions = list(dis.get_instructions(code))
        self.starts = tuple(instruction.offset for instruction in instructions)
        #: The opcode name an event reported at each offset stands for.
        self.opnames = {instruction.offset: instruction.opname for instruction in instructions}
        if PREFIX_REPORTED_WITH_INSTRUCTION:
            extended = ""
            for instruction in reversed(instructions):
                if instruction.opname == "EXTENDED_ARG":
                    self.opnames[instruction.offset] = extended
                else:
                    extended = instruction.opname

    def next_after(self, offset: int) -> int:
        """The start of the instruction that follows the one at `offset`."""
        index = bisect_right(self.starts, offset)
        if index == len(self.starts):
            raise ValueError(f"no instruction follows offset {offset}")
        return self.starts[index]


@final
class Layouts:
    """A `Layout` per code object, computed once."""

    __slots__ = ("_known",)

    def __init__(self) -> None:
        self._known: dict[int, tuple[CodeType, Layout]] = {}

    def __getitem__(self, code: CodeType) -> Layout:
        known = self._known.get(id(code))
        if known is None:
            known = self._known[id(code)] = (code, Layout(code))
        return known[1]
