"""Counting with `sys.settrace` opcode events (CPython 3.10 and 3.11).

Threading: `sys.settrace` is per thread, so only the thread that started the
span is counted.

Another tracer may already be installed: coverage.py's C tracer is the usual
one, a debugger the other. We chain to it: every event it would have seen is
forwarded to it, opcode events aside (which it never asked for). coverage's
tracer re-installs itself as the thread's tracer on each `call` event it is
handed; we re-install ourselves after forwarding, and at `stop()` we put back
exactly the tracer that was there before.

With `stacks` each counted frame also counts for its node of the call tree
(`paths.py`): in the Python core the node is its local trace function's, the
child of the nearest counted caller's, found up `f_back`; in the compiled
core, the current node is entered at each call and left at each return.

Two cores do this: the Python one here (`on_call` and a `FrameCounter` per
counted frame, installed with `sys.settrace`), and the compiled one, a C
trace function (`_ccore.c`, installed with `PyEval_SetTrace`) that the
lifecycle in `_start_compiled` and `stop` drives. They count the same.

On 3.10 a Python trace function's frames keep a rebound local's old value
alive until their next event, so that its death (and any `__del__` it runs)
would go uncounted; the Python core's local trace functions hold on to it
and let it die with tracing on (frame_counters.py says how).
"""

from __future__ import annotations

import sys
import threading
from types import CodeType, FrameType
from typing import TYPE_CHECKING, Any, Final

from .base import (
    CountingFailed,
    CountingUnavailable,
    Engine,
    ModuleFilter,
    root_path,
    running_frames,
)
from .c_calls import CallsIntoC
from .cores import Result, TraceCore
from .frame_counters import STALE_LOCALS, FrameCounter, PathCounter, TraceEvent, rebound_locals
from .hits import Hits
from .paths import CallTree, Node, Path
from .unstable import SpanWatch

#: Bound at import: a test may delete it from `sys` (attrs' suite does).
_getframe: Final = sys._getframe

if TYPE_CHECKING:
    from _typeshed import TraceFunction

ALL_THREADS_UNAVAILABLE = "counting all threads needs Python 3.12+ (sys.monitoring)"


class SettraceEngine(Engine):
    name = "sys.settrace opcode events"

    def __init__(self, compiled: type[TraceCore] | None = None) -> None:
        self._compiled = compiled
        self._core: TraceCore | None = None
        self._hits = Hits()
        self._tracer: TraceFunction | None = None
        self._previous: TraceFunction | None = None
        self._thread = 0
        self._running: list[tuple[FrameType, Any, bool, bool]] = []
        self._live: list[bool] = []
        self._watch: SpanWatch | None = None
        self._tree: CallTree | None = None
        # 3.10: per code object counted by this engine (kept alive: its id
        # stays unique), the locals its instructions rebind, read once.
        self._rebound: dict[int, tuple[CodeType, list[str | None] | None]] = {}
        self._calls: CallsIntoC | None = None  # with calls into C

    def start(
        self,
        modules: ModuleFilter,
        *,
        all_threads: bool = False,
        stacks: bool = False,
        c_calls: bool = False,
    ) -> None:
        if all_threads:
            # settrace is per thread: threads already running cannot be traced.
            raise CountingUnavailable(ALL_THREADS_UNAVAILABLE)
        self._calls = CallsIntoC.profiling(modules, self._compiled) if c_calls else None
        if self._compiled is not None:
            self._start_compiled(modules, stacks)
            return
        self._hits = hits = Hits()
        self._thread = threading.get_ident()
        self._watch = watch = SpanWatch(self._thread, modules)
        self._previous = previous = sys.gettrace()
        gettrace, settrace, get_ident = sys.gettrace, sys.settrace, threading.get_ident

        live = self._live = [True]  # emptied at stop(): the span is over
        tree = self._tree = CallTree() if stacks else None

        rebound = self._rebound

        def counting(
            frame: FrameType, counter: list[int], chained: TraceFunction | None
        ) -> TraceFunction:
            names = None
            if STALE_LOCALS:
                code = frame.f_code
                known = rebound.get(id(code))
                if known is None:
                    known = rebound[id(code)] = (code, rebound_locals(code))
                names = known[1]
            if tree is None:
                return FrameCounter(counter, chained, live, names)
            node = tree.child(caller(frame), frame.f_code)
            return PathCounter(counter, chained, live, names, node)

        def caller(frame: FrameType) -> Node:
            """The node of the nearest counted frame that `frame` returns to:
            its caller's, or a generator's consumer's, at this call."""
            assert tree is not None
            back = frame.f_back
            while back is not None:
                local = back.f_trace
                if type(local) is PathCounter and local.live is live:
                    return local.node
                back = back.f_back
            return tree.root

        # Excluded or counted is decided once per code object, as by the
        # other cores; excluded ones are kept alive so that no other code
        # object takes their id during the span.
        excluded: dict[int, CodeType] = {}
        counters = hits.counters

        thread = self._thread

        def on_call(frame: FrameType, event: TraceEvent, arg: Any) -> TraceFunction | None:
            if not live or get_ident() != thread:
                # Not ours to count: put back by code that saved gettrace()
                # during the span, or handed to another thread
                # (threading.settrace(sys.gettrace())). The thread goes back
                # to the tracer from before the span.
                settrace(previous)
                return previous(frame, event, arg) if previous is not None else None
            chained = previous(frame, event, arg) if previous is not None else None
            if gettrace() is not on_call:
                settrace(on_call)
            code = frame.f_code
            counter = counters.get(id(code))
            if counter is None:
                watch.discovered(code)
                if id(code) in excluded:
                    return chained
                if modules.excludes_frame(frame):
                    excluded[id(code)] = code
                    return chained
                counter = hits.counter_for(code)
            local = counting(frame, counter, chained)
            # f_trace before f_trace_opcodes: on 3.13 the other order loses the
            # first frame's opcode events (harmless here, kept for the habit).
            frame.f_trace = local  # type: ignore[assignment]  # typeshed: f_trace takes str events
            frame.f_trace_opcodes = True
            if chained is None:
                frame.f_trace_lines = False
            return local

        self._tracer = on_call
        # Frames already running (the caller of measure(), and the frames it
        # will return into) are counted from here on, too.
        self._running = []
        # Outermost first: with call paths, each one's node is its caller's child.
        for frame in reversed(list(running_frames(_getframe(1), modules))):
            self._running.append((frame, frame.f_trace, frame.f_trace_opcodes, frame.f_trace_lines))
            frame.f_trace = counting(frame, hits.counter_for(frame.f_code), frame.f_trace)  # type: ignore[assignment]  # typeshed: f_trace takes str events
            frame.f_trace_opcodes = True
        settrace(on_call)

    def _start_compiled(self, modules: ModuleFilter, stacks: bool) -> None:
        """The same with the compiled core: its C trace function chains to
        the previous tracer and counts the opcode events of the frames whose
        code `discover` adds (see `_ccore.c`)."""

        def discover(code: CodeType, module: object) -> None:
            watch.discovered(code)
            if modules.excludes(module if isinstance(module, str) else ""):
                core.ignore(code)
            else:
                core.add(code, None, None)

        assert self._compiled is not None
        self._thread = threading.get_ident()
        self._watch = watch = SpanWatch(self._thread, modules)
        core = self._compiled(self._thread, False, discover, None, stacks)
        running = list(running_frames(_getframe(2), modules))
        for frame in running:
            core.add(frame.f_code, None, None)  # a code object seen twice is kept once
        if stacks:
            core.open_paths(*root_path(_getframe(2), modules))
        core.install()
        self._core = core  # installed: stop() has something to undo
        self._running = [
            (frame, frame.f_trace, frame.f_trace_opcodes, frame.f_trace_lines) for frame in running
        ]
        for frame in running:
            if not core.previous_is_python:  # else f_trace is the Python tracer's
                frame.f_trace = core  # type: ignore[assignment]  # typeshed: f_trace takes str events
            frame.f_trace_opcodes = True

    def snapshot(self) -> Hits:
        hits = _hits(self._core.results()) if self._core is not None else self._hits.copy()
        hits.set_paths(_paths(self._core, self._tree))
        if self._calls is not None:
            self._calls.into(hits)
        hits.unstable = self._watch.reason(hits) if self._watch is not None else None
        return hits

    def stop(self) -> Hits:
        core = self._core
        if self._tracer is None and core is None:
            raise CountingFailed("stop() without start()")
        current = sys.gettrace()
        calls, self._calls = self._calls, None
        if calls is not None:
            calls.stop_profiling()
        not_restored = None
        if core is not None:
            try:
                replaced = not core.uninstall()
            except ValueError as exc:  # an audit hook refused to put it back
                replaced, not_restored = False, str(exc)
        else:
            replaced = current is not self._tracer
            sys.settrace(self._previous)
        self._live.clear()
        _restore(self._running)
        self._running = []
        self._tracer = self._previous = self._core = None
        watch, self._watch = self._watch, None
        if threading.get_ident() != self._thread:
            raise CountingFailed("the span was stopped on another thread than it started on")
        if replaced:
            raise CountingFailed(f"the trace function was replaced during the span by {current!r}")
        if not_restored is not None:
            raise CountingFailed(f"the previous trace function was not restored: {not_restored}")
        if core is not None:
            if core.problem is not None:
                raise CountingFailed(f"counting was interrupted: {core.problem}")
            hits = _hits(core.results())
        else:
            hits, self._hits = self._hits, Hits()
        hits.set_paths(_paths(core, self._tree))
        self._tree = None
        if calls is not None:
            calls.into(hits)
        hits.unstable = watch.reason(hits) if watch is not None else None
        return hits


def _paths(core: TraceCore | None, tree: CallTree | None) -> tuple[list[Path], str | None] | None:
    if core is not None:
        return core.paths()
    return (tree.paths(), None) if tree is not None else None


def _restore(running: list[tuple[FrameType, Any, bool, bool]]) -> None:
    """Put back the trace settings of the frames that were running."""
    for frame, f_trace, opcodes, lines in running:
        frame.f_trace = f_trace
        frame.f_trace_opcodes = opcodes
        frame.f_trace_lines = lines


def _hits(results: dict[int, Result]) -> Hits:
    hits = Hits()
    for key, (code, counter, _, _, _) in results.items():
        hits.codes[key] = code
        hits.counters[key] = counter
    return hits
