"""Where a measurement's instructions went, by call path: folded stacks, the
hottest paths, and each function's total with its callees (pure, no pytest).

Worked out after the span from the call tree the engine recorded
(`engine/paths.py`): nodes in order of creation, each with its code, its
parent's index and the instructions run in its own frames.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from types import CodeType

from .engine.paths import Path

#: A function as `FunctionCount` names it: qualified name, file, first line.
FunctionKey = tuple[str, str, int]


def function_key(code: CodeType) -> FunctionKey:
    return (getattr(code, "co_qualname", code.co_name), code.co_filename, code.co_firstlineno)


def relative_file(file: str, root: str | None = None) -> str:
    """`file` relative to `root` (else the current directory) when under it."""
    try:
        relative = os.path.relpath(file, root)
    except ValueError:  # another drive on Windows
        return file
    return file if relative.startswith(os.pardir) else relative


def frame_label(code: CodeType, root: str | None = None) -> str:
    """`qualname (file:line)`, a frame of a folded stack."""
    name, file, line = function_key(code)
    return f"{name} ({relative_file(file, root)}:{line})"


def stacks(paths: Sequence[Path], root: str | None = None) -> dict[str, int]:
    """Folded stack (`frame;frame;frame`, outermost first) to the
    instructions run with it innermost, sorted by stack; nodes that ran
    nothing of their own are left out, and equal stacks are added up."""
    labels: list[str] = [""] * len(paths)
    by_code: dict[int, str] = {}
    folded: dict[str, int] = {}
    for index, (code, parent, own) in enumerate(paths):
        if code is None:  # the root: no frame
            continue
        label = by_code.get(id(code))
        if label is None:
            label = by_code[id(code)] = frame_label(code, root).replace(";", ":")
        labels[index] = f"{labels[parent]};{label}" if labels[parent] else label
        if own:
            folded[labels[index]] = folded.get(labels[index], 0) + own
    return dict(sorted(folded.items()))


def folded_text(paths: Sequence[Path], root: str | None = None) -> str:
    """The folded-stacks file format: one `stack count` line per stack."""
    return "".join(f"{stack} {count}\n" for stack, count in stacks(paths, root).items())


def hottest_stacks(
    paths: Sequence[Path], count: int, root: str | None = None
) -> list[tuple[str, int]]:
    """The `count` stacks that ran the most instructions of their own."""
    ranked = sorted(stacks(paths, root).items(), key=lambda item: (-item[1], item[0]))
    return ranked[:count]


def totals(paths: Sequence[Path]) -> dict[FunctionKey, int]:
    """Each function's instructions with its callees: every instruction run
    under at least one of its frames, counted once even under recursion."""
    keys: list[FunctionKey | None] = [None] * len(paths)
    totals: dict[FunctionKey, int] = {}
    for index, (code, _, own) in enumerate(paths):
        if code is None:
            continue
        keys[index] = function_key(code)
        if not own:
            continue
        on_path: set[FunctionKey] = set()
        node = index
        while node > 0:
            key = keys[node]
            assert key is not None, "a node's parent comes before it"
            on_path.add(key)
            node = paths[node][1]
        for key in on_path:
            totals[key] = totals.get(key, 0) + own
    return totals


def merged(trees: Sequence[Sequence[Path]]) -> list[Path]:
    """Several measurements' call trees as one (their roots joined)."""
    result: list[Path] = [(None, -1, 0)]
    for paths in trees:
        offset = len(result) - 1  # node k of this tree becomes node k + offset
        for code, parent, own in paths[1:]:
            result.append((code, parent + offset if parent > 0 else 0, own))
    return result
