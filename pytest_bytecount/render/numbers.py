"""How every renderer writes a change in percent (pure, no pytest)."""

from __future__ import annotations

import math


def signed_percent(value: float) -> str:
    """`+37.0%`, `-2.5%`: one decimal, or under 0.1% as many as show the
    first digit that is not 0, so that a change is never written as none
    (+125 on 402,009 is `+0.03%`, not `+0.0%`)."""
    size = abs(value)
    decimals = 1
    if 0 < size < 0.1:
        decimals = -math.floor(math.log10(size))
    return f"{value:+.{decimals}f}%"
