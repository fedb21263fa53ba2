"""The hot path of the `sys.monitoring` engine, in Python: the callbacks run
per event and the counters they fill. `_ccore.Core` is its compiled twin;
both take the same arguments, offer the same members and count the same.

A core serves one span on one thread. The lifecycle (`monitoring.py`) owns
everything else: the tool id, which events are on, which code is counted and
how, and the self-check. It registers the core's callbacks and hears of each
code object seen for the first time through `discover(code, module)`, which
answers by calling `add()` (count it) or `ignore()`.

With `stacks`, the core also follows the call path (`paths.py`): start,
resume and throw enter a node, return and yield leave it, and each
instruction (or block, at its leader) counts for the current node too. A
frame an exception leaves has no event of ours: after RAISE or RERAISE, the
next event checks the frames entered against the stack.

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
from typing import Any, Final, final

from .cores import Result
from .paths import CHILDREN, CODE, OWN, CallTree, Node, Path, lost_at

#: Bound at import: a test may delete them from `sys` (attrs' suite does).
_getframe: Final = sys._getframe
_current_frames: Final = sys._current_frames


@final
class PythonCore:
    __slots__ = (
        "add",
        "begin",
        "ignore",
        "instruction",
        "leave",
        "open_paths",
        "paths",
        "problem",
        "raise_",
        "reraise",
        "results",
        "resume",
        "start",
        "throw",
    )

    def __init__(
        self,
        thread: int,
        all_threads: bool,
        discover: Callable[[CodeType, object], None],
        disable: object,
        watch: Callable[[CodeType, object], bool],
        stacks: bool = False,
    ) -> None:
        self.problem: str | None = None
        # With stacks: the call tree (paths.py), its current node, and the
        # counted frames on the stack that entered a node, by id, with their
        # nodes (the root's first). After an exception (`suspect`), the next
        # event checks them against the stack: the frames it left are gone.
        tree = CallTree() if stacks else None
        current: Node = tree.root if tree is not None else []
        entries: list[tuple[Node, int]] = [(current, 0)]
        suspect = False
        boundary: FrameType | None = None
        # Per counted code object, what the callbacks need in one lookup:
        # the code, its counter, its block lengths when counted by block, and
        # how often it started (in a list, to be added to in place).
        tables: dict[int, _Table] = {}
        cuts: dict[int, list[int]] = {}
        # With stacks, per code counted by block: `Blocks.rest` (blocks.py).
        rests: dict[int, list[int]] = {}
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
        getframe = _getframe
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
                for ident, top in _current_frames().items()
                if ident != thread
                for frame in _stack(top)
            }
            unchecked = not other_thread_ran and shared.isdisjoint(tables)

        def add(
            code: CodeType, block_lengths: list[int] | None, block_rest: list[int] | None
        ) -> None:
            nonlocal unchecked
            if (block_lengths is None) != (block_rest is None):
                raise ValueError("add(): block lengths and block rests go together")
            key = id(code)
            if key in tables:  # another thread (all_threads) discovered it meanwhile
                return
            if key in shared and not all_threads:
                unchecked = False
            seen[key] = code
            tables[key] = (code, [0] * len(code.co_code), block_lengths, [0])
            if block_lengths is not None:
                cuts[key] = [0] * len(code.co_code)
                if tree is not None and block_rest is not None:
                    rests[key] = block_rest

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
            ours = get_ident() == thread
            if not ours:
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
            if tree is not None and ours:
                enter(code, getframe(1))
            return None  # never DISABLE a global event: it would be off for good

        def resume(code: CodeType, offset: int) -> Any:
            ours = get_ident() == thread
            if not ours:
                other_thread(code)
                if not all_threads:
                    return None
            try:
                if id(code) not in seen:
                    discover(code, getframe(1).f_globals.get("__name__"))
            except (LookupError, ValueError) as exc:
                fail(f"resuming {code.co_qualname}: {exc!r}")
            if tree is not None and ours and id(code) in tables:
                enter(code, getframe(1))
            return None

        def open_paths(frames: list[FrameType], above: FrameType | None) -> None:
            """The frames running when the span opens, outermost first, are
            the root's path; `above` is the frame above them, where walks up
            the stack stop."""
            nonlocal boundary
            boundary = above
            for frame in frames:
                push(frame.f_code, frame)

        def push(code: CodeType, frame: FrameType) -> None:
            nonlocal current
            assert tree is not None, "push() without stacks"
            if tree.lost is not None:
                return
            try:
                node = current[CHILDREN].get(id(code))
                if node is None:
                    node = tree.child(current, code)
                entries.append((node, id(frame)))
            except MemoryError:  # never raised into the measured code
                tree.lose("out of memory while following the call path")
                return
            current = node

        def enter(code: CodeType, frame: FrameType) -> None:
            """A frame of counted `code` starts or resumes under the current
            node (after an exception, under its caller's, found anew)."""
            nonlocal suspect
            if suspect:
                suspect = False
                if not resync(frame.f_back, "the start"):
                    return
            push(code, frame)

        def resync(frame: FrameType | None, event: str) -> bool:
            """After an exception: forget the frames it left without an
            event of ours (PY_UNWIND is not used: on 3.14+ watching it
            changes what gen.close() executes). The current node becomes
            that of the nearest counted frame at or above `frame`."""
            nonlocal current
            while frame is not None and frame is not boundary and id(frame.f_code) not in tables:
                frame = frame.f_back
            key = id(frame) if frame is not None and frame is not boundary else 0
            while entries[-1][1] != key:
                if len(entries) == 1:
                    current = entries[0][0]
                    if tree is not None:
                        tree.lose(f"the call path was lost at {event} after an exception")
                    return False
                entries.pop()
            current = entries[-1][0]
            return True

        def leave(code: CodeType, offset: int, value: object) -> Any:
            """PY_RETURN and PY_YIELD (local: counted code only): back to the
            caller's node."""
            nonlocal current, suspect
            if tree is None or get_ident() != thread:
                return None
            if suspect:
                suspect = False
                if not resync(getframe(1), "an exit"):
                    return None
            if current[CODE] is code and len(entries) > 1:
                entries.pop()
                current = entries[-1][0]
            elif tree.lost is None:
                tree.lose(lost_at("the exit", code))
            return None

        def throw(code: CodeType, offset: int, exception: BaseException) -> Any:
            # gen.throw() and gen.close(): the frame resumes, as at PY_RESUME.
            if tree is not None and id(code) in tables and get_ident() == thread:
                enter(code, getframe(1))
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

        def instruction_on_paths(code: CodeType, offset: int) -> Any:
            # As instruction(), and for the current node too: a block's
            # length at its leader, or one instruction.
            nonlocal last_instruction, suspect
            try:
                table = last_instruction
                if table[0] is not code:
                    table = last_instruction = tables[id(code)]
                block = table[2]
                length = 1
                if block is not None:
                    length = block[offset]
                    if not length:
                        return disable  # inside a block: charged at its leader
                if unchecked or get_ident() == thread:
                    table[1][offset] += 1
                    if all_threads and get_ident() != thread:
                        return None  # in no node: the lifecycle's sums tell
                    if suspect:
                        suspect = False
                        resync(getframe(1), "an instruction")
                    node = current
                    if node[CODE] is code:
                        node[OWN] += length
                    elif tree is not None and tree.lost is None:
                        tree.lose(lost_at("an instruction", code))
            except LookupError as exc:
                fail(f"at {code.co_qualname}+{offset}: {exc!r}")
            return None

        def raise_(code: CodeType, offset: int, exception: BaseException) -> Any:
            # The reported offset is not always the raising instruction; the
            # frame's last one is (docs/internals.rst, "Where an exception
            # leaves a block").
            return cut(code, offset, True, "raising in")

        def reraise(code: CodeType, offset: int, exception: BaseException) -> Any:
            # Here the frame's last instruction is the original raise's; the
            # reported offset is the RERAISE.
            return cut(code, offset, False, "re-raising in")

        def cut(code: CodeType, offset: int, at_last: bool, what: str) -> None:
            """The exception leaves the block after the instruction at
            `offset` (or the frame's last): what follows it there did not
            run. With stacks, the node of the frame it leaves was charged
            the whole block at the leader, and gives back the rest of it."""
            nonlocal suspect
            try:
                cuts_here = cuts.get(id(code))
                ours = cuts_here is not None and get_ident() == thread
                if cuts_here is not None and (all_threads or ours):
                    frame = getframe(2)  # 0 here, 1 the callback
                    if at_last:
                        offset = frame.f_lasti
                    cuts_here[offset] += 1
                    if ours and tree is not None and (rest := rests.get(id(code))) is not None:
                        if suspect:  # the exception may have left callees' frames
                            suspect = False
                            if not resync(frame, "an exception"):
                                return None
                        if current[CODE] is code and current[OWN] >= rest[offset]:
                            current[OWN] -= rest[offset]
                        elif tree.lost is None:
                            tree.lose(lost_at("an exception", code))
            except (LookupError, ValueError) as exc:
                fail(f"{what} {code.co_qualname}+{offset}: {exc!r}")
            finally:
                suspect = tree is not None
            return None

        def paths() -> tuple[list[Path], str | None] | None:
            """The call tree (see paths.py) and why it was lost, if it was;
            None without stacks. With every thread counted, other threads'
            instructions are in no node: the lifecycle's sums tell."""
            return (tree.paths(), tree.lost) if tree is not None else None

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
        self.instruction = instruction_on_paths if tree is not None else instruction
        self.open_paths = open_paths
        self.leave = leave
        self.throw = throw
        self.paths = paths
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
