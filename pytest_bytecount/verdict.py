"""From a count, its limit, a tolerance and a baseline to a status (pure, no pytest)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Final, final


class Status(str, Enum):
    """What the report and the summary call a measured test."""

    OK = "ok"
    OVER = "over"
    IMPROVED = "improved"
    NEW = "new"
    REGRESSED = "regressed"


#: The statuses that fail a session (over a limit, regressed against a
#: baseline), and the order every renderer shows statuses in: problems first.
PROBLEMS: Final = frozenset({Status.OVER, Status.REGRESSED})
DISPLAY_ORDER: Final = (Status.OVER, Status.REGRESSED, Status.IMPROVED, Status.NEW, Status.OK)


class LimitSource(str, Enum):
    MARKER = "marker"
    FILE = "file"


#: How each source is named to users, where the budgets file's own name is
#: not known (a report read back by `pytest-bytecount show`).
SOURCE_LABELS: Final = {LimitSource.MARKER: "marker", LimitSource.FILE: "budgets file"}


@final
@dataclass(frozen=True)
class Limit:
    """An instruction cap, where it came from, and the test's own tolerance
    (percent), which replaces the session's for this test."""

    instructions: int
    source: LimitSource
    tolerance: float | None = None


def judge(
    instructions: int,
    limit: Limit | None,
    *,
    tolerance: float = 0.0,
    baseline: int | None = None,
) -> Status:
    """The status of one measured test. `tolerance` is in percent.

    A marker is a hard cap, whatever the session's tolerance. A budget from
    the file allows `tolerance` percent either way before the count is over
    or improved. A limit's own tolerance (the marker's `tolerance=`, an
    entry's in the file) replaces the session's for that test. A
    baseline (an earlier report's count) turns growth beyond the tolerance
    into a regression; being over a limit is the graver status.
    """
    if limit is not None and limit.tolerance is not None:
        tolerance = limit.tolerance
    if limit is not None and instructions > allowance(limit, tolerance):
        return Status.OVER
    if baseline is not None and exceeds(instructions, baseline, tolerance):
        return Status.REGRESSED
    if limit is None:
        return Status.NEW
    if limit.source is LimitSource.FILE and falls_below(
        instructions, limit.instructions, tolerance
    ):
        return Status.IMPROVED
    return Status.OK


def fails(status: Status, limit: Limit | None, *, updating: bool = False) -> bool:
    """Whether the test fails for its count: over a limit that is enforced.
    Recording budgets (`--bytecount-update`) forgives the file's budgets,
    never a marker's. A regression fails the session, not the test."""
    if status is not Status.OVER or limit is None:
        return False
    return not (updating and limit.source is LimitSource.FILE)


def allowance(limit: Limit, tolerance: float) -> float:
    """The highest count that is not over `limit`: a marker without a
    tolerance of its own is a hard cap."""
    if limit.tolerance is not None:
        return limit.instructions * (1 + limit.tolerance / 100)
    if limit.source is LimitSource.MARKER:
        return limit.instructions
    return limit.instructions * (1 + tolerance / 100)


def exceeds(instructions: int, reference: int, tolerance: float) -> bool:
    return instructions > reference * (1 + tolerance / 100)


def falls_below(instructions: int, reference: int, tolerance: float) -> bool:
    return instructions < reference * (1 - tolerance / 100)


def change_percent(instructions: int, reference: int) -> float:
    """How far `instructions` is from `reference`, in percent of the reference."""
    return (instructions - reference) * 100.0 / reference


def parse_tolerance(text: str) -> float:
    """`"2%"`, `"2.5"`, `"0.5%"` -> percent as a float; ValueError otherwise."""
    cleaned = text.strip()
    number = cleaned[:-1].strip() if cleaned.endswith("%") else cleaned
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"expected a percentage such as 2% or 0.5, got {text!r}") from None
    if not 0 <= value < 100 or value != value:
        raise ValueError(f"expected a percentage from 0% to below 100%, got {text!r}")
    return value
