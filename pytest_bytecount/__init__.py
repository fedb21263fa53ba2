"""pytest-bytecount: count the bytecode instructions a test executes."""

from __future__ import annotations

from .counting import measure
from .engine import CountingFailed, CountingUnavailable
from .measurement import FunctionCount, Measurement

__version__ = "0.1.0"

__all__ = [
    "CountingFailed",
    "CountingUnavailable",
    "FunctionCount",
    "Measurement",
    "__version__",
    "measure",
]
