"""Counting engines: one module per interpreter mechanism, no pytest import."""

from __future__ import annotations

import sys

from .base import CountingFailed, CountingUnavailable, Engine, ModuleFilter
from .cores import VARIABLE as CORE_VARIABLE
from .cores import choose_core, compiled_core
from .hits import Hits

__all__ = [
    "CORE_VARIABLE",
    "CountingFailed",
    "CountingUnavailable",
    "Engine",
    "Hits",
    "ModuleFilter",
    "choose_core",
    "create_engine",
]


def create_engine() -> Engine:
    """The engine for the running interpreter, or `CountingUnavailable`."""
    implementation = sys.implementation.name
    version = sys.version_info[:2]
    if implementation != "cpython":
        raise CountingUnavailable(
            f"{implementation} is not supported: instruction counting needs CPython"
        )
    if version < (3, 10):
        raise CountingUnavailable(f"CPython {version[0]}.{version[1]} is not supported (3.10+)")
    try:
        core = choose_core()
    except ValueError as exc:
        raise CountingUnavailable(str(exc)) from None
    compiled = compiled_core()[0] if core == "c" else None
    if version >= (3, 12):
        from ._pycore import PythonCore
        from .monitoring import MonitoringEngine

        engine: Engine = MonitoringEngine(compiled or PythonCore)
    else:
        from .settrace import SettraceEngine

        engine = SettraceEngine(compiled)
    engine.core = core
    return engine
