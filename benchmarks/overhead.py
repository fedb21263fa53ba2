"""How much slower measured code runs: the same work timed side by side, in one run.

    python benchmarks/overhead.py

Prints, for each workload, the best-of-N time unmeasured and measured with
`pytest_bytecount.measure()`, the ratio, and the extra nanoseconds per counted
instruction. Timings only: the tests never assert on time.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from pytest_bytecount import measure
from pytest_bytecount.counting import thread_meter

REPEATS = 5


def loop(n: int = 200_000) -> int:
    t = 0
    for i in range(n):
        if i % 3:
            t += i * 2
        else:
            t -= 1
    return t


def fib(n: int = 22) -> int:
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def best_time(fn: Callable[[], object], measured: bool) -> float:
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        if measured:
            with measure():
                fn()
        else:
            fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    engine = thread_meter().engine.name
    print(f"Python {sys.version.split()[0]}, engine: {engine}, best of {REPEATS}")
    columns = ("instructions", "plain s", "measured s", "ratio", "ns/instr")
    print(f"{'workload':<10} " + " ".join(f"{c:>13}" for c in columns))
    for fn in (loop, fib):
        with measure() as m:
            fn()
        plain = best_time(fn, measured=False)
        counted = best_time(fn, measured=True)
        extra = (counted - plain) / m.instructions * 1e9
        print(
            f"{fn.__name__:<10} {m.instructions:>13,} {plain:>13.4f} {counted:>13.4f} "
            f"{counted / plain:>12.1f}x {extra:>13.1f}"
        )


if __name__ == "__main__":
    main()
