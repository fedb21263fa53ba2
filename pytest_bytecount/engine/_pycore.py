"""The hot path of the `sys.monitoring` engine, in Python: the callbacks run
per event and the counters they fill. `_ccore.Core` is its compiled twin;
both take the same arguments, offer the same members and count the same.

A core serves one span on one thread. The lifecycle (`monitoring.py`) owns
everything else: the tool id, which events are on, which code is counted and
how, and the self-check. It registers the core's callbacks and hears of each
code object seen for the first time through `discover(code, module)`, which
answers by calling `add()` (count it) or `ignore()`.

Callbacks never raise into the measured code what they did wrong: the first
such error is kept in `problem`, for the lifecycle to report. What a signal
handler raises while a callback runs (KeyboardInterrupt, a timeout) reaches
the test as it would without us.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from types import CodeType, FrameType
from typing import Any, final

#: What `results()` gives per code object, keyed by `id(code)`: the code, its
#: counters (per byte offset: executions, or block entries at leaders), its
#: cuts (per byte offset, counted by block only), how often it started, and
#: the offset of its first start (-1 if it did not start).
Result = tuple[CodeType, list[int], "list[int] | None", int, int]


@final
class PythonCore:
    __slots__ = (
        "add",
        "begin",
        "ignore",
        "instruction",
        "problem",
        "raise_",
        "reraise",
        "results",
        "resume",
        "start",
    )

    def __init__(
        self,
        thread: int,
        all_threads: bool,
        discover: Callable[[CodeType, object], None],
        disable: object,
        watch: Callable[[CodeType, object], bool],
    ) -> None:
        self.problem: str | None = None
        # Per counted code object, what the callbacks need in one lookup:
        # the code, its counter, its block lengths when counted by block, and
        # how often it started (in a list, to be added to in place).
        tables: dict[int, _Table] = {}
        cuts: dict[int, list[int]] = {}
        start_offsets: dict[int, int] = {}
        # The table of the code object of the last INSTRUCTION and PY_START
        # events: most events are of the same code as the one before, and
        # `code is table[0]` is cheaper than a lookup by id. Read once per
        # event, so a thread switch in between cannot mix two tables.
        last_instruction = last_start = _NO_TABLE
        # Every code object seen, counted or not, kept alive so that its id
        # cannot be reused by another one during the span.
        seen: dict[int, CodeType] = {}
        get_ident = threading.get_ident
        getframe = sys._getframe
        # Whether INSTRUCTION events can skip the thread check, a third of
        # their cost: when every thread is counted, or when no other thread
        # can run counted code unseen (see begin()). Until then, and for good
        # once another thread starts or resumes a frame, every event is
        # checked.
        unchecked = all_threads
        other_thread_ran = False
        # Whether `watch` (unstable.py) still wants to hear of the code other
        # threads start or resume: until one makes the count unstable.
        watching = True
        # Ids of the code objects on other threads' stacks at begin().
        shared: set[int] = set()

        def fail(problem: str) -> None:
            if self.problem is None:
                self.problem = problem

        def begin() -> None:
            # Called once events are on. Another thread can then run Python
            # code without an event of ours only in the frames on its stack
            # now; any frame it enters or resumes later calls start() or
            # resume() on that thread. So if none of those frames' code is
            # counted (add() keeps watching), the thread check can go.
            nonlocal unchecked, shared
            if all_threads:
                return
            shared = {
                id(frame.f_code)
                for ident, top in sys._current_frames().items()
                if ident != thread
                for frame in _stack(top)
            }
            unchecked = not other_thread_ran and shared.isdisjoint(tables)

        def add(code: CodeType, block_lengths: list[int] | None) -> None:
            nonlocal unchecked
            key = id(code)
            if key in tables:  # another thread (all_threads) discovered it meanwhile
                return
            if key in shared and not all_threads:
                unchecked = False
            seen[key] = code
            tables[key] = (code, [0] * len(code.co_code), block_lengths, [0])
            if block_lengths is not None:
                cuts[key] = [0] * len(code.co_code)

        def ignore(code: CodeType) -> None:
            seen[id(code)] = code

        def other_thread(code: CodeType) -> None:
            nonlocal unchecked, other_thread_ran, watching
            unchecked = all_threads
            other_thread_ran = True
            if watching:
                # Frames: 0 here, 1 the callback, 2 the frame starting.
                watching = watch(code, getframe(2).f_globals.get("__name__"))

        def table_at_start(code: CodeType, offset: int) -> _Table | None:
            key = id(code)
            table = tables.get(key)
            if table is None and key not in seen:
                try:
                    discover(code, getframe(2).f_globals.get("__name__"))
                except (LookupError, ValueError) as exc:
                    fail(f"entering {code.co_qualname}: {exc!r}")
                table = tables.get(key)
            if table is not None and not table[3][0]:
                start_offsets[key] = offset
            return table

        def start(code: CodeType, offset: int) -> Any:
            nonlocal last_start
            if get_ident() != thread:
                other_thread(code)
                if not all_threads:
                    return None
            table = last_start
            if table[0] is not code:
                found = table_at_start(code, offset)
                if found is None:
                    return None  # not counted
                table = last_start = found
            table[3][0] += 1
            return None  # never DISABLE a global event: it would be off for good

        def resume(code: CodeType, offset: int) -> Any:
            if get_ident() != thread:
                other_thread(code)
                if not all_threads:
                    return None
            try:
                if id(code) not in seen:
                    discover(code, getframe(1).f_globals.get("__name__"))
            except (LookupError, ValueError) as exc:
                fail(f"resuming {code.co_qualname}: {exc!r}")
            return None

        def instruction(code: CodeType, offset: int) -> Any:
            nonlocal last_instruction
            try:
                table = last_instruction
                if table[0] is not code:
                    table = last_instruction = tables[id(code)]
                block = table[2]
                if block is not None and not block[offset]:
                    return disable  # inside a block: counted at its leader
                if unchecked or get_ident() == thread:
                    table[1][offset] += 1
            except LookupError as exc:
                fail(f"at {code.co_qualname}+{offset}: {exc!r}")
            return None

        def raise_(code: CodeType, offset: int, exception: BaseException) -> Any:
            # The exception leaves the block after the raising instruction:
            # what follows it there did not run. The reported offset is not
            # always that instruction (RESEARCH.md); the frame's last one is.
            try:
                cut = cuts.get(id(code))
                if cut is not None and (all_threads or get_ident() == thread):
                    cut[getframe(1).f_lasti] += 1
            except (LookupError, ValueError) as exc:
                fail(f"raising in {code.co_qualname}+{offset}: {exc!r}")
            return None

        def reraise(code: CodeType, offset: int, exception: BaseException) -> Any:
            # Here the frame's last instruction is the original raise's; the
            # reported offset is the RERAISE.
            try:
                cut = cuts.get(id(code))
                if cut is not None and (all_threads or get_ident() == thread):
                    cut[offset] += 1
            except LookupError as exc:
                fail(f"re-raising in {code.co_qualname}+{offset}: {exc!r}")
            return None

        def results() -> dict[int, Result]:
            return {
                key: (seen[key], counter, cuts.get(key), started[0], start_offsets.get(key, -1))
                for key, (_, counter, _, started) in tables.items()
            }

        self.begin = begin
        self.add = add
        self.ignore = ignore
        self.start = start
        self.resume = resume
        self.instruction = instruction
        self.raise_ = raise_
        self.reraise = reraise
        self.results = results


#: One counted code object's: (code, counter, block lengths or None, [starts]).
_Table = tuple[CodeType | None, list[int], "list[int] | None", list[int]]
_NO_TABLE: _Table = (None, [], None, [0])


def _stack(frame: FrameType | None) -> Iterator[FrameType]:
    while frame is not None:
        yield frame
        frame = frame.f_back
