"""The HTML page's growth charts (pure, no pytest): for each group of
`max_complexity` cases, its counts per size as points, the fitted class's
curve through them, and the limit's curve, as inline SVG.

The limit's curve is the limit class fitted to the counts, with its
lower-order terms: the closest a function of that class comes to them. It
runs through the points when the counts are within the limit, and misses
them when they grow faster. (Where the sizes are too few to fit it, it is
the class's leading term through the smallest count.) Both axes are
linear, from 0, so that a curve's shape is the class's own: a log-log plot
would turn every polynomial into a straight line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape
from typing import Final

from ..complexity import growth
from ..complexity_verdict import Verdict

#: The chart's coordinates: the plot's box within them.
WIDTH: Final = 420
HEIGHT: Final = 240
LEFT: Final = 78
RIGHT: Final = 24
TOP: Final = 12
BOTTOM: Final = 44
#: Points each curve is drawn through.
STEPS: Final = 60


def growth_sections(verdicts: Sequence[Verdict]) -> str:
    """The page's "Growth" part: a chart per group, failed groups first."""
    if not verdicts:
        return ""
    ordered = sorted(verdicts, key=lambda v: (v.outcome != "failed", v.group))
    figures = "".join(_figure(number, verdict) for number, verdict in enumerate(ordered))
    return (
        '<section id="growth"><h2>Growth</h2><p class="muted">Each group of '
        "<code>max_complexity</code> cases: the counts per size (points), the class fitted "
        "to them (solid), and the limit's class fitted to them (dashed), which misses the "
        "points when they grow faster than the limit allows.</p>"
        f'<div class="charts">{figures}</div></section>'
    )


def _figure(number: int, verdict: Verdict) -> str:
    limit = f"limit O({verdict.limit})"
    if verdict.recorded is not None:
        limit += f", recorded O({verdict.recorded})"
    return (
        f'<figure class="growth {verdict.outcome}" id="g{number}">'
        f"{_chart(number, verdict)}"
        f'<figcaption><span class="status">{verdict.outcome}</span> '
        f"<code>{escape(verdict.group)}</code><br>{escape(verdict.headline)}"
        f'<br><span class="muted">{escape(limit)}'
        + (f"; fit: {escape(str(verdict.fit))}" if verdict.order is not None else "")
        + "</span></figcaption></figure>"
    )


def _chart(number: int, verdict: Verdict) -> str:
    measured = [(size, count) for _, size, count in verdict.cases if count is not None]
    title = f"instructions per {verdict.over} of {verdict.group}"
    if not measured:
        return f'<p class="muted">No case of {escape(verdict.group)} was measured.</p>'
    low, high = min(size for size, _ in measured), max(size for size, _ in measured)
    top = max(count for _, count in measured) * 1.1 or 1.0
    right = high if high > low else low + 1

    def x(size: float) -> float:
        return LEFT + (size - low) / (right - low) * (WIDTH - LEFT - RIGHT)

    def y(count: float) -> float:
        return HEIGHT - BOTTOM - count / top * (HEIGHT - TOP - BOTTOM)

    parts = [
        f'<svg class="growth" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>',
        f'<clipPath id="clip{number}"><rect x="{LEFT}" y="{TOP}" '
        f'width="{WIDTH - LEFT - RIGHT}" height="{HEIGHT - TOP - BOTTOM}"/></clipPath>',
        _axes(measured, top, x, y, verdict.over),
    ]
    clip = f'clip-path="url(#clip{number})"'
    best = verdict.fit.best if verdict.fit is not None else None
    if best is not None:
        curve = _points(low, right, best.value, x, y)
        parts.append(f'<polyline class="fit" {clip} points="{curve}"/>')
    # Over the fit: where the two agree, the dashes show on the solid line.
    parts.append(
        f'<polyline class="limit" {clip} points="{_points(low, right, _limit(verdict), x, y)}"/>'
    )
    for size, count in measured:
        parts.append(
            f'<circle class="count" cx="{x(size):.1f}" cy="{y(count):.1f}" r="3.5">'
            f"<title>{escape(verdict.over)} = {size:,}: {count:,} instructions</title></circle>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _limit(verdict: Verdict) -> Callable[[float], float]:
    """The limit's curve: its class as fitted to the counts, else its
    leading term through the smallest count."""
    fitted = verdict.fit
    candidate = (
        next(
            (c for c in fitted.candidates if c.order == verdict.limit and c.error is not None),
            None,
        )
        if fitted is not None
        else None
    )
    if candidate is not None:
        return candidate.value
    size, count = next((size, count) for _, size, count in verdict.cases if count is not None)
    scale = count / growth(verdict.limit, size)
    return lambda n: scale * growth(verdict.limit, n)


def _axes(
    measured: Sequence[tuple[int, int]],
    top: float,
    x: Callable[[float], float],
    y: Callable[[float], float],
    over: str,
) -> str:
    """The axes, each size marked below, 0 and the highest count beside."""
    bottom, left = y(0), x(measured[0][0])
    highest = max(count for _, count in measured)
    parts = [
        f'<path class="axis" d="M{LEFT} {TOP}V{bottom:.1f}H{WIDTH - RIGHT}"/>',
        f'<text class="tick" x="{LEFT - 6}" y="{bottom:.1f}" text-anchor="end">0</text>',
        f'<text class="tick" x="{LEFT - 6}" y="{y(highest) + 4:.1f}" text-anchor="end">'
        f"{highest:,}</text>",
        f'<line class="grid" x1="{left:.1f}" x2="{WIDTH - RIGHT}" y1="{y(highest):.1f}" '
        f'y2="{y(highest):.1f}"/>',
    ]
    for size, _ in measured:
        parts.append(
            f'<text class="tick" x="{x(size):.1f}" y="{bottom + 16:.1f}" '
            f'text-anchor="middle">{size:,}</text>'
        )
    parts.append(
        f'<text class="label" x="{(LEFT + WIDTH - RIGHT) / 2:.1f}" y="{HEIGHT - 6}" '
        f'text-anchor="middle">{escape(over)}</text>'
    )
    return "".join(parts)


def _points(
    low: float,
    high: float,
    value: Callable[[float], float],
    x: Callable[[float], float],
    y: Callable[[float], float],
) -> str:
    """A curve through STEPS points from `low` to `high`; drawn values are
    kept within a few plot heights, where the clip hides them anyway."""
    points = []
    for step in range(STEPS + 1):
        n = low + (high - low) * step / STEPS
        try:
            drawn = y(value(n))
        except OverflowError:
            drawn = -10 * HEIGHT
        points.append(f"{x(n):.1f},{max(-10 * HEIGHT, min(10 * HEIGHT, drawn)):.1f}")
    return " ".join(points)
