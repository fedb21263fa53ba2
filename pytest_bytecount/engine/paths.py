"""Call paths: the tree of counted frames a span ran, and how many
instructions ran in each node's own frames.

A node is a code object reached by one path of counted calls from the root
(the frames running when the span opened come first, outermost first).
Frames of excluded code are no nodes: code they call hangs under the nearest
counted caller. The cores keep the current node as the span runs: a frame
starting or resuming (a call, a generator's next, a throw) enters a child of
it; a frame returning or yielding leaves it for its parent; the frames an
exception leaves are found missing from the stack at the next event (see
_pycore.py). An instruction (or a block, at its leader, less what an
exception skipped of it) counts for the current node, whose code must be
the instruction's: if it is not, an event was missed and the paths are
dropped (`lost`), never guessed. The counts per code object do not depend on
paths.

Cores hand the tree over as `Path`s, one per node in order of creation (a
parent before its children), the root first.
"""

from __future__ import annotations

from types import CodeType
from typing import Any

#: One node: its code (None for the root), its parent's index (-1 for the
#: root) and the instructions run in its own frames.
Path = tuple["CodeType | None", int, int]

#: A node while the span runs, a list for speed in the Python cores:
#: [code, parent node, own instructions, {id(code): child}, index].
Node = list[Any]
CODE, PARENT, OWN, CHILDREN, INDEX = range(5)


class CallTree:
    """The nodes of one span, grown by the Python cores."""

    __slots__ = ("lost", "nodes", "root")

    def __init__(self) -> None:
        self.root: Node = [None, None, 0, {}, 0]
        self.nodes: list[Node] = [self.root]
        # Why the paths were dropped, or None.
        self.lost: str | None = None

    def child(self, node: Node, code: CodeType) -> Node:
        """The node for `code` called from `node`, made on first use."""
        found: Node | None = node[CHILDREN].get(id(code))
        if found is None:
            found = [code, node, 0, {}, len(self.nodes)]
            node[CHILDREN][id(code)] = found
            self.nodes.append(found)
        return found

    def lose(self, why: str) -> None:
        if self.lost is None:
            self.lost = why

    def paths(self) -> list[Path]:
        return [
            (node[CODE], node[PARENT][INDEX] if node[PARENT] is not None else -1, node[OWN])
            for node in self.nodes
        ]


def lost_at(event: str, code: CodeType) -> str:
    """Why the paths were dropped: an event of `code` that is not the current
    node's (an event missed or out of order)."""
    name = getattr(code, "co_qualname", code.co_name)
    return f"the call path was lost at {event} of {name} ({code.co_filename}:{code.co_firstlineno})"
