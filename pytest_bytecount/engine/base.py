"""The interface every counting engine implements, and what they share.

An engine counts the bytecode instructions executed on one thread between
`start()` and `stop()`, per code object and instruction offset. It knows
nothing of pytest: which modules are not counted is handed to it as a
`ModuleFilter`.
"""

from __future__ import annotations

import fnmatch
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from types import FrameType
from typing import Final

from .hits import Hits

#: Modules whose frames are never counted (their callees are): the test
#: runner's machinery and our own.
ALWAYS_EXCLUDED: Final = ("pytest", "_pytest", "pluggy", "pytest_bytecount")
OWN_PACKAGE: Final = "pytest_bytecount"


class CountingUnavailable(RuntimeError):
    """Counting cannot start here; the message says why."""


class CountingFailed(RuntimeError):
    """Counting started but its result cannot be trusted; the message says why."""


class ModuleFilter:
    """Decides, per module name, whether frames of that module are counted."""

    __slots__ = ("_cache", "_globs", "_roots")

    def __init__(self, globs: Iterable[str] = ()) -> None:
        self._globs = tuple(globs)
        self._roots = ALWAYS_EXCLUDED
        self._cache: dict[str, bool] = {}

    @property
    def globs(self) -> tuple[str, ...]:
        return self._globs

    def excludes(self, module: str) -> bool:
        try:
            return self._cache[module]
        except KeyError:
            pass
        root = module.partition(".")[0]
        excluded = root in self._roots or any(
            fnmatch.fnmatchcase(module, glob) for glob in self._globs
        )
        self._cache[module] = excluded
        return excluded

    def excludes_frame(self, frame: FrameType) -> bool:
        module = frame.f_globals.get("__name__")
        return self.excludes(module if isinstance(module, str) else "")

    @staticmethod
    def excludes_own(frame: FrameType) -> bool:
        """Whether `frame` is pytest-bytecount's own."""
        module = frame.f_globals.get("__name__")
        return isinstance(module, str) and module.partition(".")[0] == OWN_PACKAGE

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ModuleFilter) and other._globs == self._globs

    def __hash__(self) -> int:
        return hash(self._globs)


def running_frames(frame: FrameType | None, modules: ModuleFilter) -> Iterator[FrameType]:
    """The frames already running at `frame` that a span opened there may
    execute more instructions in.

    Our own frames (the span's machinery) are skipped; then come the caller
    of `measure()` and the frames it may return into while the span is open,
    up to the first excluded frame. The frames above that one (pytest's, and
    whatever started pytest) run again only once it returns, and it returns
    only after the span has closed. Walking the whole stack instead cost a
    `sys.monitoring` instrumentation of each of those frames per span.
    """
    while frame is not None and modules.excludes_own(frame):
        frame = frame.f_back
    while frame is not None and not modules.excludes_frame(frame):
        yield frame
        frame = frame.f_back


def root_path(
    frame: FrameType | None, modules: ModuleFilter
) -> tuple[list[FrameType], FrameType | None]:
    """With call paths: the frames `running_frames` gives, outermost first,
    and the frame above them (where walks up the stack stop), or None."""
    while frame is not None and modules.excludes_own(frame):
        frame = frame.f_back
    frames = list(running_frames(frame, modules))
    above = frames[-1].f_back if frames else frame
    frames.reverse()
    return frames, above


class Engine(ABC):
    """One counting mechanism. One instance serves one thread at a time.

    `start()` begins counting on the calling thread: in the frames already
    running there (they may execute more instructions before the span ends)
    and in every frame entered or resumed afterwards, excluded modules aside.
    With `all_threads`, every thread's instructions are counted, which is not
    deterministic; engines that cannot do it raise `CountingUnavailable`.
    With `stacks`, the call tree is recorded too (`paths.py`), and with
    `c_calls` the calls into C (`c_calls.py`), each at a cost in time and
    never in the counts. `stop()` ends it and returns what was
    counted. Both restore every piece of interpreter state they touch.
    """

    #: Human-readable name of the mechanism, for the report header.
    name: str = ""
    #: Which implementation of the hot path runs: "c" or "python".
    core: str = "python"
    #: Whether `start(all_threads=True)` works.
    counts_all_threads: bool = False

    def unavailable_reason(self) -> str | None:
        """Why `start()` would fail right now, or None if it should work."""
        return None

    @abstractmethod
    def start(
        self,
        modules: ModuleFilter,
        *,
        all_threads: bool = False,
        stacks: bool = False,
        c_calls: bool = False,
    ) -> None: ...

    @abstractmethod
    def stop(self) -> Hits: ...

    @abstractmethod
    def snapshot(self) -> Hits:
        """A copy of the counts so far, for measurements nested in a span."""
