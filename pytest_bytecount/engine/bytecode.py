"""Reading instruction boundaries and names in a code object's bytecode.

An instruction is not a fixed number of bytes: its code unit (opcode and
argument) is followed by as many inline CACHE entries as that opcode has on
that CPython version (3.15 gave `RESUME` one, so the instruction after a
function's `RESUME` moved from offset 2 to 4), and it may be preceded by
`EXTENDED_ARG` prefixes. Nothing here assumes an instruction's size or which
opcode follows which: a code unit is an instruction's start unless it is a
CACHE entry, exactly as `dis` shows it (`co_code` holds the unspecialised
bytecode, caches zeroed to `CACHE`). The suite checks these functions against
`dis.get_instructions()` on every code object of the standard library.

Why not `dis` itself: it costs tens of microseconds per code object, every
test brings new code objects, and it is Python code that a span open on the
thread would count. These functions read `co_code` directly instead.
"""

from __future__ import annotations

import dis
import sys
from typing import Final

#: Bytes per code unit (an opcode and its argument byte), since Python 3.6.
CODE_UNIT: Final = 2
#: The pseudo-opcode `dis` shows for an inline cache entry (none before 3.11).
CACHE: Final = dis.opmap.get("CACHE", -1)
EXTENDED_ARG: Final = dis.opmap["EXTENDED_ARG"]
#: Up to 3.11 the interpreter reports an `EXTENDED_ARG` prefix and the
#: instruction it extends as one event, at the prefix's offset; from 3.12 on,
#: as two events, each at its own offset.
PREFIX_REPORTED_WITH_INSTRUCTION: Final = sys.version_info < (3, 12)


def next_instruction(raw: bytes, offset: int) -> int:
    """The offset of the instruction after the one starting at `offset` in
    the bytecode `raw` (`co_code`): past its inline cache entries."""
    following = offset + CODE_UNIT
    end = len(raw)
    while following < end and raw[following] == CACHE:
        following += CODE_UNIT
    if following >= end:
        raise ValueError(f"no instruction follows offset {offset}")
    return following


def reported_opname(raw: bytes, offset: int) -> str:
    """The name of the instruction an event reported at `offset` stands for:
    on 3.10/3.11, an `EXTENDED_ARG` prefix stands for the instruction it
    extends."""
    opcode = raw[offset]
    if PREFIX_REPORTED_WITH_INSTRUCTION:
        while opcode == EXTENDED_ARG:
            offset = next_instruction(raw, offset)
            opcode = raw[offset]
    return dis.opname[opcode]
