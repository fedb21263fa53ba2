"""The JSON report (SPEC §6), the terminal summary (§7) and the JUnit property."""

from __future__ import annotations

import json
import os
import stat
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from helpers import TAG, TESTS_DIR, counts_by_name, functions_by_test, read_report

import pytest_bytecount
from pytest_bytecount.measurement import FunctionCount
from pytest_bytecount.records import TestRecord
from pytest_bytecount.report import build_report, json_text, write_json
from pytest_bytecount.report_loader import load_report
from pytest_bytecount.verdict import Status

SUITE = """
import pytest

def work(n):
    return sum(i * i for i in range(n))

@pytest.mark.max_instructions(100_000)
def test_within():
    work(10)

@pytest.mark.max_instructions(10)
def test_over():
    work(100)

def test_plain():
    work(5)

def test_fixture(bytecount):
    bytecount(work, 5)

def test_fails():
    assert work(3) == 0

@pytest.mark.skip(reason="never runs")
@pytest.mark.max_instructions(10)
def test_skipped():
    pass
"""


def test_the_report_has_every_key_of_schema_1(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    path = pytester.path / "out" / "bytecount.json"
    result = pytester.runpytest("--bytecount", f"--bytecount-report={path}")
    result.assert_outcomes(passed=3, failed=2, skipped=1)
    report = read_report(path)
    assert report["schema"] == "pytest-bytecount/1"
    assert report["plugin_version"] == pytest_bytecount.__version__
    assert report["interpreter"] == {
        "tag": TAG,
        "version": ".".join(map(str, sys.version_info[:3])),
    }
    assert report["tolerance"] == 0.0
    assert report["hash_seed"] == "0"  # conftest: inner runs start with PYTHONHASHSEED=0
    assert report["stale"] == []
    assert report["budgets_seen"] == []
    nodeids = [test["nodeid"] for test in report["tests"]]
    assert nodeids == sorted(nodeids)
    tests = {test["nodeid"].split("::")[1]: test for test in report["tests"]}
    assert set(tests) == {"test_within", "test_over", "test_plain", "test_fixture", "test_fails"}
    # Over its budget, and only that: recording budgets from the report takes it.
    assert tests["test_over"].pop("failed_by_budget") is True
    for test in tests.values():
        assert set(test) == {
            "nodeid",
            "instructions",
            "limit",
            "budget_source",
            "status",
            "outcome",
            "top_functions",
            "top_lines",
            "function_counts",
            "unstable",
        }
        assert test["unstable"] is None
        assert test["instructions"] > 0
        for function in test["top_functions"]:
            assert set(function) == {"function", "file", "line", "instructions"}
    assert tests["test_within"] | {"top_functions": None} == {
        "nodeid": "test_suite.py::test_within",
        "instructions": tests["test_within"]["instructions"],
        "limit": 100_000,
        "budget_source": "marker",
        "status": "ok",
        "outcome": "passed",
        "top_functions": None,
        "top_lines": tests["test_within"]["top_lines"],
        "function_counts": tests["test_within"]["function_counts"],
        "unstable": None,
    }
    assert (tests["test_over"]["status"], tests["test_over"]["outcome"]) == ("over", "failed")
    assert (tests["test_plain"]["status"], tests["test_plain"]["limit"]) == ("new", None)
    assert tests["test_plain"]["budget_source"] is None
    assert tests["test_fails"]["outcome"] == "failed"
    assert "work" in {f["function"] for f in tests["test_fixture"]["top_functions"]}
    assert tests["test_over"]["top_functions"][0]["file"] == "test_suite.py"
    # Every function that ran, named once in the report's table, by file and line.
    table = report["functions"]
    assert table == sorted(table, key=lambda row: (row[1], row[2], row[0]))
    assert len({tuple(row) for row in table}) == len(table)
    functions = functions_by_test(report)
    for test in tests.values():
        named = functions[test["nodeid"]]
        assert sum(f["instructions"] for f in named) == test["instructions"]
        assert named[: len(test["top_functions"])] == test["top_functions"]
    assert report["totals"] == {
        "measured": 5,
        "over": 1,
        "improved": 0,
        "new": 3,
        "ok": 1,
        "regressed": 0,
        "instructions": sum(test["instructions"] for test in tests.values()),
    }


def test_the_ini_report_path_is_relative_to_the_ini_file(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nbytecount_report = reports/bc.json\n")
    pytester.makepyfile(test_suite=SUITE)
    sub = pytester.mkdir("elsewhere")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(sub)
        pytester.runpytest(str(pytester.path)).assert_outcomes(passed=3, failed=2, skipped=1)
    assert read_report(pytester.path / "reports" / "bc.json")["totals"]["measured"] == 3


def test_the_report_gets_the_mode_of_any_new_file(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    mask = os.umask(0o022)
    try:
        pytester.runpytest("--bytecount-report=r.json")
    finally:
        os.umask(mask)
    assert stat.S_IMODE((pytester.path / "r.json").stat().st_mode) == 0o644


def test_an_unwritable_report_path_is_a_clear_error_not_a_traceback(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile("def test_x(bytecount): bytecount(len, 'x')")
    blocker = pytester.path / "blocker"
    blocker.write_text("a file, not a directory")
    result = pytester.runpytest(f"--bytecount-report={blocker}/r.json")
    result.stdout.fnmatch_lines(["ERROR: --bytecount-report: cannot write */blocker/r.json: *"])
    result.stdout.no_fnmatch_line("*Traceback*")
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_the_summary_lists_problems_then_new_tests_in_pytest_style(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest("--bytecount")
    result.stdout.fnmatch_lines(
        [
            f"*- bytecount ({TAG}) -*",
            "5 measured · 1 over budget · 3 without budget",
            "OVER      test_suite.py::test_over  * > 10  +*%  (marker)",
            "NEW       test_suite.py::test_plain  *",
            "NEW       test_suite.py::test_fixture  *",
            "NEW       test_suite.py::test_fails  *",
        ]
    )
    result.stdout.no_fnmatch_line("OK  *test_within*")


def test_verbose_adds_every_measured_test_and_quiet_keeps_only_problems(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_suite=SUITE)
    verbose = pytester.runpytest("--bytecount", "-v")
    verbose.stdout.fnmatch_lines(
        [
            "OVER      test_suite.py::test_over *",
            "OK        test_suite.py::test_within  * < 100,000  (marker)",
        ]
    )
    quiet = pytester.runpytest("--bytecount", "-q")
    quiet.stdout.fnmatch_lines(
        ["5 measured · 1 over budget · 3 without budget", "OVER *test_over*"]
    )
    quiet.stdout.no_fnmatch_line("NEW *")
    quiet.stdout.no_fnmatch_line("OK *")


def test_counts_use_thousands_separators(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_big():
            t = 0
            for i in range(1000):
                t += i
        """
    )
    pytester.runpytest("--bytecount").stdout.fnmatch_lines(
        ["NEW       *::test_big  * [0-9],[0-9][0-9][0-9]"]
    )


def test_no_summary_when_nothing_was_measured(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain(): pass")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*bytecount (*")


def test_the_count_is_a_junit_xml_property(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    xml = pytester.path / "junit.xml"
    report = pytester.path / "r.json"
    pytester.runpytest("--bytecount", f"--junitxml={xml}", f"--bytecount-report={report}")
    expected = counts_by_name(report)
    found = {}
    for case in ET.parse(xml).getroot().iter("testcase"):
        for prop in case.iter("property"):
            if prop.get("name") == "bytecount_instructions":
                found[case.get("name")] = int(prop.get("value", ""))
    assert found == expected


def test_the_report_validates_against_the_published_json_schema(
    pytester: pytest.Pytester,
) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((TESTS_DIR.parent / "docs" / "report.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    pytester.makepyfile(test_suite=SUITE)
    pytester.runpytest("--bytecount", "--bytecount-report=base.json")
    pytester.makepyfile(test_suite=SUITE.replace("work(5)", "work(50)"))
    pytester.runpytest(
        "--bytecount", "--bytecount-compare=base.json", "--bytecount-report=new.json"
    )
    for name in ("base.json", "new.json"):
        report = read_report(pytester.path / name)
        jsonschema.validate(report, schema)
    statuses = {t["status"] for t in read_report(pytester.path / "new.json")["tests"]}
    assert {"ok", "over", "new", "regressed"} <= statuses


def record_of(nodeid: str, *functions: FunctionCount, **fields: Any) -> TestRecord:
    instructions = sum(f.instructions for f in functions)
    return TestRecord(
        nodeid, instructions, None, Status.NEW, "passed", functions=functions, **fields
    )


PARSE = ("parse", "src/p.py", 3)
LEX = ("lex", "src/l.py", 1)
LAMBDA = ("parse.<locals>.<lambda>", "src/p.py", 5)


def test_every_function_of_every_test_is_written_and_read_back(tmp_path: Path) -> None:
    records = [
        record_of("t.py::test_b", FunctionCount(*PARSE, 70), FunctionCount(*LEX, 30)),
        # Two code objects of one function (a module imported twice) stay two.
        record_of("t.py::test_a", FunctionCount(*LAMBDA, 9), FunctionCount(*LAMBDA, 2)),
        record_of("t.py::test_c"),  # ran nothing that is counted
    ]
    report = build_report(records, plugin_version="1", hash_seed="0")
    # Each function once, by file and line; each test refers to it by index.
    assert report["functions"] == [list(LEX), list(PARSE), list(LAMBDA)]
    tests = {test["nodeid"]: test for test in report["tests"]}
    assert tests["t.py::test_b"]["function_counts"] == [1, 70, 0, 30]
    assert tests["t.py::test_a"]["function_counts"] == [2, 9, 2, 2]
    assert tests["t.py::test_c"]["function_counts"] == []
    assert all("functions" not in test for test in report["tests"])
    path = tmp_path / "r.json"
    write_json(path, report)
    loaded = load_report(path)
    assert loaded.records == tuple(sorted(records, key=lambda r: r.nodeid))
    assert all(record.functions_complete for record in loaded.records)
    # Written again from what was read, the same file.
    again = tmp_path / "again.json"
    write_json(again, build_report(loaded.records, plugin_version="1", hash_seed="0"))
    assert again.read_text() == path.read_text()


def test_counts_and_table_rows_take_a_line_each_and_node_ids_one_a_line() -> None:
    records = [record_of("t.py::test_b", FunctionCount(*PARSE, 70), FunctionCount(*LEX, 30))]
    report = build_report(records, plugin_version="1", stale=["t.py::x", "t.py::y"])
    text = json_text(report)
    assert json.loads(text) == report
    lines = text.splitlines()
    assert '      "function_counts": [1, 70, 0, 30]' in lines
    assert '    ["lex", "src/l.py", 1],' in lines
    assert '    ["parse", "src/p.py", 3]' in lines
    assert lines[lines.index('  "stale": [') + 1] == '    "t.py::x",'
    # Everything else as json.dumps(indent=2) writes it.
    del report["functions"], report["tests"][0]["function_counts"]
    assert json_text(report) == json.dumps(report, indent=2) + "\n"


def old_report(tmp_path: Path, *functions: FunctionCount, instructions: int) -> Path:
    """A report of an earlier version: each entry lists some functions by name."""
    record = TestRecord("t.py::test_a", instructions, None, Status.NEW, "passed")
    entry = record.to_json() | {
        "functions": [
            {"function": f.function, "file": f.file, "line": f.line}
            | {"instructions": f.instructions}
            for f in functions
        ]
    }
    report = build_report([], plugin_version="0", hash_seed="0")
    del report["functions"]
    report["tests"] = [entry]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(report, indent=2))
    return path


def test_a_report_that_kept_only_the_biggest_functions_is_read_as_such(tmp_path: Path) -> None:
    path = old_report(
        tmp_path, FunctionCount(*PARSE, 600), FunctionCount(*LEX, 300), instructions=1_000
    )
    loaded = load_report(path)
    (record,) = loaded.records
    assert record.functions == (FunctionCount(*PARSE, 600), FunctionCount(*LEX, 300))
    assert not record.functions_complete
    assert loaded.functions == {}  # none that names every function
    now = [FunctionCount(*PARSE, 600), FunctionCount(*LEX, 300), FunctionCount(*LAMBDA, 125)]
    (change,) = loaded.function_changes("t.py::test_a", now)
    # Not "+125 parse.<locals>.<lambda>, new": what it ran then is unknown.
    assert (change.unlisted, change.before, change.after) == (True, 100, 125)
    assert loaded.function_changes("t.py::test_other", now) == ()


def test_a_report_that_happened_to_keep_every_function_is_complete(tmp_path: Path) -> None:
    path = old_report(
        tmp_path, FunctionCount(*PARSE, 600), FunctionCount(*LEX, 300), instructions=900
    )
    loaded = load_report(path)
    assert loaded.records[0].functions_complete
    now = [FunctionCount(*PARSE, 600), FunctionCount(*LEX, 300), FunctionCount(*LAMBDA, 125)]
    (change,) = loaded.function_changes("t.py::test_a", now)
    assert (change.function, change.before, change.after) == (LAMBDA[0], 0, 125)
