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

Two cores do this: the Python one here (`on_call` and a `_FrameCounter` per
counted frame, installed with `sys.settrace`), and the compiled one, a C
trace function (`_ccore.c`, installed with `PyEval_SetTrace`) that the
lifecycle in `_start_compiled` and `stop` drives. They count the same.

Stale locals on 3.10. Before calling a Python trace function, CPython 3.10's
trampoline copies the frame's locals into its `f_locals` dictionary, which
so holds on to a local's old value after an instruction rebinds it (`x =
None`, `del x`), until the frame's next event copies again. If that was the
last reference, the object dies inside the trampoline, where nothing is
traced: a `__del__` or weakref callback it runs (asyncio's `WeakSet` of
tasks) is not counted, though the interpreter runs it (3.11 copies only
where `f_locals` was read, and the compiled core is handed no locals). So
the Python core keeps the old value itself at the event of the instruction
that rebinds a local, and at the frame's next event lets it go under
`sys.call_tracing`, with tracing on: what its death runs is counted, as
the interpreter's own events count it (`_FrameCounter.release`).
"""

from __future__ import annotations

import dis
import inspect
import sys
import threading
from types import CodeType, FrameType
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias

from .base import (
    CountingFailed,
    CountingUnavailable,
    Engine,
    ModuleFilter,
    root_path,
    running_frames,
)
from .cores import Result, TraceCore
from .hits import Hits
from .paths import OWN, CallTree, Node, Path
from .unstable import SpanWatch

#: Bound at import: a test may delete it from `sys` (attrs' suite does).
_getframe: Final = sys._getframe

if TYPE_CHECKING:
    from _typeshed import TraceFunction

TraceEvent: TypeAlias = Literal["call", "line", "return", "exception", "opcode"]
ALL_THREADS_UNAVAILABLE = "counting all threads needs Python 3.12+ (sys.monitoring)"

#: Whether a Python trace function's frames keep rebound locals alive in
#: `f_locals` until their next event (see the module's docstring).
STALE_LOCALS = sys.version_info < (3, 11)


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
        # 3.10: per code object counted in any span of this engine (kept
        # alive, so that its id stays unique), the locals its instructions
        # rebind: read from its bytecode once, not once per span.
        self._rebound: dict[int, tuple[CodeType, list[str | None] | None]] = {}

    def start(
        self, modules: ModuleFilter, *, all_threads: bool = False, stacks: bool = False
    ) -> None:
        if all_threads:
            # settrace is per thread: threads already running cannot be traced.
            raise CountingUnavailable(ALL_THREADS_UNAVAILABLE)
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
                return _FrameCounter(counter, chained, live, names)
            node = tree.child(caller(frame), frame.f_code)
            return _PathCounter(counter, chained, live, names, node)

        def caller(frame: FrameType) -> Node:
            """The node of the nearest counted frame that `frame` returns to:
            its caller's, or a generator's consumer's, at this call."""
            assert tree is not None
            back = frame.f_back
            while back is not None:
                local = back.f_trace
                if type(local) is _PathCounter and local.live is live:
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
                core.add(code, None)

        assert self._compiled is not None
        self._thread = threading.get_ident()
        self._watch = watch = SpanWatch(self._thread, modules)
        core = self._compiled(self._thread, False, discover, None, stacks)
        running = list(running_frames(_getframe(2), modules))
        for frame in running:
            core.add(frame.f_code, None)  # a code object seen twice is kept once
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
        hits.set_paths(self._paths())
        hits.unstable = self._watch.reason(hits) if self._watch is not None else None
        return hits

    def stop(self) -> Hits:
        core = self._core
        if self._tracer is None and core is None:
            raise CountingFailed("stop() without start()")
        current = sys.gettrace()
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
        for frame, f_trace, opcodes, lines in self._running:
            frame.f_trace = f_trace
            frame.f_trace_opcodes = opcodes
            frame.f_trace_lines = lines
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
            hits.set_paths(core.paths())
        else:
            hits, self._hits = self._hits, Hits()
            hits.set_paths((self._tree.paths(), None) if self._tree is not None else None)
        self._tree = None
        hits.unstable = watch.reason(hits) if watch is not None else None
        return hits

    def _paths(self) -> tuple[list[Path], str | None] | None:
        if self._core is not None:
            return self._core.paths()
        return (self._tree.paths(), None) if self._tree is not None else None


def _hits(results: dict[int, Result]) -> Hits:
    hits = Hits()
    for key, (code, counter, _, _, _) in results.items():
        hits.codes[key] = code
        hits.counters[key] = counter
    return hits


_REBINDING = {dis.opmap[name] for name in ("STORE_FAST", "DELETE_FAST")}
_REBINDING_CELL = {dis.opmap[name] for name in ("STORE_DEREF", "DELETE_DEREF")}
_EXTENDED_ARG = dis.opmap["EXTENDED_ARG"]
#: Types whose objects run no code and release no other object as they die.
_INERT = frozenset({type(None), bool, int, float, complex, str, bytes, range})


def rebound_locals(code: CodeType) -> list[str | None] | None:
    """On 3.10: per byte offset of `code`, the name of the local that the
    instruction reported there rebinds or deletes (an `EXTENDED_ARG` prefix
    and its instruction are one event, at the prefix's offset), else None;
    None if it rebinds none. Only names `f_locals` holds: a class body's free
    variables are not copied there."""
    raw = code.co_code
    cells = code.co_cellvars
    if code.co_flags & inspect.CO_OPTIMIZED:
        cells += code.co_freevars
    names: list[str | None] = [None] * len(raw)
    found = False
    start = -1
    extended = 0
    for offset in range(0, len(raw), 2):
        opcode, arg = raw[offset], raw[offset + 1] | extended
        if start < 0:
            start = offset
        if opcode == _EXTENDED_ARG:
            extended = arg << 8
            continue
        if opcode in _REBINDING and arg < len(code.co_varnames):
            names[start] = code.co_varnames[arg]
            found = True
        elif opcode in _REBINDING_CELL and arg < len(cells):
            names[start] = cells[arg]
            found = True
        start, extended = -1, 0
    return names if found else None


class _FrameCounter:
    """The local trace function of one counted frame.

    A class, not a closure: a closure returning itself is a reference cycle,
    and with the garbage collector paused during a span, millions of calls
    would keep millions of them alive.

    On 3.10, `rebound` names the local each instruction rebinds (see
    `rebound_locals`): `held` keeps its old value from that instruction's
    event to the frame's next one, and `local_names` is the frame's
    `f_locals`, read once.
    """

    __slots__ = ("chained", "counter", "held", "live", "local_names", "rebound")

    def __init__(
        self,
        counter: list[int],
        chained: TraceFunction | None,
        live: list[bool],
        rebound: list[str | None] | None = None,
    ) -> None:
        self.counter = counter
        self.chained = chained
        self.live = live
        self.rebound = rebound
        self.held: object = None
        self.local_names: dict[str, object] | None = None

    def count(self, frame: FrameType, event: TraceEvent, arg: Any) -> TraceFunction | None:
        if self.live:
            if event == "opcode":  # the hot path: once per instruction
                self.counter[frame.f_lasti] += 1
            elif self.chained is not None:
                self.chained = self.chained(frame, event, arg)
            return self
        return self.hand_back(frame, event, arg)

    def count_keeping(self, frame: FrameType, event: TraceEvent, arg: Any) -> TraceFunction | None:
        """3.10: the same, keeping a rebound local's old value to the next event."""
        if self.live:
            if self.held is not None:
                self.release()
            if event == "opcode":
                offset = frame.f_lasti
                self.counter[offset] += 1
                if self.rebound is not None:
                    name = self.rebound[offset]
                    if name is not None:
                        self.hold(frame, name)
            elif self.chained is not None:
                self.chained = self.chained(frame, event, arg)
            return self
        return self.hand_back(frame, event, arg)

    __call__ = count_keeping if STALE_LOCALS else count

    def hold(self, frame: FrameType, name: str) -> None:
        """(3.10) The instruction about to run rebinds the local `name`:
        keep its old value, which `f_locals` holds until the next event, if
        that could be the last reference to an object whose death runs code."""
        local_names = self.local_names
        if local_names is None:
            local_names = self.local_names = frame.f_locals
        value = local_names.get(name)
        # References: the local (or cell), f_locals, `value`, the argument.
        if type(value) not in _INERT and sys.getrefcount(value) <= 4:
            self.held = value

    def release(self) -> None:
        """(3.10) The frame's next event: the trampoline has dropped the
        rebound local's old value from `f_locals`. If ours is the last
        reference, let the object die with tracing on, so that what its
        death runs (a `__del__`, a weakref callback) is counted, as the
        interpreter runs it; else just let go."""
        held = self.held
        self.held = None
        if sys.getrefcount(held) == 2:  # `held` and the argument
            box = [held]
            del held
            sys.call_tracing(box.clear, ())

    def hand_back(self, frame: FrameType, event: TraceEvent, arg: Any) -> TraceFunction | None:
        """This frame outlived the span: hand it back untouched."""
        self.held = None
        chained = self.chained
        frame.f_trace_opcodes = False
        frame.f_trace = chained  # type: ignore[assignment]  # typeshed: f_trace takes str events
        return chained(frame, event, arg) if chained is not None else None


class _PathCounter(_FrameCounter):
    """The same, charging each instruction to the frame's call-tree node too."""

    __slots__ = ("node",)

    def __init__(
        self,
        counter: list[int],
        chained: TraceFunction | None,
        live: list[bool],
        rebound: list[str | None] | None,
        node: Node,
    ) -> None:
        super().__init__(counter, chained, live, rebound)
        self.node = node

    def count(self, frame: FrameType, event: TraceEvent, arg: Any) -> TraceFunction | None:
        if self.live:
            if event == "opcode":
                self.counter[frame.f_lasti] += 1
                self.node[OWN] += 1
            elif self.chained is not None:
                self.chained = self.chained(frame, event, arg)
            return self
        return self.hand_back(frame, event, arg)

    def count_keeping(self, frame: FrameType, event: TraceEvent, arg: Any) -> TraceFunction | None:
        if self.live:
            if self.held is not None:
                self.release()
            if event == "opcode":
                offset = frame.f_lasti
                self.counter[offset] += 1
                self.node[OWN] += 1
                if self.rebound is not None:
                    name = self.rebound[offset]
                    if name is not None:
                        self.hold(frame, name)
            elif self.chained is not None:
                self.chained = self.chained(frame, event, arg)
            return self
        return self.hand_back(frame, event, arg)

    __call__ = count_keeping if STALE_LOCALS else count
