"""Where the pure-Python core's time goes (CPython 3.12+): the same workload
measured with the Python core, and with the same sys.monitoring events
delivered to callbacks that do nothing, side by side in one run.

    python benchmarks/callbacks.py

The "empty callbacks" row is the floor of any Python-level core: what
CPython costs to deliver the events the engine needs (PY_START for every
call, INSTRUCTION at every block leader, DISABLE elsewhere). The gap above
it is the core's own work per callback. Timings only: the tests never
assert on time.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from types import CodeType

if sys.version_info < (3, 12):
    raise SystemExit("sys.monitoring needs CPython 3.12+")

os.environ["PYTEST_BYTECOUNT_CORE"] = "python"  # before the first measurement

from overhead import fib, loop

from pytest_bytecount import measure
from pytest_bytecount.engine.blocks import analyze

REPEATS = 5
TOOL = 2  # the profiler id: free here, and not one the plugin takes
mon = sys.monitoring
EVENTS = mon.events


def best(fn: Callable[[], object]) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def measured(fn: Callable[[], object]) -> Callable[[], object]:
    def run() -> object:
        with measure():
            return fn()

    return run


def with_empty_callbacks(fn: Callable[[], object]) -> Callable[[], object]:
    """The engine's events, by block, delivered to callbacks that do nothing."""
    code = fn.__code__
    lengths = analyze(code).lengths

    def start(code: CodeType, offset: int) -> object:
        return None

    def instruction(code: CodeType, offset: int) -> object:
        return None if lengths[offset] else mon.DISABLE

    def run() -> object:
        mon.use_tool_id(TOOL, "empty callbacks")
        mon.register_callback(TOOL, EVENTS.PY_START, start)
        mon.register_callback(TOOL, EVENTS.INSTRUCTION, instruction)
        mon.set_events(TOOL, EVENTS.PY_START | EVENTS.PY_RESUME | EVENTS.RAISE | EVENTS.RERAISE)
        mon.set_local_events(TOOL, code, EVENTS.INSTRUCTION)
        try:
            return fn()
        finally:
            mon.set_events(TOOL, 0)
            mon.set_local_events(TOOL, code, 0)
            mon.free_tool_id(TOOL)

    return run


def main() -> None:
    version = ".".join(map(str, sys.version_info[:3]))
    print(f"Python {version}, best of {REPEATS}, slowdown against the plain call")
    print(f"  {'workload':<10}{'empty callbacks':>18}{'Python core':>14}")
    for fn in (loop, fib):
        for _ in range(2):  # counted by block from the second span on
            measured(fn)()
        plain = best(fn)
        floor = best(with_empty_callbacks(fn))
        core = best(measured(fn))
        print(f"  {fn.__name__:<10}{floor / plain:>17.1f}x{core / plain:>13.1f}x")


if __name__ == "__main__":
    main()
