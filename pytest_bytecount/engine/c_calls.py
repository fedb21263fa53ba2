"""Calls into C: which callables not written in Python a span called, how
often, and from which instruction.

A call into C (`sorted`, `str.join`, a C extension's function) is one CALL
instruction however much work it does, so a test can get slower with the
same count. What the interpreter reports of such calls differs by version
(docs/internals.rst, "Calls into C"):

- 3.12+: a call that does not run as a Python frame is followed by a
  `C_RETURN` event at the calling instruction, or `C_RAISE` if it raised.
  Both are set as local events on the counted code objects only, with
  `CALL` (they cannot be set without it), which gets no callback. These
  events change no instruction count; an instrumented CALL is not
  specialized, which costs time.
- 3.11: `sys.setprofile`'s `c_call` event, which comes for builtin
  functions and methods and for method descriptors called with an argument,
  not for C types, slot wrappers or callable C objects: fewer calls than
  3.12+ reports for the same code.
- 3.10: none. A Python profile function changes the instruction counts
  there: like a Python trace function, it keeps a rebound local's old value
  alive until its next event, so a finalizer runs uncounted.

Threading: a callback counts only the span's thread, unless the span counts
all threads (3.12+). The 3.11 profile function is per thread.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from types import (
    BuiltinFunctionType,
    CodeType,
    FrameType,
    FunctionType,
    MethodDescriptorType,
    MethodType,
    MethodWrapperType,
    ModuleType,
    WrapperDescriptorType,
)
from typing import Any, Final

from .base import ModuleFilter
from .hits import Calls, Hits

#: Bound at import: a test may delete it from `sys` (attrs' suite does).
_getframe: Final = sys._getframe

#: Why no calls into C can be counted on this interpreter, or None.
UNAVAILABLE: Final = (
    "calls into C are not counted on CPython 3.10: the only event for them, "
    "a profile function's, changes the instruction counts there"
    if sys.version_info < (3, 11)
    else None
)

_type_module = type.__dict__["__module__"].__get__
_type_qualname = type.__dict__["__qualname__"].__get__


def c_function_name(function: object) -> str | None:
    """The name a call into C is shown by: `sorted`, `str.strip`,
    `math.sqrt`, `re.Pattern.match`, a class's or callable object's type
    name; None for a Python function or a method of one (3.12 and 3.13
    report a `with` statement's calls of `__enter__` and `__exit__` so).
    Read from C attributes only: no Python code of the callable runs."""
    kind = type(function)
    if kind is FunctionType:
        return None
    if kind is MethodType:  # 3.12: a `with` statement's __enter__
        return c_function_name(function.__func__)  # type: ignore[attr-defined]
    if kind is BuiltinFunctionType or isinstance(function, BuiltinFunctionType):
        owner = function.__self__  # type: ignore[attr-defined]
        qualname = function.__qualname__  # type: ignore[attr-defined]
        if owner is None or type(owner) is ModuleType:
            module = function.__module__
        else:
            module = _type_module(owner if isinstance(owner, type) else type(owner))
        return _qualified(module, qualname)
    if kind is MethodDescriptorType or kind is WrapperDescriptorType:
        return _qualified(
            _type_module(function.__objclass__),  # type: ignore[attr-defined]
            function.__qualname__,  # type: ignore[attr-defined]
        )
    if kind is MethodWrapperType:
        owner = function.__self__  # type: ignore[attr-defined]
        return _qualified(_type_module(type(owner)), function.__qualname__)  # type: ignore[attr-defined]
    of = function if isinstance(function, type) else kind
    return _qualified(_type_module(of), _type_qualname(of))


#: Callables made afresh for a call (`f = obj.method`, `x.__len__`): named
#: each time, not kept for the span.
_SHORT_LIVED: Final = (MethodType, MethodWrapperType)
_LONG_LIVED: Final = (FunctionType, MethodDescriptorType, WrapperDescriptorType)


def _name_kept(function: object, named: dict[int, tuple[object, str | None]]) -> str | None:
    """`c_function_name(function)`, kept in `named` by id (with `function`)
    unless the callable is likely made for one call only."""
    name = c_function_name(function)
    kind = type(function)
    if kind in _SHORT_LIVED:
        return name
    if isinstance(function, BuiltinFunctionType):
        owner = function.__self__
        if owner is not None and type(owner) is not ModuleType:
            return name  # bound at each lookup: to an object, or to a type (dict.fromkeys)
    elif kind not in _LONG_LIVED and not isinstance(function, type):
        return name  # a callable object (functools.partial)
    named[id(function)] = (function, name)
    return name


def _qualified(module: object, qualname: str) -> str:
    if not isinstance(module, str) or module == "builtins":
        return qualname
    return f"{module}.{qualname}"


class CallsIntoC:
    """Counts the calls into C of one span.

    The hot path is one table update keyed by ids: of the calling code
    object (counted code, kept alive by the span, or here on 3.11), the
    offset and the callable. A callable is named on its first call at a
    place (`first`); a long-lived one (a builtin, a method descriptor, a
    type) is kept with its name so that its id stays unique. One made for a
    call (`f = obj.method`, a `functools.partial`) is counted by name
    instead, named on every call. With the compiled core, the table and the
    callback (3.12+) or profile function (3.11) are its `CallCounter`
    (_ccore_c_calls.h).
    """

    __slots__ = (
        "_by_id",
        "_by_name",
        "_compiled",
        "_excluded",
        "_modules",
        "_named",
        "_profiling",
        "_thread",
        "all_threads",
        "codes",
        "lost",
    )

    def __init__(self, thread: int, all_threads: bool, *, compiled: bool = False) -> None:
        self._thread = thread
        self.all_threads = all_threads
        self._by_id: dict[tuple[int, int, int], int] = {}
        self._by_name: Calls = {}
        self._named: dict[int, tuple[object, str | None]] = {}
        self._compiled: Any = None
        # 3.11 with the compiled core: which calling code is not counted.
        self._modules: ModuleFilter | None = None
        self._excluded: dict[int, bool] = {}
        if compiled:
            from ._ccore import CallCounter

            self._compiled = CallCounter(thread, all_threads, self.first)
        # 3.11: the calling code objects, kept alive so that their ids stay unique.
        self.codes: dict[int, CodeType] = {}
        #: Why the calls could not be counted, or None.
        self.lost: str | None = None
        self._profiling = False

    def into(self, hits: Hits) -> None:
        """Hand the calls so far to `hits`: by calling code, offset and name."""
        if self.lost is not None:
            hits.c_calls, hits.c_calls_lost = None, self.lost
            return
        calls = dict(self._by_name)
        named = self._named
        for (code, offset, function), count in self._by_id.items():
            name = named[function][1]
            if name is not None:
                key = (code, offset, name)
                calls[key] = calls.get(key, 0) + count
        if self._compiled is not None:
            for code_object, offset, name, count in self._compiled.counts():
                if name:  # "": a Python function
                    key = (id(code_object), offset, name)
                    calls[key] = calls.get(key, 0) + count
        hits.c_calls, hits.c_calls_lost = calls, None

    def first(self, code: CodeType, offset: int, function: object) -> str | None:
        """For the compiled counter: a callable's first call at a place. The
        name to count its calls there under from now on, this one included
        ("" for a Python function: counted, never shown), or None where the
        call is not counted, or counted here by name: a callable object made
        for the call (a `functools.partial`), which would fill its table."""
        if self._modules is not None and self._excludes(code):
            return None
        name = c_function_name(function)
        kind = type(function)
        if kind is MethodWrapperType or (
            kind not in _LONG_LIVED
            and kind is not MethodType
            and not isinstance(function, (BuiltinFunctionType, type))
        ):
            if name is not None:
                where = (id(code), offset, name)
                self._by_name[where] = self._by_name.get(where, 0) + 1
            return None
        return "" if name is None else name

    def _first_here(self, code: CodeType, offset: int, function: object) -> bool:
        """For the Python callbacks: a callable's first call at a place, or
        a short-lived callable's call: True to count its calls there by id
        from now on (this one too); False when counted here, by name."""
        named = self._named
        if id(function) in named:
            return True
        name = _name_kept(function, named)
        if id(function) in named:  # kept: named by its id from now on
            return True
        if name is not None:
            where = (id(code), offset, name)
            self._by_name[where] = self._by_name.get(where, 0) + 1
        return False

    def _excludes(self, code: CodeType) -> bool:
        """3.11, compiled: whether `code`, whose frame made the call (the
        compiled profile function's caller, which has no frame), is not
        counted. Its calls come here each time; they are few in a span."""
        excluded = self._excluded.get(id(code))
        if excluded is None:
            assert self._modules is not None
            excluded = self._excluded[id(code)] = self._modules.excludes_frame(_getframe(2))
            self.codes[id(code)] = code
        return excluded

    def returned(self) -> Callable[[CodeType, int, object, object], None]:
        """The `C_RETURN` and `C_RAISE` callback (3.12+): the compiled
        counter's, or a closure over what it reads."""
        if self._compiled is not None:
            returned: Callable[[CodeType, int, object, object], None] = self._compiled.returned
            return returned
        by_id, first = self._by_id, self._first_here
        thread, all_threads, get_ident = self._thread, self.all_threads, threading.get_ident

        def count(code: CodeType, offset: int, function: object, arg0: object) -> None:
            if not all_threads and get_ident() != thread:
                return
            key = (id(code), offset, id(function))
            calls = by_id.get(key)
            if calls is not None:
                by_id[key] = calls + 1
            elif first(code, offset, function):
                # Not `= 1`: with all threads, another thread may have
                # counted it while `first` ran.
                by_id[key] = by_id.get(key, 0) + 1

        return count

    # -- 3.11: a profile function --------------------------------------------

    @classmethod
    def profiling(cls, modules: ModuleFilter, compiled_core: object = None) -> CallsIntoC:
        """Counting on this thread with a profile function (3.11): the
        compiled core's `CallCounter` where the span counts with that core
        (`compiled_core` is its type), else a Python one. Or, in `lost`, why
        not."""
        compiled = compiled_core is not None
        previous = sys.getprofile()
        if UNAVAILABLE is not None or previous is not None:
            self = cls(threading.get_ident(), False)
            self.lost = UNAVAILABLE or (
                f"calls into C are not counted: another profile function is set ({previous!r})"
            )
            return self
        self = cls(threading.get_ident(), False, compiled=compiled)
        if compiled:
            self._modules = modules
            self._compiled.start_profiling()
            self._profiling = True
            return self
        excluded: dict[int, bool] = {}
        by_id, first, codes = self._by_id, self._first_here, self.codes

        def on_event(frame: FrameType, event: str, arg: Any) -> None:
            if event != "c_call":
                return
            code = frame.f_code
            key = id(code)
            skip = excluded.get(key)
            if skip is None:
                skip = excluded[key] = modules.excludes_frame(frame)
                codes[key] = code
            if skip:
                return
            offset = frame.f_lasti
            where = (key, offset, id(arg))
            count = by_id.get(where)
            if count is not None:
                by_id[where] = count + 1
            elif first(code, offset, arg):
                by_id[where] = by_id.get(where, 0) + 1

        sys.setprofile(on_event)
        self._profiling = True
        return self

    def stop_profiling(self) -> None:
        if self._profiling:
            if self._compiled is not None:
                self._compiled.stop_profiling()
            else:
                sys.setprofile(None)
            self._profiling = False
