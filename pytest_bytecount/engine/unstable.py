"""What makes a span's count differ next run, as the engine can see it.

A `SpanWatch` looks for three things, none at any cost per instruction.

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

**Work that waits on the world outside the process.** How many rounds a
loop over a pipe takes, or how often a deadline loop polls, depends on when
another process writes and on the clock. Seen as the counted thread
discovers the code that does it (`WAITS`), once per span: starting a process
(`subprocess`, `multiprocessing`); opening a network connection or reading
a socket through a file (`socket`); a selector's wait (`selectors`), unless an
asyncio event loop ran it, whose selector is polled without waiting while
coroutines are ready; an asyncio loop woken by I/O (a socket, a pipe, a
subprocess) or given a timer to keep. And, after the span, from its
counts: a code object that both read the clock and slept (or waited on a
condition) at least twice each, which is what a loop that polls until a
deadline does. A plain `time.sleep`, or reading the clock for a timestamp,
does neither twice. Which names read the clock and which sleep is decided
from the bytecode once per code object (`_timing`).
"""

from __future__ import annotations

import dis
import importlib._bootstrap_external
import operator
import os
import sys
import threading
from types import CodeType, FrameType
from typing import Final, NamedTuple

from .base import ModuleFilter
from .hits import Hits

#: Bound at import: a test may delete it from `sys` (attrs' suite does).
_current_frames: Final = sys._current_frames
_getframe: Final = sys._getframe

_LASTI: Final = operator.attrgetter("f_lasti")
#: Packages whose threads serve the test runner, not the code under test.
MACHINERY: Final = frozenset({"execnet", "xdist"})
#: The code the counted thread runs to start a thread (3.10/3.11's sign).
THREAD_START: Final = threading.Thread.start.__code__
#: The code the import system runs to compile a module it has no bytecode for.
SOURCE_TO_CODE: Final = importlib._bootstrap_external.SourceLoader.source_to_code.__code__


def _path(*parts: str) -> str:
    """How the path of a standard-library module ends: `/asyncio/base_events.py`."""
    return os.sep + os.path.join(*parts)


class Wait(NamedTuple):
    """Standard-library code whose running means the span waited on the world."""

    file: str  # how its module's path ends (`co_filename`)
    reason: str


_START = (
    "the test started another process ({}): how much waiting on it takes depends "
    "on when that process runs"
)
_EVENT_LOOP = _path("asyncio", "base_events.py")
#: By code name, then by the end of the file's path. Names are the same on
#: CPython 3.10 to 3.15 (tests/test_waits.py runs on each).
WAITS: Final = {
    "_execute_child": Wait(_path("subprocess.py"), _START.format("subprocess")),
    "start": Wait(_path("multiprocessing", "process.py"), _START.format("multiprocessing")),
    "create_connection": Wait(
        _path("socket.py"),
        "the test opened a network connection (socket.create_connection): how its data "
        "arrives depends on the other side",
    ),
    "readinto": Wait(
        _path("socket.py"),
        "the test read from a socket through a file (socket.makefile): how its data "
        "arrives in pieces depends on the other side",
    ),
    "_add_callback": Wait(
        _EVENT_LOOP,
        "the asyncio event loop was woken by I/O (a socket, a pipe or a subprocess): "
        "how often it wakes depends on when the other side writes",
    ),
    "call_at": Wait(
        _EVENT_LOOP,
        "the asyncio event loop scheduled a timer: how many rounds the loop runs "
        "before it fires depends on the clock",
    ),
}
#: A selector's wait: a sign unless an asyncio loop (`ASYNCIO_LOOP`) polled it.
SELECTORS: Final = ("select", _path("selectors.py"))
SELECTOR_WAIT: Final = (
    "the test waited on a selector (a pipe or a socket): how many rounds that takes "
    "depends on when the other side writes"
)
ASYNCIO_LOOP: Final = ("_run_once", _EVENT_LOOP)
#: Names whose call reads the clock, whether called as a global (`from time
#: import monotonic as _time`) or as an attribute (`time.perf_counter()`).
CLOCK_NAMES: Final = frozenset(
    {"time", "_time", "monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns", "time_ns"}
)
#: Names whose call waits: `time.sleep`, and `Condition.wait` / `Event.wait`.
SLEEP_NAMES: Final = frozenset({"sleep", "_sleep", "wait"})
#: The modules that name a clock as an attribute: `time.time`, not `self.time`.
CLOCK_MODULES: Final = frozenset({"time", "_time"})
POLLING: Final = (
    "the test polled the clock in a loop, waiting between reads ({}): how many rounds "
    "it runs depends on the clock"
)


class _Timing(NamedTuple):
    """Where a code object reads the clock and where it sleeps (offsets)."""

    clock: tuple[int, ...]
    sleep: tuple[int, ...]


#: The code objects that name both a clock and a sleep, each with its
#: `_Timing` or None (kept alive, so that its id stays unique). Few: most
#: code names neither.
_TIMINGS: dict[int, tuple[CodeType, _Timing | None]] = {}
_NAMES: Final = CLOCK_NAMES | SLEEP_NAMES


def _timing(code: CodeType) -> _Timing | None:
    """Where `code` reads the clock and sleeps; None if it does not do both.
    Its bytecode is read once, and only where it names both kinds."""
    names = code.co_names
    if CLOCK_NAMES.isdisjoint(names) or SLEEP_NAMES.isdisjoint(names):
        return None
    known = _TIMINGS.get(id(code))
    if known is not None and known[0] is code:
        return known[1]
    clock: list[int] = []
    sleep: list[int] = []
    previous: dis.Instruction | None = None
    for instruction in dis.get_instructions(code):
        name = instruction.argval if isinstance(instruction.argval, str) else ""
        loads_global = instruction.opname in ("LOAD_GLOBAL", "LOAD_NAME")
        attribute = instruction.opname in ("LOAD_ATTR", "LOAD_METHOD")
        of_module = (
            previous is not None
            and previous.opname in ("LOAD_GLOBAL", "LOAD_NAME")
            and previous.argval in CLOCK_MODULES
        )
        if of_module and attribute and clock and previous and clock[-1] == previous.offset:
            clock.pop()  # `time.sleep`: loading the module `time` reads no clock
        if name in CLOCK_NAMES and (loads_global or (attribute and of_module)):
            clock.append(instruction.offset)
        elif name in SLEEP_NAMES and (loads_global or attribute):
            sleep.append(instruction.offset)
        previous = instruction
    timing = _Timing(tuple(clock), tuple(sleep)) if clock and sleep else None
    _TIMINGS[id(code)] = (code, timing)
    return timing


class SpanWatch:
    """Whether something since the watch began may make the span's count
    differ next run; `reason()` says what, or None."""

    def __init__(self, thread: int, modules: ModuleFilter) -> None:
        self._thread = thread
        self._modules = modules
        self._reason: str | None = None
        # Found at discovery, judged at the end: a selector's wait (unless an
        # asyncio loop polled it), and the code that reads the clock and sleeps.
        self._selector = False
        self._event_loop = False
        self._timed: list[tuple[CodeType, _Timing]] = []
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
        name = code.co_name
        wait = WAITS.get(name)
        if wait is not None:
            if code.co_filename.endswith(wait.file):
                self._reason = wait.reason
                return
        elif name == SELECTORS[0] and code.co_filename.endswith(SELECTORS[1]):
            self._selector = True
            # A loop that was running before the span began (a span inside
            # a coroutine: an async Hypothesis example) is found below.
            self._event_loop = self._event_loop or _in_event_loop()
        elif name == ASYNCIO_LOOP[0] and code.co_filename.endswith(ASYNCIO_LOOP[1]):
            self._event_loop = True
        timing = _timing(code)
        if timing is not None:
            self._timed.append((code, timing))
        if code is THREAD_START:
            self._reason = "the test started a thread during the span"
        elif code is SOURCE_TO_CODE and not sys.dont_write_bytecode:
            self._reason = (
                "a module was imported from source during the span (no cached bytecode): "
                "the next run reads the cache, and counts less"
            )

    def reason(self, hits: Hits | None = None) -> str | None:
        """Why the count may vary run to run, as of now; None if it cannot.
        `hits`: the span's counts by instruction, to find clock polling in."""
        if self._reason is None and self._selector and not self._event_loop:
            self._reason = SELECTOR_WAIT
        if self._reason is None and hits is not None:
            self._reason = self._polled(hits)
        if self._reason is None:
            self._reason = self._moved()
        return self._reason

    def _polled(self, hits: Hits) -> str | None:
        """Whether a code object read the clock and slept, twice each or more."""
        for code, timing in self._timed:
            counter = hits.counters.get(id(code))
            if counter is None:
                continue
            clock = max(counter[offset] for offset in timing.clock)
            sleep = max(counter[offset] for offset in timing.sleep)
            if clock >= 2 and sleep >= 2:
                return POLLING.format(getattr(code, "co_qualname", code.co_name))
        return None

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
        frames = _current_frames()
        frames.pop(self._thread, None)
        return frames

    def _is_machinery(self, module: object) -> bool:
        name = module if isinstance(module, str) else ""
        return name.partition(".")[0] in MACHINERY or self._modules.excludes(name)


def _in_event_loop() -> bool:
    """Whether an asyncio loop's round (`ASYNCIO_LOOP`) is on this thread's stack."""
    frame: FrameType | None = _getframe(1)
    while frame is not None:
        code = frame.f_code
        if code.co_name == ASYNCIO_LOOP[0] and code.co_filename.endswith(ASYNCIO_LOOP[1]):
            return True
        frame = frame.f_back
    return False


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
