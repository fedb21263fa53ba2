"""Measured spans on a thread: nesting, the garbage collector, and `measure()`.

This module turns an engine's start/stop into measurements. One `Meter` per
thread owns that thread's engine; spans on it nest, the outermost one starting
and stopping the engine and the inner ones reading differences of its counts.

A span opened as a `fallback` (the plugin's span around a test that also has
the `bytecount` fixture, whose measurements replace the call's count) gives
way to the first fixture span opened inside it: it is closed there and then,
its count dropped, so that the fixture's span is an outermost one with its
own settings (`stacks=True` among them) rather than the inner one of a span
that records no call paths.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import final

from .engine import CountingFailed, Engine, Hits, ModuleFilter, create_engine
from .measurement import Measurement


@final
@dataclass(frozen=True)
class SpanOptions:
    """How the spans of a run, or of one `measure()`, count: one value that
    the plugin, the fixture and `measure()` hand to `Meter.begin`."""

    #: The modules whose frames are not counted.
    modules: ModuleFilter = field(default_factory=ModuleFilter)
    #: The garbage collector runs inside the span (else it is paused).
    keep_gc: bool = False
    #: A full collection before the span (`bytecount_gc = collect`).
    collect_gc: bool = False
    #: Every thread's instructions, not only this thread's (3.12+).
    all_threads: bool = False
    #: Call paths recorded.
    stacks: bool = False
    #: Calls into C counted by name and calling line.
    c_calls: bool = False


@final
class Meter:
    """Opens and closes measured spans on one thread."""

    __slots__ = ("_dropped", "_engine", "_fallback", "_gc_was_enabled", "_open")

    def __init__(self) -> None:
        self._engine: Engine | None = None
        self._open: list[tuple[Measurement, Hits | None]] = []
        self._gc_was_enabled = False
        self._fallback: Measurement | None = None
        self._dropped: Measurement | None = None

    @property
    def engine(self) -> Engine:
        """This thread's engine; raises `CountingUnavailable` where none works."""
        if self._engine is None:
            self._engine = create_engine()
        return self._engine

    def begin(
        self,
        options: SpanOptions,
        *,
        fallback: bool = False,
        replaces_fallback: bool = False,
    ) -> Measurement:
        """Open a span. Inside another span, the outer one's options apply,
        unless the outer one is a `fallback` and this one `replaces_fallback`
        (see the module's docstring)."""
        engine = self.engine
        measurement = Measurement()
        if (
            replaces_fallback
            and len(self._open) == 1
            and self._open[0][0] is self._fallback is not None
        ):
            self._open.pop()
            self._dropped, self._fallback = self._fallback, None
            try:
                engine.stop()
            finally:
                self._restore_gc()
        if self._open:
            self._open.append((measurement, engine.snapshot()))
            return measurement
        if options.collect_gc:
            # Garbage of earlier work freed now, outside any span, not
            # whenever the collector happens to run: a weakly keyed cache
            # holds the same entries at every span's start, run after run.
            gc.collect()
        self._gc_was_enabled = gc.isenabled()
        if not options.keep_gc:
            # Paused, the collector never runs on its own inside the span, so
            # no finalizer of garbage made before it can run (and be counted)
            # there. No collection first: that alone cost ~9 ms a span.
            gc.disable()
        try:
            engine.start(
                options.modules,
                all_threads=options.all_threads,
                stacks=options.stacks,
                c_calls=options.c_calls,
            )
        except BaseException:
            self._restore_gc()
            raise
        self._open.append((measurement, None))
        self._fallback = measurement if fallback else None
        return measurement

    def dropped(self, measurement: Measurement) -> bool:
        """Whether `measurement`, a fallback, gave way to a fixture's span: it
        has no count, and `end()` need not be called for it."""
        return measurement is self._dropped

    def end(self, measurement: Measurement) -> Measurement:
        """Close the innermost span, which must be `measurement`'s."""
        if measurement is self._dropped:
            self._dropped = None
            return measurement
        if not self._open or self._open[-1][0] is not measurement:
            raise RuntimeError("measurements must be closed innermost first")
        _, before = self._open.pop()
        engine = self.engine
        if before is not None:
            measurement._fill(engine.snapshot().minus(before))
            return measurement
        self._fallback = None
        try:
            hits = engine.stop()
        finally:
            self._restore_gc()
        measurement._fill(hits)
        return measurement

    def abort(self) -> None:
        """Close every open span after a failure, leaving the thread untraced."""
        was_open, self._open = bool(self._open), []
        self._fallback = self._dropped = None
        if was_open and self._engine is not None:
            try:
                self._engine.stop()
            except CountingFailed:
                pass  # we are already reporting a failure
            finally:
                self._restore_gc()

    def _restore_gc(self) -> None:
        if self._gc_was_enabled:
            gc.enable()


class _PerThread(threading.local):
    meter: Meter | None = None


_per_thread = _PerThread()  # one Meter per thread: engines count one thread


def thread_meter() -> Meter:
    """The calling thread's `Meter`."""
    meter = _per_thread.meter
    if meter is None:
        meter = _per_thread.meter = Meter()
    return meter


@final
class measure:  # noqa: N801 - used like a function: `with measure() as m:`
    """Count the instructions executed in a `with` block on this thread.

    ``exclude`` adds module-name globs (``"asyncio.*"``) whose frames are not
    counted; pytest, pluggy and pytest-bytecount never are. ``threads="all"``
    counts every thread's instructions, not only this thread's (3.12+; not
    deterministic). The garbage
    collector is paused inside the block unless ``gc=True``. ``stacks=True``
    records call paths, for ``folded()`` and the totals of ``by_function``;
    ``c_calls=True`` counts the calls into C, for ``c_calls``: each slower,
    never a different count. Measurements nest: an outer block
    includes the inner ones, and an inner block follows the outer one's
    settings.

    The ``with`` statement's own few instructions in the calling frame (storing
    the measurement, preparing the exit call) are part of the block.
    """

    __slots__ = ("_measurement", "_meter", "_options")

    def __init__(
        self,
        *,
        exclude: Iterable[str] = (),
        gc: bool = False,
        threads: str = "test",
        stacks: bool = False,
        c_calls: bool = False,
    ) -> None:
        if threads not in ("test", "all"):
            raise ValueError(f"threads: expected 'test' or 'all', got {threads!r}")
        self._options = SpanOptions(
            ModuleFilter(exclude),
            keep_gc=gc,
            all_threads=threads == "all",
            stacks=stacks,
            c_calls=c_calls,
        )
        self._meter = thread_meter()
        self._measurement: Measurement | None = None

    def __enter__(self) -> Measurement:
        self._measurement = self._meter.begin(self._options)
        return self._measurement

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._measurement is not None, "__exit__ without __enter__"
        self._meter.end(self._measurement)
