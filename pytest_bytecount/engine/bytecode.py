"""What the engines need to know about a code object's bytecode, from `dis`.

An instruction is not a fixed number of bytes: each opcode is followed by as
many inline CACHE entries as that opcode has on that CPython version (3.15
gave `RESUME` one, so the instruction after a function's `RESUME` moved from
offset 2 to 4), and what precedes a code object's first reported instruction
changes too (3.15 starts a generator expression with a `RESUME` of its own
before `RETURN_GENERATOR`). Only `dis` knows each version's layout, so every
instruction boundary the engines rely on comes from it, never from
arithmetic on offsets or from assuming which opcode comes where.

`dis` is slow next to a counting callback (tens of microseconds per code
object), so a layout is computed once per code object and kept for the life
of the engine, with the code object itself, so that its id stays unique.
"""

from __future__ import annotations

import dis
from bisect import bisect_right
from types import CodeType
from typing import final


@final
class Layout:
    """Where each instruction of one code object starts, as `dis` reads it."""

    __slots__ = ("starts",)

    def __init__(self, code: CodeType) -> None:
        self.starts = tuple(instruction.offset for instruction in dis.get_instructions(code))

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
