"""Counting engines: one module per interpreter mechanism, no pytest import."""

from __future__ import annotations

import sys

from .base import CountingFailed, CountingUnavailable, Engine, ModuleFilter
from .hits import Hits

__all__ = [
    "CountingFailed",
    "CountingUnavailable",
    "Engine",
    "Hits",
    "ModuleFilter",
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
    if version >= (3, 12):
        from .monitoring import MonitoringEngine

        return MonitoringEngine()
    if version >= (3, 10):
        from .settrace import SettraceEngine

        return SettraceEngine()
    raise CountingUnavailable(f"CPython {version[0]}.{version[1]} is not supported (3.10+)")
