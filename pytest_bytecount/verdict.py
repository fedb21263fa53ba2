"""From a count and its limit to a status: pure functions, no pytest."""

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


class LimitSource(str, Enum):
    MARKER = "marker"
    FILE = "file"


#: How each source is named to users.
SOURCE_LABELS: Final = {LimitSource.MARKER: "marker", LimitSource.FILE: "bytecount.toml"}


@final
@dataclass(frozen=True)
class Limit:
    """An instruction cap and where it came from."""

    instructions: int
    source: LimitSource


def judge(instructions: int, limit: Limit | None) -> Status:
    """A marker is a hard cap: over it is `over`, at or under it is `ok`."""
    if limit is None:
        return Status.NEW
    if instructions > limit.instructions:
        return Status.OVER
    return Status.OK


def change_percent(instructions: int, limit: int) -> float:
    """How far `instructions` is from `limit`, in percent of the limit."""
    return (instructions - limit) * 100.0 / limit
