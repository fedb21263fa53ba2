"""Inline test files that more than one test module writes with pytester:
Python source, as strings, for the inner runs. A suite only one module writes
stays in that module."""

from __future__ import annotations

from helpers import MONITORING

#: Code under test whose count grows with `n`: a loop, instruction by
#: instruction the same on every run.
WORK = """
def work(n):
    total = 0
    for i in range(n):
        total += i
    return total
"""

#: An inner conftest that records, when pytest is done, the tracing state the
#: run left behind: no tracer, no tool id of ours.
STATE_AT_EXIT = """
import json
import sys

def pytest_unconfigure(config):
    tools = [sys.monitoring.get_tool(i) for i in range(6)] if sys.version_info >= (3, 12) else []
    with open("state-at-exit.json", "w") as f:
        json.dump({"gettrace": repr(sys.gettrace()), "tools": tools}, f)
"""

#: What STATE_AT_EXIT records when the run left the tracing state clean.
CLEAN_STATE = {"gettrace": "None", "tools": [None] * 6 if MONITORING else []}
