"""Counting with `sys.monitoring` INSTRUCTION events (CPython 3.12+).

Threading: `sys.monitoring` is process-wide, so every callback first checks
that it runs on the thread that started the span; other threads' work is not
counted, unless the span asked for all threads (then counts depend on how
the threads interleave: not deterministic). One engine instance serves one
thread; each instance holds its own tool id while a span is open and frees
it at `stop()`.

Events are on only while a span is open. PY_START and PY_RESUME are global,
so we see every code object entered or resumed (generators created before the
span included); INSTRUCTION events are local, set on the code objects we count
and cleared again at `stop()`, so excluded code (pytest, pluggy, ...) never
pays a per-instruction callback.

Code counted by block returns DISABLE at every location that is not a block
leader. Clearing a code object's local events and setting them again brings
every disabled INSTRUCTION location back (measured on 3.12 to 3.15), and each
span does that, so no later span can miss an instruction. A *global* event's
DISABLE, though, outlives everything but `restart_events()` (which would
re-enable every other tool's too): PY_START, PY_RESUME and RAISE never
return it.
"""

from __future__ import annotations

import sys
import threading
from types import CodeType
from typing import Any, Final

from .base import (
    CountingFailed,
    CountingUnavailable,
    Engine,
    ModuleFilter,
    running_frames,
)
from .blocks import Blocks, analyze
from .bytecode import next_instruction
from .hits import Hits

TOOL_NAME: Final = "pytest-bytecount"
#: Ids 0-2 belong to debuggers, coverage and profilers, 5 to optimizers; 3 and
#: 4 are unassigned. Prefer those, fall back to 5, never take 0-2.
TOOL_IDS: Final = (4, 3, 5)
#: Discovery of the code objects entered or resumed, and exceptions (which
#: leave a block early) are process-wide; INSTRUCTION events are local.
GLOBAL_EVENTS: Final = (
    sys.monitoring.events.PY_START
    | sys.monitoring.events.PY_RESUME
    | sys.monitoring.events.RAISE
    | sys.monitoring.events.RERAISE
)
DISABLE: Final = sys.monitoring.DISABLE
#: A code object that has run this many instructions one by one, over all
#: spans, is analysed and counted by block from the next span on. `dis`
#: costs about as much as a few hundred per-instruction callbacks.
ANALYSE_AFTER = 1000


class MonitoringEngine(Engine):
    name = "sys.monitoring"
    counts_all_threads = True

    def __init__(self) -> None:
        self._tool: int | None = None
        self._hits = Hits()
        self._instrumented: list[CodeType] = []
        self._problem: str | None = None
        self._starts: dict[int, int] = {}
        self._start_offsets: dict[int, int] = {}
        # Per code object, kept for the engine's life (with the code object,
        # so its id stays unique): its blocks, or None where they cannot be
        # known, once it has run enough instructions one by one over spans.
        self._analysed: dict[int, tuple[CodeType, Blocks | None]] = {}
        self._one_by_one: dict[int, tuple[CodeType, int]] = {}

    def unavailable_reason(self) -> str | None:
        if self._tool is not None or any(sys.monitoring.get_tool(t) is None for t in TOOL_IDS):
            return None
        return _no_free_tool_id()

    def start(self, modules: ModuleFilter, *, all_threads: bool = False) -> None:
        mon = sys.monitoring
        events = mon.events
        tool = _acquire_tool_id()
        self._tool = tool
        # Another tool's LINE callback returning DISABLE (coverage.py's sysmon
        # core does) makes CPython skip our INSTRUCTION event for the first
        # instruction of that line, once. Watching LINE ourselves, with a
        # callback that never disables, keeps every event (RESEARCH.md, bug 4).
        # It costs a callback per line, so only when another tool is present.
        others = [t for t in range(6) if t != tool and mon.get_tool(t) is not None]
        events_per_code = events.INSTRUCTION | (events.LINE if others else 0)
        self._hits = hits = Hits()
        self._instrumented = instrumented = []
        self._problem = None
        seen: set[int] = set()
        thread = threading.get_ident()
        get_ident = threading.get_ident
        set_local_events = mon.set_local_events
        getframe = sys._getframe

        # The self-check: every PY_START of a counted code object, reported at
        # its RESUME, is followed by the instruction after that RESUME, so that
        # instruction's count can never be lower than the number of starts.
        # It is when CPython drops our per-instruction events for a code
        # object, which it does when another tool (a debugger's sys.settrace,
        # say) starts sharing events with us mid-span: we then report a
        # failure, never a smaller count.
        starts = self._starts = {}
        start_offsets = self._start_offsets = {}
        counters, lengths, cuts = hits.counters, {}, hits.cuts
        analysed = self._analysed
        running = True  # while the frames already running are instrumented

        def instrument(code: CodeType, module: object) -> bool:
            """Start counting `code`, unless it is excluded; whether it is counted."""
            key = id(code)
            seen.add(key)
            if modules.excludes(module if isinstance(module, str) else ""):
                return False
            # Counted by block where its blocks are known, except the code of
            # frames already running: they resume in the middle of a block.
            known = None if running else analysed.get(key)
            blocks = known[1] if known is not None else None
            hits.counter_for(code, blocks)
            if blocks is not None:
                lengths[key] = blocks.lengths
            starts[key] = 0
            instrumented.append(code)
            set_local_events(tool, code, events_per_code)
            return True

        def on_start(code: CodeType, offset: int) -> Any:
            # Our own errors must not surface in the measured code: they are
            # kept and reported at stop(). Only those: what a signal handler
            # raises while a callback runs (KeyboardInterrupt, a timeout) must
            # reach the test as it would without us.
            try:
                key = id(code)
                started = starts.get(key)
                if started is not None:  # counted code, the common case
                    if all_threads or get_ident() == thread:
                        if not started:
                            start_offsets[key] = offset
                        starts[key] = started + 1
                    return None
                # Never DISABLE here: a disabled PY_START location stays off
                # for good, whatever later spans ask (see the module's doc).
                if (
                    key not in seen
                    and (all_threads or get_ident() == thread)
                    and instrument(code, getframe(1).f_globals.get("__name__"))
                ):
                    starts[key] = 1
                    start_offsets[key] = offset
            except (LookupError, ValueError) as exc:
                self._fail(f"entering {code.co_qualname}: {exc!r}")
            return None

        def on_resume(code: CodeType, offset: int) -> Any:
            try:
                if id(code) not in seen and (all_threads or get_ident() == thread):
                    instrument(code, getframe(1).f_globals.get("__name__"))
            except (LookupError, ValueError) as exc:
                self._fail(f"resuming {code.co_qualname}: {exc!r}")
            return None

        def on_instruction(code: CodeType, offset: int) -> Any:
            try:
                key = id(code)
                block = lengths.get(key)
                if block is not None and not block[offset]:
                    return DISABLE  # inside a block: counted at its leader
                if get_ident() == thread:
                    counters[key][offset] += 1
            except LookupError as exc:  # not ours to raise into user code
                self._fail(f"at {code.co_qualname}+{offset}: {exc!r}")
            return None

        def on_instruction_any_thread(code: CodeType, offset: int) -> Any:
            try:
                key = id(code)
                block = lengths.get(key)
                if block is not None and not block[offset]:
                    return DISABLE
                counters[key][offset] += 1
            except LookupError as exc:  # not ours to raise into user code
                self._fail(f"at {code.co_qualname}+{offset}: {exc!r}")
            return None

        def on_raise(code: CodeType, offset: int, exception: BaseException) -> Any:
            # The exception leaves the block after the raising instruction:
            # what follows it in the block did not run. The reported offset
            # is not always that instruction (RESEARCH.md); the frame's last
            # instruction is.
            try:
                cut = cuts.get(id(code))
                if cut is not None and (all_threads or get_ident() == thread):
                    cut[getframe(1).f_lasti] += 1
            except (LookupError, ValueError) as exc:
                self._fail(f"raising in {code.co_qualname}+{offset}: {exc!r}")
            return None

        def on_reraise(code: CodeType, offset: int, exception: BaseException) -> Any:
            # Here the frame's last instruction is the original raise's; the
            # reported offset is the RERAISE.
            try:
                cut = cuts.get(id(code))
                if cut is not None and (all_threads or get_ident() == thread):
                    cut[offset] += 1
            except LookupError as exc:
                self._fail(f"re-raising in {code.co_qualname}+{offset}: {exc!r}")
            return None

        try:
            # Frames already running (the caller of measure(), and the frames
            # it will return into) are counted from here on, too.
            for frame in running_frames(getframe(1), modules):
                if id(frame.f_code) not in seen:
                    instrument(frame.f_code, frame.f_globals.get("__name__"))
            running = False
            mon.register_callback(tool, events.PY_START, on_start)
            mon.register_callback(tool, events.PY_RESUME, on_resume)
            mon.register_callback(
                tool,
                events.INSTRUCTION,
                on_instruction_any_thread if all_threads else on_instruction,
            )
            mon.register_callback(tool, events.LINE, _keep_line_events)
            mon.register_callback(tool, events.RAISE, on_raise)
            mon.register_callback(tool, events.RERAISE, on_reraise)
            mon.set_events(tool, GLOBAL_EVENTS)
        except BaseException:
            self._release()
            raise

    def snapshot(self) -> Hits:
        return self._hits.executed(sys._getframe(1))

    def stop(self) -> Hits:
        tool = self._tool
        if tool is None:
            raise CountingFailed("stop() without start()")
        mon = sys.monitoring
        owner = mon.get_tool(tool)
        expected = GLOBAL_EVENTS
        if owner != TOOL_NAME:
            self._fail(f"sys.monitoring tool id {tool} was taken over by {owner!r}")
        elif mon.get_events(tool) != expected:
            self._fail(f"the events of sys.monitoring tool id {tool} were changed")
        else:
            self._check_events_arrived()
        self._release()
        if self._problem is not None:
            raise CountingFailed(f"counting was interrupted: {self._problem}")
        hits, self._hits = self._hits, Hits()
        self._analyse_busy_code(hits)
        return hits.executed(sys._getframe(1))

    def _analyse_busy_code(self, hits: Hits) -> None:
        """Find the blocks of code that has run many instructions one by one,
        in this span and earlier ones, so that later spans count it by block.
        After the span: `dis` is Python code, which a span would count."""
        analysed, one_by_one = self._analysed, self._one_by_one
        for key, counter in hits.counters.items():
            if key in hits.blocks or key in analysed:
                continue
            code = hits.codes[key]
            before = one_by_one.get(key)
            total = sum(counter) + (before[1] if before is not None else 0)
            if total < ANALYSE_AFTER:
                one_by_one[key] = (code, total)
                continue
            one_by_one.pop(key, None)
            try:
                analysed[key] = (code, analyze(code))
            except (ValueError, AttributeError):  # dis cannot tell: by instruction
                analysed[key] = (code, None)

    def _check_events_arrived(self) -> None:
        hits = self._hits
        for key, started in self._starts.items():
            if not started:
                continue
            code = hits.codes[key]
            first = next_instruction(code.co_code, self._start_offsets[key])
            if hits.counters[key][first] < started:
                self._fail(
                    f"the interpreter stopped reporting the instructions of "
                    f"{code.co_qualname} during the span (another tool, such as a "
                    f"debugger, started tracing or monitoring while it was open)"
                )
                return

    def _release(self) -> None:
        tool, self._tool = self._tool, None
        if tool is None:
            return
        mon = sys.monitoring
        if mon.get_tool(tool) != TOOL_NAME:
            # Someone freed our id (and may have taken it): leave it to them.
            self._instrumented = []
            return
        mon.set_events(tool, 0)
        for code in self._instrumented:
            mon.set_local_events(tool, code, 0)
        self._instrumented = []
        for event in (
            mon.events.PY_START,
            mon.events.PY_RESUME,
            mon.events.INSTRUCTION,
            mon.events.LINE,
            mon.events.RAISE,
            mon.events.RERAISE,
        ):
            mon.register_callback(tool, event, None)
        mon.free_tool_id(tool)

    def _fail(self, problem: str) -> None:
        if self._problem is None:
            self._problem = problem


def _keep_line_events(code: CodeType, line: int) -> None:
    """LINE callback: does nothing, and never returns DISABLE (see start())."""
    return None


def _acquire_tool_id() -> int:
    mon = sys.monitoring
    for tool in TOOL_IDS:
        if mon.get_tool(tool) is None:
            try:
                mon.use_tool_id(tool, TOOL_NAME)
            except ValueError:  # taken between the check and the claim
                continue
            return tool
    raise CountingUnavailable(_no_free_tool_id())


def _no_free_tool_id() -> str:
    holders = ", ".join(f"{tool} by {sys.monitoring.get_tool(tool)!r}" for tool in TOOL_IDS)
    return f"no free sys.monitoring tool id for pytest-bytecount (held: {holders})"
