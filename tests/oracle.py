"""An independent count of the interpreter's own per-instruction events.

The exactness tests compare pytest-bytecount against this. It shares no code
with the package and uses the plainest mechanism each interpreter offers:
global `sys.monitoring` INSTRUCTION events on 3.12+ (no local events, no
PY_START bookkeeping), and on 3.10/3.11 opcode events (`f_trace_opcodes` on
every frame) delivered to a C-level trace function, `PyEval_SetTrace` called
through ctypes. Not a `sys.settrace` function: before calling one, CPython's
trampoline copies the frame's locals into `frame.f_locals`, which keeps a
rebound local's old object alive until the next event; on 3.10 a finalizer or
weakref callback it triggers then runs inside the trampoline, untraced (see
docs/compatibility.rst), while the interpreter does run those instructions.
Frames of pytest, pluggy, pytest_bytecount and this module are skipped, as the
plugin skips them.
"""

from __future__ import annotations

import ctypes
import gc
import os
import sys
from collections.abc import Callable
from types import FunctionType, MethodType
from typing import Any

import _pytest
import pluggy
import pytest

import pytest_bytecount
from pytest_bytecount.attribution import frame_label
from pytest_bytecount.generated_code import name_generated

_SKIPPED_DIRS = tuple(
    os.path.dirname(module.__file__) + os.sep
    for module in (_pytest, pluggy, pytest_bytecount)
    if module.__file__
)
_SKIPPED_FILES = (os.path.abspath(__file__), os.path.abspath(pytest.__file__))
ORACLE_TOOL_ID = 2  # the "profiler" id: free in a test run, and not one the plugin takes


def _skipped(filename: str) -> bool:
    return filename.startswith(_SKIPPED_DIRS) or filename in _SKIPPED_FILES


def count_events(fn: Callable[[], Any]) -> int:
    """Instructions the interpreter reports while `fn()` runs.

    The garbage collector is paused, as the plugin pauses it: otherwise a
    collection may run `gc.callbacks` or finalizers inside the count.
    """
    return sum(count_lines(fn).values())


Line = tuple[str, int]


def count_lines(fn: Callable[[], Any]) -> dict[Line, int]:
    """The same events, per source line: each under its frame's `f_lineno`
    at the event, the interpreter's own answer. Where that is None (an
    instruction with no line), under the line of the nearest instruction
    before it in its code that has one, else the code's first line."""
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    lines: dict[Line, int] = {}
    unlined: dict[tuple[Any, int], int] = {}
    try:
        if sys.version_info >= (3, 12):
            _count_with_monitoring(fn, lines, unlined)
        else:
            _count_with_settrace(fn, lines, unlined)
    finally:
        if was_enabled:
            gc.enable()
    for (code, offset), count in unlined.items():
        line = code.co_firstlineno
        for start, _, at in code.co_lines():
            if start > offset:
                break
            if at is not None:
                line = at
        key = (code.co_filename, line)
        lines[key] = lines.get(key, 0) + count
    return lines


def count_paths(fn: Callable[[], Any]) -> dict[str, int]:
    """The same events, per call path: the frames on the stack at each one,
    outermost first, from the first frame `fn()` entered (skipped frames left
    out), each as `qualname (file:first line)`, joined by `;`: the folded
    stacks format."""
    paths: dict[tuple[Any, ...], int] = {}
    _PATHS.append(paths)
    try:
        count_lines(fn)
    finally:
        _PATHS.pop()
    folded: dict[str, int] = {}
    # Frames named as the plugin names them (a namedtuple's `__new__` is
    # `SelectorKey.__new__ (generated code)`): what is checked here is which
    # code ran on which path, and how often.
    name_generated(code for codes in paths for code in codes)
    for codes, count in paths.items():
        stack = ";".join(frame_label(code) for code in codes)
        folded[stack] = folded.get(stack, 0) + count
    return folded


#: Where `_record` also puts each event's call path, while `count_paths` runs.
_PATHS: list[dict[tuple[Any, ...], int]] = []


def _path(frame: Any) -> tuple[Any, ...]:
    codes = []
    while frame is not None and frame.f_code is not _call.__code__:
        if not _skipped(frame.f_code.co_filename):
            codes.append(frame.f_code)
        frame = frame.f_back
    return tuple(reversed(codes))


def _record(lines: dict[Line, int], unlined: dict[tuple[Any, int], int], frame: Any) -> None:
    if _PATHS:
        path = _path(frame)
        _PATHS[-1][path] = _PATHS[-1].get(path, 0) + 1
    line = frame.f_lineno
    if line is None:
        key = (frame.f_code, frame.f_lasti)
        unlined[key] = unlined.get(key, 0) + 1
    else:
        where = (frame.f_code.co_filename, line)
        lines[where] = lines.get(where, 0) + 1


def _count_with_monitoring(
    fn: Callable[[], Any], lines: dict[Line, int], unlined: dict[tuple[Any, int], int]
) -> None:
    mon = sys.monitoring
    skipped: dict[object, bool] = {}
    getframe = sys._getframe

    def on_instruction(code: Any, offset: int) -> None:
        skip = skipped.get(code)
        if skip is None:
            skip = skipped[code] = _skipped(code.co_filename)
        if not skip:
            _record(lines, unlined, getframe(1))

    mon.use_tool_id(ORACLE_TOOL_ID, "bytecount-test-oracle")
    mon.register_callback(ORACLE_TOOL_ID, mon.events.INSTRUCTION, on_instruction)
    mon.set_events(ORACLE_TOOL_ID, mon.events.INSTRUCTION)
    try:
        _call(fn)
    finally:
        mon.set_events(ORACLE_TOOL_ID, 0)
        mon.register_callback(ORACLE_TOOL_ID, mon.events.INSTRUCTION, None)
        mon.free_tool_id(ORACLE_TOOL_ID)


_TraceFunction = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.py_object, ctypes.py_object, ctypes.c_int, ctypes.c_void_p
)
_CALL, _OPCODE = 0, 7  # PyTrace_CALL, PyTrace_OPCODE


def _count_with_settrace(
    fn: Callable[[], Any], lines: dict[Line, int], unlined: dict[tuple[Any, int], int]
) -> None:
    def on_event(_: object, frame: Any, what: int, arg: object) -> int:
        # Called with tracing off: nothing here is counted.
        if what == _OPCODE:
            _record(lines, unlined, frame)
        elif what == _CALL and not _skipped(frame.f_code.co_filename):
            frame.f_trace_opcodes = True
        return 0

    hook = _TraceFunction(on_event)
    off = ctypes.cast(None, _TraceFunction)  # made before the span: ctypes.cast is Python code
    set_trace = ctypes.pythonapi.PyEval_SetTrace
    set_trace.argtypes = [_TraceFunction, ctypes.py_object]
    set_trace.restype = None
    previous = sys.gettrace()
    set_trace(hook, None)
    try:
        _call(fn)
    finally:
        set_trace(off, ctypes.py_object())
        sys.settrace(previous)


def count_c_calls(fn: Callable[[], Any]) -> dict[tuple[str, str, int], int]:
    """The calls into C the interpreter reports while `fn()` runs, per
    `(name, file, line)`: on 3.12+ its global C_RETURN and C_RAISE events
    (less Python functions and their methods, which 3.12 and 3.13 report
    for a `with` statement's `__enter__` and `__exit__`), on 3.11 a profile
    function's `c_call` events. Named as the plugin names them: what is
    checked is which C calls were made from which line, and how often. 3.10: not available."""
    from pytest_bytecount.engine.c_calls import c_function_name

    calls: dict[tuple[str, str, int], int] = {}

    def record(frame: Any, function: object) -> None:
        if isinstance(function, MethodType):
            function = function.__func__
        if _skipped(frame.f_code.co_filename) or isinstance(function, FunctionType):
            return
        name = c_function_name(function)
        assert name is not None, function
        key = (name, frame.f_code.co_filename, frame.f_lineno)
        calls[key] = calls.get(key, 0) + 1

    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        if sys.version_info >= (3, 12):
            mon = sys.monitoring
            events = mon.events
            getframe = sys._getframe

            def on_return(code: Any, offset: int, function: object, arg0: object) -> None:
                record(getframe(1), function)

            mon.use_tool_id(ORACLE_TOOL_ID, "bytecount-test-oracle")
            mon.register_callback(ORACLE_TOOL_ID, events.C_RETURN, on_return)
            mon.register_callback(ORACLE_TOOL_ID, events.C_RAISE, on_return)
            mon.set_events(ORACLE_TOOL_ID, events.CALL | events.C_RETURN | events.C_RAISE)
            try:
                _call(fn)
            finally:
                mon.set_events(ORACLE_TOOL_ID, 0)
                mon.register_callback(ORACLE_TOOL_ID, events.C_RETURN, None)
                mon.register_callback(ORACLE_TOOL_ID, events.C_RAISE, None)
                mon.free_tool_id(ORACLE_TOOL_ID)
        else:

            def on_event(frame: Any, event: str, arg: object) -> None:
                if event == "c_call":
                    record(frame, arg)

            previous = sys.getprofile()
            sys.setprofile(on_event)
            try:
                _call(fn)
            finally:
                sys.setprofile(previous)
    finally:
        if was_enabled:
            gc.enable()
    return calls


def _call(fn: Callable[[], Any]) -> None:
    # Not contextlib.suppress: its Python frames would be counted here.
    try:  # noqa: SIM105
        fn()
    except Exception:  # noqa: BLE001 - the corpus raises on purpose
        pass
