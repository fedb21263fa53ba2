"""What counting calls into C costs (`measure(c_calls=True)`), side by side
with counting without it and with the code alone, in one run.

    python benchmarks/c_calls.py

Two workloads: one making a call into C every few instructions (string and
dict methods, builtins), the shape of typical application code, and one of
arithmetic only, with no call into C, which should cost the same either
way. Prints the best time of each mode and, for the first workload, the cost
per call into C. Timings only: the tests never assert on time.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from pytest_bytecount import measure
from pytest_bytecount.counting import thread_meter

ROUNDS = 2_000


def calls_into_c() -> int:
    table: dict[str, int] = {}
    for word in (" a ", "b ", " c", "d"):
        key = word.strip().upper()
        table[key] = table.get(key, 0) + len(word)
    return sum(sorted(table.values()))


def arithmetic() -> int:
    total = 0
    for i in range(12):
        total += i * i if i % 2 else -i
    return total


def timed(fn: Callable[[], int], **options: bool) -> float:
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        if options is None:
            for _ in range(ROUNDS):
                fn()
        else:
            with measure(**options):
                for _ in range(ROUNDS):
                    fn()
        best = min(best, time.perf_counter() - start)
    return best / ROUNDS


def alone(fn: Callable[[], int]) -> float:
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(ROUNDS):
            fn()
        best = min(best, time.perf_counter() - start)
    return best / ROUNDS


def main() -> None:
    engine = thread_meter().engine
    print(f"Python {sys.version.split()[0]}, {engine.name} (core: {engine.core})")
    with measure(c_calls=True) as probe:
        calls_into_c()
    try:
        per_round = sum(probe.c_calls.values())
    except ValueError as exc:
        print(f"calls into C are not counted here: {exc}")
        per_round = 0
    print(f"  {'workload':<16}{'alone':>10}{'counted':>10}{'+ c_calls':>11}{'ratio':>8}")
    for fn in (calls_into_c, arithmetic):
        base, counted, with_calls = alone(fn), timed(fn), timed(fn, c_calls=True)
        print(
            f"  {fn.__name__:<16}{base * 1e6:>8.2f}us{counted * 1e6:>8.2f}us"
            f"{with_calls * 1e6:>9.2f}us{with_calls / counted:>7.2f}x"
        )
        if fn is calls_into_c and per_round:
            extra = (with_calls - counted) / per_round
            print(f"  {per_round} calls into C a round: {extra * 1e9:.0f} ns each")


if __name__ == "__main__":
    main()
