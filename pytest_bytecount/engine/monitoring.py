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
from typing import Final

from ._pycore import PythonCore
from .base import (
    CountingFailed,
    CountingUnavailable,
    Engine,
    ModuleFilter,
    root_path,
    running_frames,
)
from .blocks import Blocks, analyze
from .bytecode import next_instruction
from .c_calls import CallsIntoC
from .cores import Core, Result
from .hits import Hits
from .unstable import SpanWatch

#: Bound at import: a test may delete it from `sys` (attrs' suite does).
_getframe: Final = sys._getframe

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
#: With call paths: throws into generators (process-wide only), returns
#: and yields (local). Not PY_UNWIND: on 3.14+, while a tool watches it,
#: gen.close() runs the generator's exception handler instead of skipping
#: it, two instructions more; the cores find the frames an exception left
#: by looking at the stack (see _pycore.py).
PATH_EVENTS: Final = sys.monitoring.events.PY_THROW
LOCAL_PATH_EVENTS: Final = sys.monitoring.events.PY_RETURN | sys.monitoring.events.PY_YIELD
#: With calls into C (c_calls.py): local, and CALL only because C_RETURN and
#: C_RAISE cannot be set without it; it gets no callback.
C_CALL_EVENTS: Final = (
    sys.monitoring.events.CALL | sys.monitoring.events.C_RETURN | sys.monitoring.events.C_RAISE
)
#: A code object that has run this many instructions one by one, over all
#: spans, is analysed and counted by block from the next span on. `dis`
#: costs about as much as a few hundred per-instruction callbacks.
ANALYSE_AFTER = 1000


class MonitoringEngine(Engine):
    name = "sys.monitoring"
    counts_all_threads = True

    def __init__(self, core: type[Core] = PythonCore) -> None:
        self._core_type = core
        self._core: Core | None = None
        self._tool: int | None = None
        self._instrumented: list[CodeType] = []
        self._problem: str | None = None
        # start() and stop() of one engine never overlap, should two threads
        # call them (as coverage.py's sysmon.py guards its own).
        self._lock = threading.Lock()
        # Per code object, kept for the engine's life (with the code object,
        # so its id stays unique): its blocks, or None where they cannot be
        # known, once it has run enough instructions one by one over spans.
        self._analysed: dict[int, tuple[CodeType, Blocks | None]] = {}
        self._one_by_one: dict[int, tuple[CodeType, int]] = {}
        self._watch: SpanWatch | None = None
        self._global_events = GLOBAL_EVENTS
        self._calls: CallsIntoC | None = None

    def unavailable_reason(self) -> str | None:
        if self._tool is not None or any(sys.monitoring.get_tool(t) is None for t in TOOL_IDS):
            return None
        return _no_free_tool_id()

    def start(
        self,
        modules: ModuleFilter,
        *,
        all_threads: bool = False,
        stacks: bool = False,
        c_calls: bool = False,
    ) -> None:
        with self._lock:
            self._start(modules, all_threads, stacks, c_calls)

    def _start(self, modules: ModuleFilter, all_threads: bool, stacks: bool, c_calls: bool) -> None:
        mon = sys.monitoring
        events = mon.events
        tool = _acquire_tool_id()
        self._tool = tool
        # Another tool's LINE callback returning DISABLE (coverage.py's sysmon
        # core does) makes CPython skip our INSTRUCTION event for the first
        # instruction of that line, once. Watching LINE ourselves, with a
        # callback that never disables, keeps every event (docs/internals.rst,
        # "DISABLE and re-arming"). It costs a callback per line, so only
        # when another tool is present.
        others = [t for t in range(6) if t != tool and mon.get_tool(t) is not None]
        events_per_code = (
            events.INSTRUCTION
            | (events.LINE if others else 0)
            | (LOCAL_PATH_EVENTS if stacks else 0)
            | (C_CALL_EVENTS if c_calls else 0)
        )
        self._global_events = GLOBAL_EVENTS | (PATH_EVENTS if stacks else 0)
        instrumented: list[CodeType] = []
        self._instrumented = instrumented
        self._problem = None
        set_local_events = mon.set_local_events
        analysed = self._analysed
        running = True  # while the frames already running are instrumented

        def discover(code: CodeType, module: object) -> None:
            """Count `code` from now on, unless it is excluded."""
            watch.discovered(code)
            if modules.excludes(module if isinstance(module, str) else ""):
                core.ignore(code)
                return
            # Counted by block where its blocks are known, except the code of
            # frames already running (they resume in the middle of a block).
            known = None if running else analysed.get(id(code))
            blocks = known[1] if known is not None else None
            if blocks is None:
                core.add(code, None, None)
            else:
                core.add(code, blocks.lengths, blocks.rest)
            instrumented.append(code)
            set_local_events(tool, code, events_per_code)

        thread = threading.get_ident()
        self._watch = watch = SpanWatch(thread, modules)
        compiled = self._core_type is not PythonCore
        self._calls = calls = (
            CallsIntoC(thread, all_threads, compiled=compiled) if c_calls else None
        )
        self._core = core = self._core_type(
            thread, all_threads, discover, mon.DISABLE, watch.saw, stacks
        )
        try:
            # Frames already running (the caller of measure(), and the frames
            # it will return into) are counted from here on, too; with call
            # paths, they are the root's path, outermost first.
            known: set[int] = set()
            frames = list(running_frames(_getframe(2), modules))
            for frame in frames:
                if id(frame.f_code) not in known:
                    known.add(id(frame.f_code))
                    discover(frame.f_code, frame.f_globals.get("__name__"))
            if stacks:
                core.open_paths(*root_path(_getframe(2), modules))
            running = False
            mon.register_callback(tool, events.PY_START, core.start)
            mon.register_callback(tool, events.PY_RESUME, core.resume)
            mon.register_callback(tool, events.INSTRUCTION, core.instruction)
            mon.register_callback(tool, events.LINE, _keep_line_events)
            mon.register_callback(tool, events.RAISE, core.raise_)
            mon.register_callback(tool, events.RERAISE, core.reraise)
            if calls is not None:
                returned = calls.returned()
                mon.register_callback(tool, events.C_RETURN, returned)
                mon.register_callback(tool, events.C_RAISE, returned)
            if stacks:
                mon.register_callback(tool, events.PY_RETURN, core.leave)
                mon.register_callback(tool, events.PY_YIELD, core.leave)
                mon.register_callback(tool, events.PY_THROW, core.throw)
            mon.set_events(tool, self._global_events)
            core.begin()
        except BaseException:
            self._release()
            self._core = None
            raise

    def snapshot(self) -> Hits:
        if self._core is None:
            raise CountingFailed("snapshot() without start()")
        hits = self._hits(self._core.results()).executed(_getframe(1))
        hits.set_paths(self._core.paths())
        if self._calls is not None:
            self._calls.into(hits)
        hits.unstable = self._watch.reason(hits) if self._watch is not None else None
        return hits

    def stop(self) -> Hits:
        with self._lock:
            return self._stop()

    def _stop(self) -> Hits:
        tool, core = self._tool, self._core
        if tool is None or core is None:
            raise CountingFailed("stop() without start()")
        mon = sys.monitoring
        owner = mon.get_tool(tool)
        events = mon.get_events(tool) if owner == TOOL_NAME else 0
        # Events off before the counts are read: nothing run from here on (a
        # finalizer, another thread) can reach them.
        self._release()
        results = core.results()
        if owner != TOOL_NAME:
            self._fail(f"sys.monitoring tool id {tool} was taken over by {owner!r}")
        elif events != self._global_events:
            self._fail(f"the events of sys.monitoring tool id {tool} were changed")
        else:
            self._check_events_arrived(results)
        self._core = None
        if core.problem is not None:
            self._fail(core.problem)
        if self._problem is not None:
            raise CountingFailed(f"counting was interrupted: {self._problem}")
        hits = self._hits(results)
        _analyse_busy_code(hits, self._analysed, self._one_by_one)
        hits = hits.executed(_getframe(1))
        hits.set_paths(core.paths())
        calls, self._calls = self._calls, None
        if calls is not None:
            calls.into(hits)
        watch, self._watch = self._watch, None
        hits.unstable = watch.reason(hits) if watch is not None else None
        return hits

    def _hits(self, results: dict[int, Result]) -> Hits:
        hits = Hits()
        for key, (code, counter, cut, _, _) in results.items():
            hits.codes[key] = code
            hits.counters[key] = counter
            if cut is not None:
                blocks = self._analysed[key][1]
                assert blocks is not None, "counted by block without blocks"
                hits.blocks[key] = blocks
                hits.cuts[key] = cut
        return hits

    def _check_events_arrived(self, results: dict[int, Result]) -> None:
        """The self-check: every PY_START of a counted code object, reported
        at its RESUME, is followed by the instruction after that RESUME, so
        that instruction's count can never be lower than the number of
        starts. It is when CPython drops our per-instruction events for a
        code object, which it does when another tool (a debugger's
        sys.settrace, say) starts sharing events with us mid-span: we then
        report a failure, never a smaller count."""
        for code, counter, _, started, start_offset in results.values():
            if not started:
                continue
            if counter[next_instruction(code.co_code, start_offset)] < started:
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
        events = mon.events
        registered = [
            events.PY_START,
            events.PY_RESUME,
            events.INSTRUCTION,
            events.LINE,
            events.RAISE,
            events.RERAISE,
        ]
        if self._global_events & PATH_EVENTS:  # call paths were recorded
            registered += [events.PY_RETURN, events.PY_YIELD, events.PY_THROW]
        if self._calls is not None:
            registered += [events.C_RETURN, events.C_RAISE]
        for event in registered:
            mon.register_callback(tool, event, None)
        mon.free_tool_id(tool)

    def _fail(self, problem: str) -> None:
        if self._problem is None:
            self._problem = problem


def _analyse_busy_code(
    hits: Hits,
    analysed: dict[int, tuple[CodeType, Blocks | None]],
    one_by_one: dict[int, tuple[CodeType, int]],
) -> None:
    """Find the blocks of code that has run many instructions one by one,
    in this span and earlier ones, so that later spans count it by block.
    After the span: `dis` is Python code, which a span would count."""
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
