"""The `max_instructions` marker: its help line and its parsing.

A malformed marker fails its test (not the run) with one line naming the
marker and the value, however odd the value is.
"""

from __future__ import annotations

from typing import Final

import pytest

from .escaping import one_line
from .report import MAX_COUNT
from .verdict import Limit, LimitSource, parse_tolerance

MARKER: Final = "max_instructions"
MARKER_HELP: Final = (
    f'{MARKER}(n, tolerance="0%"): fail the test when it executes more than n bytecode '
    "instructions (n plus its own tolerance, if given)"
)

#: How much of a bad marker argument the test's error shows, and from how
#: many digits on an int is shown by their number.
SHOWN_LENGTH: Final = 60
SHOWN_DIGITS: Final = 20


def marker_limit(item: pytest.Item) -> Limit | None:
    """The closest `max_instructions` marker's limit; fails the test if
    malformed, in one line naming the marker and the value. The limit is
    below 2**63, as every count in a report is."""
    marker = item.get_closest_marker(MARKER)
    if marker is None:
        return None
    args, kwargs = marker.args, dict(marker.kwargs)
    tolerance = kwargs.pop("tolerance", None)
    if kwargs:
        got = "keyword arguments " + ", ".join(
            f"{key}={shown(value)}" for key, value in kwargs.items()
        )
    elif not args:
        got = "no argument"
    elif len(args) > 1:
        got = f"{len(args)} arguments ({', '.join(shown(arg) for arg in args)})"
    elif isinstance(args[0], bool) or not isinstance(args[0], int):
        got = f"{shown(args[0])} ({type(args[0]).__name__})"
    elif args[0] <= 0:
        got = shown(args[0])
    elif args[0] > MAX_COUNT:
        got = f"{shown(args[0])}, above the largest limit, 2**63 - 1"
    else:
        return Limit(int(args[0]), LimitSource.MARKER, _marker_tolerance(tolerance))
    pytest.fail(
        f"@pytest.mark.{MARKER} takes one positive int (the instruction limit) and an "
        f'optional tolerance="2%", got {got}',
        pytrace=False,
    )


def _marker_tolerance(value: object) -> float | None:
    """The marker's `tolerance=`: "2%", "2.5" or a number, as --bytecount-tolerance."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return parse_tolerance(value)
        except ValueError:
            pass
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 100:
        return float(value)
    # Not failed in the except clause: pytest would show the ValueError as well.
    pytest.fail(
        f"@pytest.mark.{MARKER}(tolerance=...): expected a percentage from 0% to below 100% "
        f'such as "2%" or 0.5, got {shown(value)}',
        pytrace=False,
    )


def shown(value: object) -> str:
    """`repr(value)` for an error message: cut short, in one line, an int of
    many digits by their number (Python prints none of over 4,300), and a
    value whose `repr` fails by its type."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**SHOWN_DIGITS:
        size = abs(value)
        digits = size.bit_length() * 1233 >> 12  # log10(2) from below: at most a few short
        while size >= 10**digits:
            digits += 1
        return f"an int of {digits:,} digits"
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - any failure of the user's repr is reported the same
        text = f"<{type(value).__name__} object, its repr failed>"
    if len(text) > SHOWN_LENGTH:
        text = text[: SHOWN_LENGTH - 3] + "..."
    return one_line(text)
