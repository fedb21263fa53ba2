"""What one measured span costs on its own: open, count a tiny function,
close, side by side with the tiny function alone, in one run.

    python benchmarks/span.py

The span is opened from a frame of an excluded module, as the plugin opens
the span of each test, and counts a 20-element list comprehension: the fixed
cost that a suite of many small tests pays once per test. Timings only: the
tests never assert on time.
"""

from __future__ import annotations

import sys
import time

from pytest_bytecount.counting import SpanOptions, thread_meter
from pytest_bytecount.engine import ModuleFilter

SPANS = 5_000


def tiny() -> int:
    return len([i * i for i in range(20)])


def spans() -> float:
    meter, options = thread_meter(), SpanOptions(ModuleFilter())
    start = time.perf_counter()
    for _ in range(SPANS):
        measurement = meter.begin(options)
        tiny()
        meter.end(measurement)
    return (time.perf_counter() - start) / SPANS


def main() -> None:
    engine = thread_meter().engine
    # Run the loop from a frame whose module is excluded (pluggy's, as far as
    # the engine can tell), so that no frame above the span is counted.
    namespace = {"__name__": "pluggy._benchmark", "spans": spans}
    runner = compile("best = min(spans() for _ in range(3))", "<benchmark>", "exec")
    exec(runner, namespace)
    start = time.perf_counter()
    for _ in range(SPANS):
        tiny()
    alone = (time.perf_counter() - start) / SPANS
    core = getattr(engine, "core", "python")  # versions before the compiled core had none
    print(f"Python {sys.version.split()[0]}, {engine.name} (core: {core})")
    print(f"one span of tiny(): {namespace['best'] * 1e6:8.1f} us")
    print(f"tiny() alone:       {alone * 1e6:8.1f} us")


if __name__ == "__main__":
    main()
