"""Flame graphs as inline SVG (pure): a test's call paths, icicle-style,
widths in proportion to instructions; and its differential flame graph,
the same drawn coloured by how each frame changed since a baseline's call
paths (red grew, blue shrank, a frame the baseline did not have outlined).
The page's script zooms either on a click.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from html import escape
from typing import Final

from ..stack_diff import TOP_STACKS, parse_folded, totals_by_path

#: The flame graph's coordinates: the page scales it to its width.
WIDTH: Final = 1200
ROW: Final = 18
#: Frames narrower than this (in WIDTH units) are left out: unreadable, and
#: a large suite's page would grow with them.
NARROWEST: Final = 0.5
#: Rough width of a character of the labels, to cut them to their frame.
CHAR: Final = 7.5

#: What a differential graph says of a call path a cut baseline did not keep.
UNKNOWN: Final = "not among the baseline's kept call paths: new, or too small for it to keep"

#: How a frame is drawn: its fill, a class of its own (or ""), and a line
#: for its tooltip (or "").
Paint = tuple[str, str, str]


@dataclass
class _Frame:
    name: str
    total: int = 0
    own: int = 0
    children: dict[str, _Frame] = field(default_factory=dict)


def tree_of(stacks: Mapping[str, int]) -> _Frame:
    """The call tree of folded stacks, under a root named `all`."""
    root = _Frame("all")
    for stack, n in stacks.items():
        node = root
        node.total += n
        for name in stack.split(";"):
            node = node.children.setdefault(name, _Frame(name))
            node.total += n
        node.own += n
    return root


def flame_graph(folded: str, *, title: str) -> str:
    """An icicle-style flame graph as inline SVG: the root on top, callees
    below, widths in proportion to instructions; a colour per function."""
    return _svg(tree_of(parse_folded(folded)), title, lambda _, node: (_colour(node.name), "", ""))


def differential_flame_graph(new: Mapping[str, int], old: Mapping[str, int], *, title: str) -> str:
    """The flame graph of `new` (folded stacks, bounded) coloured by each
    frame's change against `old` (bounded the same way): the frame at the
    same call path, with its callees. Red grew and blue shrank, deeper the
    more (against the largest change); grey did not change; a frame `old`
    does not have is outlined, and left grey where `old` was cut: it may
    have run then too, too little to be kept. Own counts are not shown:
    bounding gave callers the instructions of the call paths it left out."""
    cut = len(old) >= TOP_STACKS
    before = totals_by_path(old)
    before[""] = sum(old.values())
    root = tree_of(new)
    changes = [
        abs(total - before.get(path, 0))
        for path, total in totals_by_path(new).items()
        if path in before or not cut
    ]
    largest = max([*changes, abs(root.total - before[""]), 1])

    def paint(path: str, node: _Frame) -> Paint:
        was = before.get(path)
        if was is None and cut:
            return "hsl(0, 0%, 93%)", "new", UNKNOWN
        change = node.total - (was or 0)
        depth = 35 * abs(change) / largest  # light to mid: labels stay readable
        if change > 0:
            fill = f"hsl(0, 85%, {90 - depth:.0f}%)"
        elif change < 0:
            fill = f"hsl(215, 85%, {90 - depth:.0f}%)"
        else:
            fill = "hsl(0, 0%, 86%)"
        if was is None:
            return fill, "new", "new since the baseline"
        kind = "grew" if change > 0 else "shrank" if change < 0 else "same"
        share = f" ({100 * change / was:+.1f}%)" if was else ""
        return fill, kind, f"{change:+,}{share} since the baseline's {was:,}"

    return _svg(root, title, paint, own=False)


def _svg(
    root: _Frame, title: str, paint: Callable[[str, _Frame], Paint], *, own: bool = True
) -> str:
    if not root.total:
        return '<p class="muted">No instructions were counted.</p>'
    frames: list[str] = []
    depth = _place(root, "", 0.0, 0, root.total, frames, paint, own)
    height = (depth + 1) * ROW
    return (
        f'<svg class="flame" viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
        + "".join(frames)
        + "</svg>"
    )


def _place(
    node: _Frame,
    path: str,
    x: float,
    depth: int,
    total: int,
    out: list[str],
    paint: Callable[[str, _Frame], Paint],
    own: bool,
) -> int:
    """Draw `node`, at call path `path`, at `x` (a fraction of the width)
    and its children below; the deepest row drawn. `own`: say how many
    instructions ran in its own frames."""
    w = node.total / total
    share = 100 * node.total / total
    fill, kind, note = paint(path, node)
    tip = f"{node.name}\n{node.total:,} instructions ({share:.2f}%)"
    if own:
        tip += f", {node.own:,} in its own frames"
    if note:
        tip += f"\n{note}"
    px, pw = x * WIDTH, w * WIDTH
    out.append(
        f'<g class="f{" " + kind if kind else ""}" data-x="{x:.9f}" data-w="{w:.9f}" '
        f'data-n="{escape(node.name)}">'
        f"<title>{escape(tip)}</title>"
        f'<rect x="{px:.2f}" y="{depth * ROW}" width="{pw:.2f}" height="{ROW - 1}" '
        f'rx="2" fill="{fill}"/>'
        f'<text x="{px + 3:.2f}" y="{depth * ROW + 13}">{escape(_fit(node.name, pw))}</text></g>'
    )
    deepest = depth
    at = x
    for child in sorted(node.children.values(), key=lambda c: c.name):
        if child.total / total * WIDTH >= NARROWEST:
            below = f"{path};{child.name}" if path else child.name
            deepest = max(deepest, _place(child, below, at, depth + 1, total, out, paint, own))
        at += child.total / total
    return deepest


def _fit(label: str, width: float) -> str:
    room = int((width - 6) / CHAR)
    if room < 3:
        return ""
    return label if len(label) <= room else label[: room - 1] + "…"


def _colour(name: str) -> str:
    """A warm colour of its own for each function, the same every run."""
    h = zlib.crc32(name.split(" (")[0].encode("utf-8"))
    return f"hsl({h % 55}, {60 + h // 55 % 30}%, {55 + h // 1650 % 15}%)"
