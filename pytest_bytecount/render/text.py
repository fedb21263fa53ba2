"""What every renderer does to a node id (pure, no pytest): shows it on one
line whatever it holds, and orders ids the way people number them.

A node id is not always made by pytest from a function's name: a custom
item, a plugin or a hand-edited report can put any character in it. A line
break in it would start a line of our own making, and one that starts with
`::` is read by GitHub Actions as a workflow command, so every text that
prints a node id prints it through `escape_controls`.
"""

from __future__ import annotations

import re
from typing import Final

#: Control characters (C0, DEL, C1: `\\n`, `\\r`, `\\t`, ESC, NEL...), the line
#: and paragraph separators U+2028 and U+2029 (with the controls, every
#: character `str.splitlines()` ends a line at), the marks and overrides of
#: bidirectional text, which reorder what a terminal shows (U+200E/F,
#: U+202A-202E, U+2066-2069), and lone surrogates, which UTF-8 cannot print
#: (a file name that is not UTF-8 leaves them).
_UNSHOWN: Final = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]"
)
_DIGITS: Final = re.compile("([0-9]+)")


def escape_controls(text: str) -> str:
    """`text` with each character `_UNSHOWN` names written as its Python
    escape (`\\n`, `\\x1b`, `\\u2028`, `\\udcff`), so that it prints as one
    line and sends the terminal no command. Backslashes are left as they
    are (pytest already doubles them in parametrized ids), so escaping twice
    changes nothing."""
    if _UNSHOWN.search(text) is None:
        return text
    return _UNSHOWN.sub(lambda found: ascii(found.group())[1:-1], text)


def natural_key(text: str) -> tuple[tuple[str | tuple[int, str], ...], str]:
    """A sort key that orders the numbers in `text` by value:
    `test[2]` < `test[10]` < `test[100]`, where plain string order puts
    `test[100]` before `test[2]`. Ties (`[07]` and `[7]`) go by the text."""
    parts = _DIGITS.split(text)
    # Digits at the odd places, text at the even: each place compares like
    # with like. A number is compared by its length, then its digits: int()
    # refuses more than 4,300 digits.
    return tuple(_number(part) if i % 2 else part for i, part in enumerate(parts)), text


def _number(digits: str) -> tuple[int, str]:
    significant = digits.lstrip("0")
    return len(significant), significant
