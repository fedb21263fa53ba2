"""The text of an over-budget failure (pure, no pytest)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Final

from ..attribution import where
from ..compare import FunctionChange
from ..determinism import UNSTABLE_HINT
from ..explain import render_c_calls
from ..measurement import FunctionCount, LineCount, Measurement
from ..verdict import Limit, LimitSource, change_percent
from .numbers import signed_percent

TOP_OPCODES: Final = 8
TOP_LINES_SHOWN: Final = 5


def over_budget_message(
    measurement: Measurement,
    limit: Limit,
    functions: tuple[FunctionCount, ...],
    lines: Sequence[tuple[LineCount, str]] = (),
    tolerance: float = 0.0,
    budgets: str = "bytecount.toml",
    changes: Sequence[FunctionChange] = (),
    baseline_name: str = "the baseline",
) -> str:
    """The failure of a test over its budget: by how much, the functions and
    lines that spent the most, with a baseline what changed since, the
    commonest opcodes and, where they were counted, the calls into C."""
    instructions = measurement.instructions
    if limit.source is LimitSource.MARKER:
        source = f"set by @pytest.mark.max_instructions({limit.instructions})"
    else:
        source = f"recorded in {budgets}"
    if limit.tolerance is not None:
        source += f" (its tolerance {limit.tolerance:g}%)"
    elif tolerance and limit.source is LimitSource.FILE:
        source += f" (tolerance {tolerance:g}%)"
    text = [
        f"bytecount: {instructions:,} instructions executed, over the limit of "
        f"{limit.instructions:,} {source}: +{instructions - limit.instructions:,} "
        f"({signed_percent(change_percent(instructions, limit.instructions))})",
    ]
    if functions:
        text.append("functions that spent the most (own instructions):")
        text.extend(
            f"  {f.instructions:>10,}  {f.function}  ({where(f.file, f.line)})" for f in functions
        )
    if lines:
        shown = [(line, f"{line.file}:{line.line}", source) for line, source in lines]
        shown = shown[:TOP_LINES_SHOWN]
        width = max(len(where) for _, where, _ in shown)
        text.append("lines that spent the most:")
        text.extend(
            f"  {line.instructions:>10,}  {where:<{width}}  {source}"
            for line, where, source in shown
        )
    if changes:
        text.append(f"functions whose own counts changed most since {baseline_name}:")
        text.extend(change_lines(changes, indent="  "))
    opcodes = list(measurement.by_opcode.items())[:TOP_OPCODES]
    text.append("top opcodes: " + ", ".join(f"{name} {count:,}" for name, count in opcodes))
    # Not counted in every run: only with call paths, and never on 3.10.
    with contextlib.suppress(ValueError):
        text.append(render_c_calls(measurement.c_calls).rstrip())
    if measurement.unstable is not None:
        text.append(f"unstable: {measurement.unstable}")
        text.append(UNSTABLE_HINT)
    return "\n".join(text)


def change_lines(changes: Sequence[FunctionChange], *, indent: str) -> list[str]:
    """`+312  parse_token  (src/parse.py:40)`, one line per function, the
    deltas aligned; a function new since the baseline, or gone, says so, as
    does the change of the functions a partial baseline does not list."""
    cells = [f"{c.delta:+,}" if c.delta is not None else "?" for c in changes]
    width = max((len(cell) for cell in cells), default=0)
    return [
        f"{indent}{cell:>{width}}  {_named(change)}"
        for cell, change in zip(cells, changes, strict=True)
    ]


def _named(change: FunctionChange) -> str:
    if change.unlisted:
        return (
            f"{change.function} (an earlier pytest-bytecount wrote the baseline and kept "
            "only each test's biggest functions: write it again to name them)"
        )
    named = f"{change.function}  ({where(change.file, change.line)})"
    if change.before is None:  # in a report of an earlier version
        return f"{named}  (not listed in the baseline: change unknown)"
    if change.before == 0:
        return f"{named}  (new: it did not run in the baseline)"
    if change.after == 0:
        return f"{named}  (it no longer runs)"
    return named
