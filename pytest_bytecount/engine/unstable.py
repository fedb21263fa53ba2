"""What makes a span's count differ next run, as the engine can see it.

A `SpanWatch` looks for two things, neither at any cost per instruction.

**Another thread running Python code.** Its instructions are not counted,
but what it does can change what the counted thread does: a lock free or
taken, a queue empty or not, a future done or pending. Three signs:

- on 3.12+, the `sys.monitoring` callbacks already receive every PY_START and
  PY_RESUME of every thread; the core hands those of other threads to
  `saw()` (until one is found to matter);
- on 3.10/3.11, where a trace function sees one thread only, the counted
  thread starting a thread (`threading.Thread.start`) is seen as it
  discovers that code;
- on every version, the other threads' innermost frames when the span
  opened and when it closed: a thread that started, ended, or is now in
  another frame or at another instruction ran Python code in between. A
  thread blocked in C (a lock, a socket, a sleep) the whole time is where
  it was. One that ran and came back to the very instruction it was
  paused at (a loop waiting at one call, a loop calling nothing) looks the
  same: on 3.12+ its calls are seen, on 3.10/3.11 it goes unseen. The
  check is a dictionary lookup per thread, kept that cheap on purpose: a
  suite may hold hundreds of idle threads, and it runs twice per span.

Threads of the test runner's own machinery (pytest-xdist's channel to the
controller, and the modules the span excludes) are left out: their work
never touches the test's data.

**An import that compiles source.** A module imported (or reloaded) in the
span with no cached bytecode is compiled there, and the cache written; the
next run reads the cache instead, and counts less. Seen as the counted
thread discovers the import system's compiling code; not a sign when
bytecode is never written (`PYTHONDONTWRITEBYTECODE`), as every run then
compiles alike.
"""

from __future__ import annotations

import importlib._bootstrap_external
import operator
import sys
import threading
from types import CodeType, FrameType
from typing import Final

from .base import ModuleFilter

_LASTI: Final = operator.attrgetter("f_lasti")
#: Packages whose threads serve the test runner, not the code under test.
MACHINERY: Final = frozenset({"execnet", "xdist"})
#: The code the counted thread runs to start a thread (3.10/3.11's sign).
THREAD_START: Final = threading.Thread.start.__code__
#: The code the import system runs to compile a module it has no bytecode for.
SOURCE_TO_CODE: Final = importlib._bootstrap_external.SourceLoader.source_to_code.__code__


class SpanWatch:
    """Whether something since the watch began may make the span's count
    differ next run; `reason()` says what, or None."""

    def __init__(self, thread: int, modules: ModuleFilter) -> None:
        self._thread = thread
        self._modules = modules
        self._reason: str | None = None
        self._before = self._stacks()
        self._lasti = list(map(_LASTI, self._before.values()))

    def saw(self, code: CodeType, module: object) -> bool:
        """Another thread started or resumed `code` (of `module`). Returns
        whether to keep telling: no, once the span is known to be unstable."""
        if self._reason is not None:
            return False
        if self._is_machinery(module):
            return True
        name = getattr(code, "co_qualname", code.co_name)
        where = f"{module}.{name}" if isinstance(module, str) else name
        self._reason = (
            f"{_thread(threading.get_ident())} ran Python code during the span "
            f"(first seen: {where})"
        )
        return False

    def discovered(self, code: CodeType) -> None:
        """The counted thread runs `code` for the first time in the span."""
        if self._reason is not None:
            return
        if code is THREAD_START:
            self._reason = "the test started a thread during the span"
        elif code is SOURCE_TO_CODE and not sys.dont_write_bytecode:
            self._reason = (
                "a module was imported from source during the span (no cached bytecode): "
                "the next run reads the cache, and counts less"
            )

    def reason(self) -> str | None:
        """Why the count may vary run to run, as of now; None if it cannot."""
        if self._reason is None:
            self._reason = self._moved()
        return self._reason

    def _moved(self) -> str | None:
        before, after = self._before, self._stacks()
        if (
            before.keys() == after.keys()
            and all(map(operator.is_, before.values(), after.values()))
            and list(map(_LASTI, after.values())) == self._lasti
        ):
            return None  # every thread paused where it was: all in C, no Python
        lasti = dict(zip(before, self._lasti, strict=True))
        for ident in before.keys() | after.keys():
            before_top, after_top = before.get(ident), after.get(ident)
            if before_top is after_top and lasti[ident] == _LASTI(after_top):
                continue  # paused where it was
            stack = after_top if after_top is not None else before_top
            if all(self._is_machinery(f.f_globals.get("__name__")) for f in _frames(stack)):
                continue
            if before_top is None:
                how = "started"
            elif after_top is None:
                how = "ended"
            else:
                how = "ran Python code"
            return f"{_thread(ident)} {how} during the span"
        return None

    def _stacks(self) -> dict[int, FrameType]:
        """Every other thread's innermost frame. Holding them keeps them
        alive, so that no new frame can take one's place, and identity,
        before the span closes."""
        frames = sys._current_frames()
        frames.pop(self._thread, None)
        return frames

    def _is_machinery(self, module: object) -> bool:
        name = module if isinstance(module, str) else ""
        return name.partition(".")[0] in MACHINERY or self._modules.excludes(name)


def _frames(frame: FrameType | None) -> list[FrameType]:
    frames = []
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    return frames


def _thread(ident: int) -> str:
    """The thread as a reason names it: with its name where threading knows
    it (a thread that has only begun to start has no ident yet)."""
    for thread in threading.enumerate():
        if thread.ident == ident:
            return f"another thread ({thread.name!r})"
    return "another thread"
