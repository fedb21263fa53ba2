"""The checks a JSON report's values go through as it is read back
(`report_loader.py`): each returns the value of the type it checks, or
raises `Invalid` with a message of one line naming where in the document
the bad value is and quoting it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

from .escaping import one_line
from .report import MAX_COUNT

#: A bad value is quoted in the error message up to this many characters.
QUOTE_LIMIT: Final = 40


class Invalid(Exception):
    """What is wrong with the document, without the path (added once, at the top)."""


def percent_value(value: Any, where: str) -> None:
    # NaN compares false both ways, and JSON's parser refuses it anyway.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 100:
        raise Invalid(f"{where}: expected a percentage from 0 to below 100, got {quoted(value)}")


def require(mapping: dict[str, Any], key: str, where: str) -> Any:
    if key not in mapping:
        raise Invalid(f"{where}.{key}: missing" if where else f"{key}: missing")
    return mapping[key]


def as_object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid(f"{where}: expected an object, got {quoted(value)}")
    return value


def as_array(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise Invalid(f"{where}: expected an array, got {quoted(value)}")
    return value


def as_string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise Invalid(f"{where}: expected a string, got {quoted(value)}")
    return value


def as_count(value: Any, where: str) -> int:
    if not (is_int(value) and 0 <= value <= MAX_COUNT):
        raise Invalid(f"{where}: expected a non-negative integer below 2**63, got {quoted(value)}")
    return int(value)


def choice(value: Any, allowed: Sequence[str], where: str) -> None:
    if value not in allowed or not isinstance(value, str):
        raise Invalid(f"{where}: expected one of {', '.join(allowed)}, got {quoted(value)}")


def is_int(value: Any) -> bool:
    # JSON true/false arrive as bool, which Python counts as an int.
    return isinstance(value, int) and not isinstance(value, bool)


def quoted(value: Any, limit: int = QUOTE_LIMIT) -> str:
    """A value as it was written in the file, shortened, with every
    character that could end a line or hide escaped: a message stays one line."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    text = json.dumps(value, ensure_ascii=False)
    if is_int(value) and len(text) > limit:
        return f"an integer of {len(text.lstrip('-')):,} digits"
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return one_line(text)


def stack_entry(value: Any, where: str, frames: int) -> None:
    """A test's call path: its count, then each frame's index in a table of
    `frames` frames."""
    stack = as_array(value, where)
    if len(stack) < 2:
        raise Invalid(f"{where}: expected [instructions, frame, ...], got {quoted(stack)}")
    as_count(stack[0], f"{where}[0]")
    for index in range(1, len(stack)):
        frame = as_count(stack[index], f"{where}[{index}]")
        if frame >= frames:
            raise Invalid(f"{where}[{index}]: no frame {frame} in a table of {frames:,}")
