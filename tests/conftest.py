"""Shared helpers for the suite. Behaviour is tested through `pytester`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_bytecount.engine import choose_core

TESTS_DIR = Path(__file__).parent
TAG = sys.implementation.cache_tag

#: Options of every inner pytester run: a fixed order, and pytest-asyncio's
#: loop scope set so that it does not warn about the default changing.
INNER_ADDOPTS = "-p no:randomly -o asyncio_default_fixture_loop_scope=function"

#: Python 3.12+ counts with sys.monitoring; older versions with settrace.
MONITORING = sys.version_info >= (3, 12)

#: The core the inner runs count with too (they inherit PYTEST_BYTECOUNT_CORE).
CORE = choose_core()

#: On 3.10/3.11 the Python core is a Python trace function, which CPython
#: drops at the recursion limit and runs finalizers past (see compatibility.rst);
#: the compiled core's C trace function has neither limit.
PYTHON_TRACER = not MONITORING and CORE == "python"


@pytest.fixture(autouse=True)
def no_bytecode_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests rewrite modules within the same second; a cached .pyc of the old
    source with the same size and mtime would be imported instead."""
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")


@pytest.fixture(autouse=True)
def inner_runs_keep_their_order(request: pytest.FixtureRequest) -> None:
    """pytest-randomly is installed for the compatibility tests, which turn it
    on themselves; other inner runs keep their order (pytester clears
    PYTEST_ADDOPTS, so it is set again here, after pytester's set-up)."""
    if "pytester" in request.fixturenames:
        request.getfixturevalue("pytester")
        monkeypatch = request.getfixturevalue("monkeypatch")
        monkeypatch.setenv("PYTEST_ADDOPTS", INNER_ADDOPTS)


@pytest.fixture(autouse=True)
def inner_runs_have_a_fixed_hash_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    """As the docs recommend for CI: subprocess runs get PYTHONHASHSEED=0, and
    in-process runs, which share this interpreter's seed, are told it is 0,
    so that no header line or warning about it depends on how the suite was
    started. Tests of the hash seed set the variable themselves."""
    monkeypatch.setenv("PYTHONHASHSEED", "0")
    monkeypatch.setattr("pytest_bytecount.determinism.hash_seed", lambda: "0")


@pytest.fixture
def with_corpus(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester whose tests can import `corpus` and `oracle`."""
    for name in ("corpus.py", "oracle.py"):
        pytester.makepyfile(**{name[:-3]: (TESTS_DIR / name).read_text()})
    pytester.syspathinsert()
    return pytester


def read_report(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def functions_by_test(report: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Node id to every function that ran in the test, highest own count
    first, each `{function, file, line, instructions}`: read through the
    report's table of functions."""
    table = report["functions"]
    return {
        test["nodeid"]: [
            dict(zip(("function", "file", "line"), table[index], strict=True))
            | {"instructions": count}
            for index, count in zip(
                test["function_counts"][::2], test["function_counts"][1::2], strict=True
            )
        ]
        for test in report["tests"]
    }


def counts(report: dict[str, Any]) -> dict[str, int]:
    return {test["nodeid"]: test["instructions"] for test in report["tests"]}


def counts_beside_threads(
    pytester: pytest.Pytester, source: str, *, passed: int, ini: str = "", subprocess: bool = False
) -> dict[str, int]:
    """Run `source` with threading's own code excluded (its start/join code
    waits on locks, so how much of it runs depends on timing) and return the
    counts by test name."""
    pytester.makeini(f"[pytest]\nbytecount_exclude = threading\n{ini}")
    pytester.makepyfile(test_threads=source)
    report = pytester.path / "r.json"
    run = pytester.runpytest_subprocess if subprocess else pytester.runpytest
    run("-p", "no:cacheprovider", f"--bytecount-report={report}").assert_outcomes(passed=passed)
    return counts_by_name(report)


def counts_by_name(report: Path) -> dict[str, int]:
    """The counts in a report file, by test name (the node id after `::`)."""
    return {
        test["nodeid"].split("::")[1]: test["instructions"] for test in read_report(report)["tests"]
    }
