"""Where the instructions went, per line and per function (SPEC §8): in the
API, in an over-budget failure and in the report. (That `by_line` equals the
interpreter's own per-line events is checked in test_exactness.py.)"""

from __future__ import annotations

import inspect
import json
import os
import sys

import pytest
from helpers import functions_by_test, read_report

from pytest_bytecount import measure
from pytest_bytecount.measurement import FunctionCount


def spend(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i  # the hot line
    return total


HOT_LINE = inspect.getsource(spend).splitlines().index("        total += i * i  # the hot line")


def test_by_line_sums_to_the_count_and_puts_the_loop_body_first() -> None:
    with measure() as m:
        spend(500)
    by_line = m.by_line
    assert sum(by_line.values()) == m.instructions
    counts = list(by_line.values())
    assert counts == sorted(counts, reverse=True)
    (file, line), hottest = next(iter(by_line.items()))
    assert (file, line) == (__file__, spend.__code__.co_firstlineno + HOT_LINE)
    assert hottest % 500 == 0  # the same instructions, once per iteration
    with measure() as twice:
        spend(1000)
    assert twice.by_line[(file, line)] == 2 * hottest


def test_by_function_is_functions_with_no_total_without_call_paths() -> None:
    with measure() as m:
        spend(10)
    assert m.by_function is m.functions
    (function,) = (f for f in m.by_function if f.function == "spend")
    assert function == FunctionCount(
        "spend", __file__, spend.__code__.co_firstlineno, function.instructions, None
    )
    assert sum(f.instructions for f in m.by_function) == m.instructions


OVER = """
import pytest

def spend(n):
    total = 0
    for i in range(n):
        total += i * i  # the hot line
    return total

@pytest.mark.max_instructions(100)
def test_over():
    spend(300)

def test_plain():
    spend(5)
"""


def test_an_over_budget_failure_shows_the_hottest_lines_with_their_source(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_over=OVER)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*over the limit of 100 set by @pytest.mark.max_instructions(100)*",
            "lines that spent the most:",
            "*,*  test_over.py:6 *total += i * i  # the hot line",
            "*  test_over.py:5 *for i in range(n):",
        ]
    )


def test_the_report_keeps_the_hottest_lines_and_the_functions_that_matter(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_over=OVER)
    path = pytester.path / "r.json"
    pytester.runpytest("--bytecount", f"--bytecount-report={path}")
    tests = {t["nodeid"].split("::")[1]: t for t in read_report(path)["tests"]}
    over = tests["test_over"]
    lines = over["top_lines"]
    assert 0 < len(lines) <= 10
    assert lines[0] == {"file": "test_over.py", "line": 6, "instructions": lines[0]["instructions"]}
    assert [line["instructions"] for line in lines] == sorted(
        (line["instructions"] for line in lines), reverse=True
    )
    assert sum(line["instructions"] for line in lines) <= over["instructions"]
    functions = functions_by_test(read_report(path))[over["nodeid"]]
    assert [f["function"] for f in functions][:2] == ["spend", "test_over"]
    assert sum(f["instructions"] for f in functions) == over["instructions"]
    # Read back by the command line tool like any report.
    json.loads(path.read_text())
    result = pytester.run(sys.executable, "-m", "pytest_bytecount", "show", str(path))
    assert result.ret == 0


def test_explain_shows_the_hottest_lines_and_the_instructions_that_ran_on_them() -> None:
    with measure() as m:
        spend(1500)
    text = m.explain(lines=2)
    lines = text.splitlines()
    assert lines[0] == f"{m.instructions:,} instructions executed on {len(m.by_line)} lines; " + (
        "the 2 hottest:"
    )
    hot = next(i for i, line in enumerate(lines) if line.endswith("total += i * i  # the hot line"))
    (file, line), count = next(iter(m.by_line.items()))
    assert lines[hot].split()[:2] == [f"{count:,}", f"{os.path.relpath(file)}:{line}"]
    rows = []
    for row in lines[hot + 1 :]:
        if not row.strip():
            break
        rows.append(row.split())
    # Each instruction of the line ran once per iteration; they add up to it.
    assert all(row[0] == "1,500" for row in rows)
    assert sum(int(row[0].replace(",", "")) for row in rows) == count
    # `total` is read: LOAD_FAST, LOAD_FAST_LOAD_FAST (3.13+), ..._BORROW (3.15).
    assert any(row[1].startswith("LOAD_FAST") and "total" in " ".join(row[2:]) for row in rows)
    # Two lines shown, a blank line before each.
    assert text.count("\n\n") == 2


def test_bytecount_explain_prints_each_measured_test_after_the_run(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_over=OVER)
    for args in ([], ["-n", "2"]):
        result = pytester.runpytest("--bytecount-explain", "-k", "plain", *args)
        result.assert_outcomes(passed=1)
        result.stdout.fnmatch_lines(
            [
                "*- bytecount explain -*",
                "test_over.py::test_plain",
                "  * instructions executed on * lines; the * hottest:",
                "  *  test_over.py:6  total += i * i  # the hot line",
                "*LOAD_FAST* *total*",
            ]
        )
    result = pytester.runpytest("-k", "plain", "--bytecount")
    result.stdout.no_fnmatch_line("*bytecount explain*")


REGRESSION_V1 = """
import pytest

def parse(text):
    return [int(part) for part in text.split(",")]

def total(text):
    return sum(parse(text))

@pytest.mark.max_instructions({limit})
def test_total_over_budget():
    assert total("1,2,3,4,5,6,7,8") == 36

def test_total_regressed():
    assert total("1,2,3,4") == 10
"""

#: The same, with `parse` made dearer: it now strips every part first.
REGRESSION_V2 = REGRESSION_V1.replace(
    'return [int(part) for part in text.split(",")]',
    'parts = [part.strip() for part in text.split(",")]\n'
    "    return [int(part) for part in parts if part]",
)


def test_a_baseline_names_the_functions_whose_own_counts_changed(
    pytester: pytest.Pytester,
) -> None:
    assert REGRESSION_V2 != REGRESSION_V1
    pytester.makepyfile(test_regression=REGRESSION_V1.format(limit=100_000))
    pytester.runpytest("--bytecount", "--bytecount-report=base.json").assert_outcomes(passed=2)
    base = {t["nodeid"]: t for t in read_report(pytester.path / "base.json")["tests"]}
    over = base["test_regression.py::test_total_over_budget"]["instructions"]

    pytester.makepyfile(test_regression=REGRESSION_V2.format(limit=over))
    result = pytester.runpytest(
        "--bytecount", "--bytecount-compare=base.json", "--bytecount-report=new.json"
    )
    result.assert_outcomes(passed=1, failed=1)
    new = {t["nodeid"]: t for t in read_report(pytester.path / "new.json")["tests"]}
    # The failure of the over-budget test says what moved since the baseline
    # (on 3.10 and 3.11, mostly a new comprehension: one of parse's own code
    # objects there).
    result.stdout.fnmatch_lines(
        [
            "*over the limit of*",
            "functions whose own counts changed most since base.json:",
            "  +* * (test_regression.py:[345])*",  # in parse, or its comprehension
            "*test_regression.py::test_total_over_budget*",
        ]
    )
    # `total`, below the edit, moved down a line: still the same function,
    # with the same count.
    result.stdout.no_fnmatch_line("*[+-]* total  (test_regression.py:*")
    # The regressed test (no budget to fail) lists them under its summary row.
    result.stdout.fnmatch_lines(
        [
            "REGRESSED *test_regression.py::test_total_regressed*(baseline)",
            "  *+* * (test_regression.py:[345])*",
        ]
    )
    (change,) = [
        c
        for c in new["test_regression.py::test_total_regressed"]["function_changes"]
        if c["function"] == "parse"
    ]
    before = next(
        f["instructions"]
        for f in functions_by_test(read_report(pytester.path / "base.json"))[
            "test_regression.py::test_total_regressed"
        ]
        if f["function"] == "parse"
    )
    assert change["before"] == before
    assert change["after"] > before
    own_delta = change["after"] - change["before"]
    test_delta = (
        new["test_regression.py::test_total_regressed"]["instructions"]
        - base["test_regression.py::test_total_regressed"]["instructions"]
    )
    # parse's own count moved; its comprehension's code is a function of its own.
    assert 0 < own_delta <= test_delta


def test_function_changes_match_by_name_and_use_lines_only_for_namesakes() -> None:
    from pytest_bytecount.compare import function_changes

    before = [
        FunctionCount("parse", "p.py", 3, 50),
        FunctionCount("total", "p.py", 6, 6),
        FunctionCount("<listcomp>", "p.py", 4, 60),
    ]
    after = [
        FunctionCount("parse", "p.py", 3, 57),
        FunctionCount("total", "p.py", 7, 6),  # moved down a line: unchanged
        FunctionCount("<listcomp>", "p.py", 4, 60),
        FunctionCount("<listcomp>", "p.py", 5, 76),  # a second one: new
    ]
    changes = function_changes(before, after)
    assert [(c.function, c.line, c.before, c.after, c.delta) for c in changes] == [
        ("<listcomp>", 5, 0, 76, 76),  # did not run in the baseline
        ("parse", 3, 50, 57, 7),
    ]
    gone = function_changes(before, after[:1])  # only parse ran
    assert [(c.function, c.after, c.delta) for c in gone] == [
        ("<listcomp>", 0, -60),
        ("parse", 57, 7),
        ("total", 0, -6),
    ]


def test_a_baseline_listing_only_the_biggest_functions_says_nothing_of_the_others() -> None:
    from pytest_bytecount.compare import UNLISTED, function_changes
    from pytest_bytecount.render.failure import change_lines

    # The baseline's entry of an earlier version: its test counted 1,000
    # instructions, of which it listed the two biggest functions' 900.
    before = [FunctionCount("parse", "p.py", 3, 600), FunctionCount("lex", "l.py", 1, 300)]
    after = [
        FunctionCount("parse", "p.py", 3, 600),  # unchanged: never named
        FunctionCount("lex", "l.py", 1, 310),
        FunctionCount("genexpr", "p.py", 9, 60),  # not listed then: who knows
        FunctionCount("helper", "u.py", 2, 45),  # the one that grew, from 40
    ]
    changes = function_changes(before, after, before_total=1_000)
    assert [(c.function, c.file, c.before, c.after) for c in changes] == [
        ("lex", "l.py", 300, 310),
        (UNLISTED, "", 100, 105),  # 60 + 45 now, and what the list left of 1,000
    ]
    assert [change.unlisted for change in changes] == [False, True]
    assert change_lines(changes, indent="  ") == [
        "  +10  lex  (l.py:1)",
        "   +5  the functions the baseline does not list, together (an earlier "
        "pytest-bytecount wrote the baseline and kept only each test's biggest "
        "functions: write it again to name them)",
    ]
    # Every change together is the test's: 1,015 - 1,000.
    assert sum(change.delta or 0 for change in changes) == 15
    # A list that adds up to the test's count names every function that ran.
    complete = function_changes(before, after, before_total=900)
    assert [(c.function, c.before, c.after) for c in complete] == [
        ("genexpr", 0, 60),
        ("helper", 0, 45),
        ("lex", 300, 310),
    ]


def test_function_changes_are_said_as_new_gone_or_moved() -> None:
    from pytest_bytecount.compare import FunctionChange
    from pytest_bytecount.render.failure import change_lines

    changes = [
        FunctionChange("grew", "a.py", 1, 10, 1_210),
        FunctionChange("new", "a.py", 5, 0, 40),
        FunctionChange("gone", "a.py", 9, 30, 0),
        # In a report written by an earlier version: a function it found
        # missing from the baseline, its change unknown.
        FunctionChange("unknown", "a.py", 12, None, 7),
    ]
    assert change_lines(changes, indent="") == [
        "+1,200  grew  (a.py:1)",
        "   +40  new  (a.py:5)  (new: it did not run in the baseline)",
        "   -30  gone  (a.py:9)  (it no longer runs)",
        "     ?  unknown  (a.py:12)  (not listed in the baseline: change unknown)",
    ]


def test_two_code_objects_of_one_function_count_as_one() -> None:
    from pytest_bytecount.compare import function_changes

    # A module imported twice runs two code objects of each of its functions.
    before = [FunctionCount("f", "m.py", 1, 10)]
    after = [FunctionCount("f", "m.py", 1, 6), FunctionCount("f", "m.py", 1, 4)]
    assert function_changes(before, after) == ()
    moved = [FunctionCount("f", "m.py", 2, 6), FunctionCount("f", "m.py", 2, 4)]
    assert function_changes(before, moved) == ()  # an edit above it: still f
