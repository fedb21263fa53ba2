"""The hot path's two implementations, one interface, and which one runs.

`_pycore.PythonCore` always works. `_ccore.Core` is its compiled twin, built
at install time where a compiler is present; it counts the same, faster.
`PYTEST_BYTECOUNT_CORE=c` or `=python` forces one.
"""

from __future__ import annotations

from collections.abc import Callable
from types import CodeType
from typing import Protocol

from ._pycore import Result


class Core(Protocol):
    """The counters and per-event callbacks of one span (see `_pycore`)."""

    problem: str | None

    def __init__(
        self,
        thread: int,
        all_threads: bool,
        discover: Callable[[CodeType, object], None],
        disable: object,
    ) -> None: ...

    def add(self, code: CodeType, block_lengths: list[int] | None, /) -> None: ...
    def ignore(self, code: CodeType, /) -> None: ...
    def start(self, code: CodeType, offset: int, /) -> object: ...
    def resume(self, code: CodeType, offset: int, /) -> object: ...
    def instruction(self, code: CodeType, offset: int, /) -> object: ...
    def raise_(self, code: CodeType, offset: int, exception: BaseException, /) -> object: ...
    def reraise(self, code: CodeType, offset: int, exception: BaseException, /) -> object: ...
    def results(self) -> dict[int, Result]: ...
