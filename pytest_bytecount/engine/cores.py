"""The hot path's two implementations, one interface, and which one runs.

`_pycore.PythonCore` always works. `_ccore.Core` is its compiled twin, built
at install time where a compiler is present; it counts the same, faster.
`PYTEST_BYTECOUNT_CORE=c` or `=python` forces one.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from types import CodeType, FrameType
from typing import Any, Protocol

from .paths import Path

#: What `results()` gives per code object, keyed by `id(code)`: the code, its
#: counters (per byte offset: executions, or block entries at leaders), its
#: cuts (per byte offset, counted by block only), how often it started, and
#: the offset of its first start (-1 if it did not start).
Result = tuple[CodeType, list[int], "list[int] | None", int, int]


class Counters(Protocol):
    """What every core has: counters of the code objects the lifecycle adds,
    for one span on one thread (see `_pycore`), and with `stacks` the call
    tree (see `paths.py`), whose root path the lifecycle gives: the frames
    already running when the span opens, outermost first, and the frame above
    them."""

    problem: str | None

    def add(
        self, code: CodeType, block_lengths: list[int] | None, block_rest: list[int] | None, /
    ) -> None: ...
    def ignore(self, code: CodeType, /) -> None: ...
    def open_paths(self, frames: list[FrameType], above: FrameType | None, /) -> None: ...
    def results(self) -> dict[int, Result]: ...
    def paths(self) -> tuple[list[Path], str | None] | None: ...


class Core(Counters, Protocol):
    """The `sys.monitoring` core (3.12+): the per-event callbacks. `watch`
    hears of the code other threads start or resume (see `unstable.py`)."""

    def __init__(
        self,
        thread: int,
        all_threads: bool,
        discover: Callable[[CodeType, object], None],
        disable: object,
        watch: Callable[[CodeType, object], bool],
        stacks: bool,
    ) -> None: ...

    def begin(self) -> None: ...
    def start(self, code: CodeType, offset: int, /) -> object: ...
    def resume(self, code: CodeType, offset: int, /) -> object: ...
    def instruction(self, code: CodeType, offset: int, /) -> object: ...
    def raise_(self, code: CodeType, offset: int, exception: BaseException, /) -> object: ...
    def reraise(self, code: CodeType, offset: int, exception: BaseException, /) -> object: ...
    def leave(self, code: CodeType, offset: int, value: object, /) -> object: ...
    def throw(self, code: CodeType, offset: int, exception: BaseException, /) -> object: ...


class TraceCore(Counters, Protocol):
    """The compiled core on 3.10 and 3.11: a chained C trace function."""

    def __init__(
        self,
        thread: int,
        all_threads: bool,
        discover: Callable[[CodeType, object], None],
        disable: object,
        stacks: bool,
    ) -> None: ...

    previous_is_python: bool

    def install(self) -> None: ...
    def uninstall(self) -> bool: ...


#: Forces a core: `c` or `python`. Unset or empty: the compiled one where it
#: imports, else Python.
VARIABLE = "PYTEST_BYTECOUNT_CORE"


def compiled_core() -> tuple[type[Any] | None, str]:
    """The compiled core, or None and why it cannot be used here."""
    try:
        from ._ccore import Core as CompiledCore
    except ImportError as exc:
        return None, f"the compiled core was not built for this interpreter ({exc})"
    return CompiledCore, ""


def choose_core(value: str | None = None) -> str:
    """`"c"` or `"python"`: the core to count with, as `PYTEST_BYTECOUNT_CORE`
    (or `value`) asks; a `ValueError` naming the variable if it cannot be had."""
    if value is None:
        value = os.environ.get(VARIABLE, "")
    if value not in ("", "c", "python"):
        raise ValueError(f"{VARIABLE}={value!r}: expected 'c' or 'python'")
    if value == "python":
        return "python"
    compiled, why_not = compiled_core()
    if compiled is not None:
        return "c"
    if value == "c":
        raise ValueError(f"{VARIABLE}=c: {why_not}")
    return "python"
