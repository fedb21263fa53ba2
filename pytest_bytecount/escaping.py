"""One-line error messages whatever they quote (pure, no pytest).

A message quoting a value read from a file (a report, the budgets file) or
given to the marker must stay one line and show in the order it is written:
`one_line` escapes every character that could end a line or hide, as
`\\uXXXX`. Node ids printed by the renderers go through
`render/text.escape_controls` instead, which writes Python's escapes.
"""

from __future__ import annotations

import unicodedata
from typing import Final

#: Characters a message escapes: controls, line and paragraph separators,
#: surrogates, and format characters (the bidirectional overrides among them).
UNSHOWN: Final = frozenset({"Cc", "Zl", "Zp", "Cs", "Cf"})


def one_line(text: str) -> str:
    """`text` with every character that could end a line or hide escaped as
    `\\uXXXX` (`str.splitlines` ends lines at more than `\\n`): an error
    message stays one line whatever it quotes."""
    return "".join(
        f"\\u{ord(char):04x}" if unicodedata.category(char) in UNSHOWN else char for char in text
    )
