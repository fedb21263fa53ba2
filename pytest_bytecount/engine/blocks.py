"""Basic blocks of a code object, for counting a block per event (3.12+).

Within a basic block, every instruction runs once each time its first one
(the leader) does, unless an exception leaves the block early. So an engine
can count a block's length at its leader and ignore every other location
(returning DISABLE there, so the interpreter stops reporting it), then take
back the instructions an exception skipped.

The leaders come from `dis` (why each is one: docs/internals.rst, "Block
leaders"): the instruction after any `RESUME`; every jump target and the
instruction after any jump (`SEND`, `FOR_ITER` and
`JUMP_BACKWARD_NO_INTERRUPT` transfer control with no event of their own);
the instruction after anything that leaves the frame or raises (returns,
yields, `RAISE_VARARGS`, `RERAISE`, `END_ASYNC_FOR`, `CLEANUP_THROW`); every
exception handler; and a `FOR_ITER` target with the two instructions after
it (an exhausted iterator skips `END_FOR`, and on 3.13 its `POP_TOP`).

Analysis runs `dis` over the whole code object, tens of microseconds, so an
engine analyses only code that has run enough instructions to be worth it,
once, and never inside a span (it is Python code a span would count).
"""

from __future__ import annotations

import dis
import itertools
from types import CodeType
from typing import Final, final

JUMPS: Final = frozenset(dis.hasjrel) | frozenset(dis.hasjabs)
#: Instructions after which control does not simply fall through.
ENDS_BLOCK: Final = frozenset(
    name
    for name in (
        "RETURN_VALUE",
        "RETURN_CONST",
        "YIELD_VALUE",
        "RAISE_VARARGS",
        "RERAISE",
        "SEND",
        "END_ASYNC_FOR",
        "CLEANUP_THROW",
    )
    if name in dis.opmap
)
#: Never reported by the interpreter, so never counted.
UNREPORTED: Final = frozenset({"RESUME"})


@final
class Blocks:
    """One code object's blocks.

    `lengths[offset]` is the number of reported instructions in the block
    led by the instruction at `offset`, 0 where no block starts: the one
    table the per-event callbacks read. `members` lists each block's leader
    and its reported instructions in order, and `owner` maps every byte
    offset to the start of the instruction it belongs to (an exception's
    offset may point into an instruction's inline cache entries).
    `rest[offset]` is the number of reported instructions of its block after
    the instruction at (or owning) `offset`: what an exception leaving the
    block there skips, which the cores take back from a call path's node.
    """

    __slots__ = ("lengths", "members", "owner", "rest")

    def __init__(
        self,
        lengths: list[int],
        members: list[tuple[int, tuple[int, ...]]],
        owner: list[int],
        rest: list[int],
    ) -> None:
        self.lengths = lengths
        self.members = members
        self.owner = owner
        self.rest = rest

    def executed(self, entries: list[int], cuts: list[int]) -> list[int]:
        """Per-offset executions, from how often each block was entered
        (`entries`, at leaders) and how often an exception left a block just
        after the instruction at an offset (`cuts`)."""
        executed = [0] * len(entries)
        stops = [0] * len(entries)
        owner = self.owner
        for offset in itertools.compress(range(len(cuts)), cuts):
            stops[owner[offset]] += cuts[offset]
        for leader, reported in self.members:
            running = entries[leader]
            if not running:
                continue
            for offset in reported:
                executed[offset] = running
                running -= stops[offset]
        return executed


def analyze(code: CodeType) -> Blocks:
    """The blocks of `code`; raises `ValueError` (or `AttributeError`) where
    `dis` cannot tell."""
    raw = code.co_code
    instructions = [i for i in dis.get_instructions(code) if i.opname != "CACHE"]
    if not instructions:
        raise ValueError(f"{code.co_name}: no instructions")
    index = {instruction.offset: k for k, instruction in enumerate(instructions)}
    last = len(instructions) - 1
    leaders = {0}
    for k, instruction in enumerate(instructions):
        name = instruction.opname
        if instruction.opcode in JUMPS:
            target = index.get(instruction.argval) if isinstance(instruction.argval, int) else None
            if target is None:
                raise ValueError(f"{code.co_name}+{instruction.offset}: unknown jump target")
            leaders.add(target)
            if name == "FOR_ITER":
                leaders.update((target + 1, target + 2))
            leaders.add(k + 1)
        elif name in ENDS_BLOCK or name in UNREPORTED:
            leaders.add(k + 1)
    # `exception_entries` is not in typeshed (nor in dis's documentation):
    # where it is missing, the AttributeError keeps the code counted by instruction.
    for entry in dis.Bytecode(code).exception_entries:  # type: ignore[attr-defined]
        target = index.get(entry.target)
        if target is None:
            raise ValueError(f"{code.co_name}: unknown exception handler {entry.target}")
        leaders.add(target)
    ordered = sorted(k for k in leaders if k <= last)

    lengths = [0] * len(raw)
    members: list[tuple[int, tuple[int, ...]]] = []
    for j, start in enumerate(ordered):
        end = ordered[j + 1] if j + 1 < len(ordered) else last + 1
        reported = tuple(i.offset for i in instructions[start:end] if i.opname not in UNREPORTED)
        if reported:
            leader = instructions[start].offset
            lengths[leader] = len(reported)
            members.append((leader, reported))
    owner = [0] * len(raw)
    starts = [i.offset for i in instructions] + [len(raw)]
    for start, end in itertools.pairwise(starts):
        owner[start:end] = [start] * (end - start)
    after = [0] * len(raw)
    for _, reported in members:
        for k, offset in enumerate(reported):
            after[offset] = len(reported) - 1 - k
    rest = [after[start] for start in owner]
    return Blocks(lengths, members, owner, rest)
