"""Call paths a report keeps, and two runs' call paths compared (pure, no
pytest): what a differential flame graph is drawn from.

A test's folded stacks can run to thousands of lines; a report keeps the
`TOP_STACKS` that ran the most instructions of their own, and gives each
other stack's instructions to its deepest frame that is on a kept path, so
that every call path kept has its whole count (its width in a flame graph).
The comparison is of two such bounded sets, made the same way: a call path
one side kept and the other did not may have run on both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

#: The most call paths a report keeps of a test.
TOP_STACKS: Final = 100


def parse_folded(text: str) -> dict[str, int]:
    """Folded-stacks text (`frame;frame count` lines) as stack to count."""
    stacks: dict[str, int] = {}
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack:
            stacks[stack] = stacks.get(stack, 0) + int(count)
    return stacks


def bounded(stacks: Mapping[str, int], most: int = TOP_STACKS) -> dict[str, int]:
    """`stacks` with the `most` that ran the most instructions kept whole;
    each other stack's instructions go to its deepest frame on a kept path
    (or to its outermost frame), so the counts still sum to the same and
    each kept path's total is exact. The result can hold more than `most`
    stacks: those, and the callers' paths the others' counts went to.
    Sorted by stack."""
    if len(stacks) <= most:
        return dict(sorted(stacks.items()))
    ranked = sorted(stacks.items(), key=lambda item: (-item[1], item[0]))
    kept = dict(ranked[:most])
    on_kept_path = {prefix for stack in kept for prefix in _prefixes(stack)}
    for stack, count in ranked[most:]:
        # The stack itself where it is on a kept path (a caller of a kept
        # stack's frame), else its deepest frame that is.
        into = stack.split(";")[0]
        for prefix in reversed(_prefixes(stack)):
            if prefix in on_kept_path:
                into = prefix
                break
        kept[into] = kept.get(into, 0) + count
    return dict(sorted(kept.items()))


def _prefixes(stack: str) -> list[str]:
    """`a`, `a;b`, `a;b;c` for the stack `a;b;c`."""
    frames = stack.split(";")
    return [";".join(frames[:depth]) for depth in range(1, len(frames) + 1)]


def totals_by_path(stacks: Mapping[str, int]) -> dict[str, int]:
    """Each call path's (stack prefix's) instructions with its callees."""
    totals: dict[str, int] = {}
    for stack, count in stacks.items():
        for prefix in _prefixes(stack):
            totals[prefix] = totals.get(prefix, 0) + count
    return totals


def difffolded(old: Mapping[str, int], new: Mapping[str, int]) -> str:
    """The two sets of stacks in the format Brendan Gregg's `difffolded.pl`
    writes and `flamegraph.pl` draws: `stack old new`, one per line."""
    return "".join(
        f"{stack} {old.get(stack, 0)} {new.get(stack, 0)}\n"
        for stack in sorted(old.keys() | new.keys())
    )
