"""The local trace functions of counted frames, for the Python core of the
`sys.settrace` engine (settrace.py, CPython 3.10 and 3.11): each counts its
frame's opcode events, forwards the others to the tracer it chains to, and
hands the frame back once the span is over.

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
the interpreter's own events count it (`FrameCounter.release`).
"""

from __future__ import annotations

import dis
import inspect
import sys
from types import CodeType, FrameType
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from .paths import OWN, Node

if TYPE_CHECKING:
    from _typeshed import TraceFunction

TraceEvent: TypeAlias = Literal["call", "line", "return", "exception", "opcode"]

#: Whether a Python trace function's frames keep rebound locals alive in
#: `f_locals` until their next event (see the module's docstring).
STALE_LOCALS = sys.version_info < (3, 11)


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


class FrameCounter:
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


class PathCounter(FrameCounter):
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
