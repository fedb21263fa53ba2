"""Plain helpers and constants for the suite's test modules, which import
them by name (`from helpers import ...`): the interpreter and core the suite
runs on, and readers of the JSON reports inner runs write. Fixtures and hooks
are in conftest.py; inline test files that several modules write are in
suites.py. Behaviour is tested through `pytester`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_bytecount.engine import choose_core

#: The standard library reads TOML from 3.11; tomli is the same parser before.
if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

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


# -- runs and budgets of the test_compat_* modules' inner suites ----------------


def run(
    pytester: pytest.Pytester,
    *args: str,
    report: str = "r.json",
    subprocess: bool = False,
    **outcomes: int,
) -> tuple[pytest.RunResult, dict[str, Any]]:
    """Run the inner suite with a JSON report; check its outcomes."""
    path = pytester.path / report
    runner = pytester.runpytest_subprocess if subprocess else pytester.runpytest
    result = runner(*args, f"--bytecount-report={path}")
    if outcomes:
        result.assert_outcomes(**outcomes)
    return result, read_report(path)


def budgets(pytester: pytest.Pytester) -> dict[str, int]:
    table: dict[str, int] = tomllib.loads((pytester.path / "bytecount.toml").read_text())[TAG]
    return table


def lower_budgets(pytester: pytest.Pytester) -> None:
    """Rewrite the budgets file with every budget one instruction lower."""
    lines = [f'["{TAG}"]'] + [
        f"{json.dumps(nodeid)} = {budget - 1}" for nodeid, budget in budgets(pytester).items()
    ]
    (pytester.path / "bytecount.toml").write_text("\n".join(lines) + "\n")


def by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The report's tests by node id without the file part."""
    return {test["nodeid"].split("::", 1)[1]: test for test in report["tests"]}


def assert_budgets_met(report: dict[str, Any], names: set[str]) -> None:
    """The tests `names` were measured against a recorded budget, exactly."""
    tests = by_name(report)
    for name in names:
        assert tests[name]["budget_source"] == "file", name
        assert tests[name]["status"] == "ok", name
        assert tests[name]["instructions"] == tests[name]["limit"], name


def assert_budgets_exceeded_by_one(report: dict[str, Any], names: set[str]) -> None:
    """After `lower_budgets`: the tests `names` counted exactly as when their
    budgets were recorded, and failed by one instruction."""
    tests = by_name(report)
    for name in names:
        assert tests[name]["budget_source"] == "file", name
        assert (tests[name]["status"], tests[name]["outcome"]) == ("over", "failed"), name
        assert tests[name]["instructions"] == tests[name]["limit"] + 1, name
