"""How much slower measured code runs: the same work timed side by side, in
one run, unmeasured and measured with `pytest_bytecount.measure()`, with
each core that can run here.

    python benchmarks/overhead.py

For each core and workload it prints the count, the best-of-N time
unmeasured and measured, their ratio, the extra nanoseconds per counted
instruction, the ratio of the very first measured call, and the ratio with
call paths recorded (`measure(stacks=True)`, as --bytecount-profile, -html
and -explain do) against unmeasured, then against measured without them. On
3.12+ code is counted instruction by instruction until it has run 1,000
instructions, and by block from the next span on, so the first call is
dearer than the rest, with or without call paths.
Timings only: the tests never assert on time.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator

from pytest_bytecount import measure
from pytest_bytecount.counting import thread_meter
from pytest_bytecount.engine import CORE_VARIABLE
from pytest_bytecount.engine.cores import compiled_core

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


def _numbers(n: int) -> Iterator[int]:
    for i in range(n):  # noqa: UP028 - a generator frame of its own, on purpose
        yield i


def _evens(values: Iterator[int]) -> Iterator[int]:
    for value in values:
        if value % 2 == 0:
            yield value


def generators(n: int = 100_000) -> int:
    return sum(value * value for value in _evens(_numbers(n)))


def _check(i: int) -> int:
    if i % 4 == 0:
        raise ValueError(i)
    return i


def exceptions(n: int = 50_000) -> int:
    caught = 0
    for i in range(n):
        try:
            _check(i)
        except ValueError:
            caught += 1
    return caught


WORKLOADS: tuple[Callable[[], object], ...] = (loop, fib, generators, exceptions)


def timed(fn: Callable[[], object], measured: bool, stacks: bool = False) -> float:
    start = time.perf_counter()
    if measured:
        with measure(stacks=stacks):
            fn()
    else:
        fn()
    return time.perf_counter() - start


def run_core(lines: list[str]) -> None:
    """Every workload on this thread, whose engine uses the core asked for."""
    engine = thread_meter().engine
    lines.append(f"core: {engine.core} ({engine.name})")
    for fn in WORKLOADS:
        plain = min(timed(fn, measured=False) for _ in range(REPEATS))
        first = timed(fn, measured=True)
        with measure() as m:
            fn()
        counted = min(timed(fn, measured=True) for _ in range(REPEATS))
        with_paths = min(timed(fn, measured=True, stacks=True) for _ in range(REPEATS))
        extra = (counted - plain) / m.instructions * 1e9
        lines.append(
            f"  {fn.__name__:<12} {m.instructions:>12,} {plain:>9.4f} {counted:>10.4f} "
            f"{counted / plain:>7.1f}x {extra:>9.1f} {first / plain:>8.1f}x "
            f"{with_paths / plain:>7.1f}x {with_paths / counted:>7.1f}x"
        )


def main() -> None:
    cores = ["python"] + (["c"] if compiled_core()[0] is not None else [])
    print(f"Python {sys.version.split()[0]}, best of {REPEATS}")
    print(
        f"  {'workload':<12} {'instructions':>12} {'plain s':>9} {'measured s':>10} "
        f"{'ratio':>8} {'ns/instr':>9} {'first':>9} {'paths':>8} {'÷meas.':>8}"
    )
    for core in cores:
        # Each thread makes its own engine, with the core the variable names.
        os.environ[CORE_VARIABLE] = core
        lines: list[str] = []
        worker = threading.Thread(target=run_core, args=(lines,))
        worker.start()
        worker.join()
        print("\n".join(lines))


if __name__ == "__main__":
    main()
