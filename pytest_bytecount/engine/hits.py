"""`Hits`: what a span counted, per code object and instruction offset.

The per-event callbacks write here, so its layout serves them: one list per
code object indexed by byte offset, reached by `id(code)`. A code object is
counted in one of two ways during a span:

- by instruction: `counters[key][offset]` is how often the instruction at
  `offset` ran;
- by block (3.12+, `blocks[key]` set): `counters[key][leader]` is how often
  the block led there was entered, and `cuts[key][offset]` how often an
  exception left a block early at `offset`.

`executed()` turns both into executions per instruction, which is all that
measurements see. Code objects are kept alive here so their ids stay unique.

Where call paths were recorded, `paths` is the call tree (`paths.py`), or
None with `paths_lost` saying why when it could not be kept. Where calls into
C were counted, `c_calls` holds them (`c_calls.py`), or None with
`c_calls_lost` saying why they could not be.
"""

from __future__ import annotations

from types import CodeType, FrameType
from typing import final

from .blocks import Blocks
from .paths import Path

#: Calls into C (c_calls.py): per calling code object (by id) and instruction
#: offset, the callable's name, to how often it was called there.
Calls = dict[tuple[int, int, str], int]


@final
class Hits:
    __slots__ = (
        "blocks",
        "c_calls",
        "c_calls_lost",
        "codes",
        "counters",
        "cuts",
        "paths",
        "paths_lost",
        "unstable",
    )

    def __init__(self) -> None:
        self.codes: dict[int, CodeType] = {}
        self.counters: dict[int, list[int]] = {}
        self.blocks: dict[int, Blocks] = {}
        self.cuts: dict[int, list[int]] = {}
        # Why the counts may differ next run (see unstable.py), or None.
        self.unstable: str | None = None
        self.paths: list[Path] | None = None
        self.paths_lost: str | None = None
        self.c_calls: Calls | None = None
        self.c_calls_lost: str | None = None

    def set_paths(self, recorded: tuple[list[Path], str | None] | None) -> None:
        """Take a core's call tree (None: not recorded). Its nodes must add
        up to the counts per code object, or it is dropped, with why."""
        if recorded is None:
            return
        paths, lost = recorded
        if lost is None:
            in_paths = sum(own for _, _, own in paths)
            counted = sum(sum(counter) for counter in self.counters.values())
            if in_paths != counted:
                lost = (
                    f"the call paths hold {in_paths:,} instructions of {counted:,} "
                    f"(with threads='all', other threads' are in no call path)"
                )
        if lost is None:
            self.paths = paths
        else:
            self.paths_lost = lost

    def counter_for(self, code: CodeType) -> list[int]:
        """The counter of `code`, by instruction, created on first use."""
        key = id(code)
        counter = self.counters.get(key)
        if counter is None:
            self.codes[key] = code
            counter = self.counters[key] = [0] * len(code.co_code)
        return counter

    def executed(self, frame: FrameType | None = None) -> Hits:
        """The same counts, every code object by instruction, as of now.

        A frame counted by block that is on the stack (`frame` and its
        callers) has had its whole current block counted, though only the
        instructions up to the one it is executing have run: the rest is
        left out, as if an exception had left the block there.
        """
        if not self.blocks:
            return self.copy()
        cuts = self.cuts
        while frame is not None:
            key = id(frame.f_code)
            if key in self.blocks:
                if cuts is self.cuts:
                    cuts = {key: list(cut) for key, cut in cuts.items()}
                cuts[key][frame.f_lasti] += 1
            frame = frame.f_back
        result = Hits()
        result.codes = dict(self.codes)
        result.unstable = self.unstable
        result.paths, result.paths_lost = self.paths, self.paths_lost
        result.c_calls, result.c_calls_lost = self.c_calls, self.c_calls_lost
        for key, counter in self.counters.items():
            blocks = self.blocks.get(key)
            if blocks is None:
                result.counters[key] = list(counter)
            else:
                result.counters[key] = blocks.executed(counter, cuts[key])
        return result

    def copy(self) -> Hits:
        clone = Hits()
        clone.unstable = self.unstable
        clone.paths = list(self.paths) if self.paths is not None else None
        clone.paths_lost = self.paths_lost
        clone.c_calls = dict(self.c_calls) if self.c_calls is not None else None
        clone.c_calls_lost = self.c_calls_lost
        clone.codes = dict(self.codes)
        clone.counters = {key: list(counter) for key, counter in self.counters.items()}
        clone.blocks = dict(self.blocks)
        clone.cuts = {key: list(cut) for key, cut in self.cuts.items()}
        return clone

    def minus(self, earlier: Hits) -> Hits:
        """What was counted since `earlier`; both by instruction. Unstable if
        the span was unstable by now (it cannot tell since when)."""
        delta = Hits()
        delta.unstable = self.unstable
        delta.paths_lost = self.paths_lost or earlier.paths_lost
        if self.paths is not None and earlier.paths is not None:
            # Nodes only ever grow: the earlier tree is a prefix of this one.
            delta.paths = [
                (code, parent, own - (earlier.paths[k][2] if k < len(earlier.paths) else 0))
                for k, (code, parent, own) in enumerate(self.paths)
            ]
        delta.c_calls_lost = self.c_calls_lost
        if self.c_calls is not None and earlier.c_calls is not None:
            calls_before = earlier.c_calls
            delta.c_calls = {
                key: count - calls_before.get(key, 0)
                for key, count in self.c_calls.items()
                if count != calls_before.get(key, 0)
            }
        for key, counter in self.counters.items():
            before = earlier.counters.get(key)
            if before is None:
                diff = list(counter)
            else:
                diff = [now - then for now, then in zip(counter, before, strict=True)]
            if any(diff):
                delta.codes[key] = self.codes[key]
                delta.counters[key] = diff
        return delta
