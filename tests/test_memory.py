"""Memory is bounded by the code a span touches, not by how many
instructions it executes (SPEC §11)."""

from __future__ import annotations

import tracemalloc

from pytest_bytecount import measure


def spin(n: int) -> int:
    total = 0
    for i in range(n):
        if i % 3:
            total += i
        else:
            total -= 1
    return total


def peak_while_measuring(n: int) -> tuple[int, int]:
    """The instructions counted and the peak of traced memory during the span."""
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    with measure() as m:
        spin(n)
    return m.instructions, tracemalloc.get_traced_memory()[1] - before


def test_a_ten_million_instruction_span_needs_no_more_memory_than_a_short_one() -> None:
    spin(10)
    with measure():  # code that has run enough is counted by block from here on
        spin(2_000)
    tracemalloc.start()
    try:
        short, short_peak = peak_while_measuring(1_000)
        long, long_peak = peak_while_measuring(1_400_000)
    finally:
        tracemalloc.stop()
    assert long > 10_000_000 > 100 * short
    assert long_peak <= short_peak + 16 * 1024, (short_peak, long_peak)
