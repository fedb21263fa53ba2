"""`--bytecount-compare`: regressions against an earlier report (SPEC §5, §6)."""

from __future__ import annotations

import json

import pytest
from helpers import TAG, read_report

CODE = "def work(n):\n    return sum(range(n))\n"
SLIGHTLY_DEARER = "def work(n):\n    m = n\n    return sum(range(m))\n"
DEARER = (
    "def work(n):\n    total = 0\n    for i in range(n):\n        total += i\n    return total\n"
)
TESTS = """
from code_under_test import work

def test_work():
    work(30)

def test_other():
    work(1)
"""


@pytest.fixture
def baseline(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(code_under_test=CODE, test_suite=TESTS)
    pytester.syspathinsert()
    pytester.runpytest("--bytecount", "--bytecount-report=base.json").assert_outcomes(passed=2)
    return pytester


def test_a_count_that_grew_is_a_regression_and_the_session_fails(baseline: pytest.Pytester) -> None:
    baseline.makepyfile(code_under_test=DEARER)
    result = baseline.runpytest(
        "--bytecount", "--bytecount-compare=base.json", "--bytecount-report=new.json"
    )
    result.assert_outcomes(passed=2)  # the tests pass; the session does not
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["2 measured · 2 regressed", "REGRESSED test_suite.py::test_work  * > *  +*%  (baseline)"]
    )
    tests = {t["nodeid"]: t for t in read_report(baseline.path / "new.json")["tests"]}
    old = {t["nodeid"]: t for t in read_report(baseline.path / "base.json")["tests"]}
    work = tests["test_suite.py::test_work"]
    assert work["status"] == "regressed"
    assert work["baseline"] == old["test_suite.py::test_work"]["instructions"]
    assert work["instructions"] > work["baseline"]


def test_without_growth_the_session_passes(baseline: pytest.Pytester) -> None:
    result = baseline.runpytest("--bytecount", "--bytecount-compare=base.json")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.no_fnmatch_line("*REGRESSED*")


def test_growth_within_the_tolerance_is_not_a_regression(baseline: pytest.Pytester) -> None:
    baseline.makepyfile(code_under_test=SLIGHTLY_DEARER)
    args = ["--bytecount", "--bytecount-compare=base.json"]
    assert baseline.runpytest(*args).ret == pytest.ExitCode.TESTS_FAILED
    assert baseline.runpytest(*args, "--bytecount-tolerance=50%").ret == pytest.ExitCode.OK


def test_a_regression_fails_the_session_even_under_xdist(baseline: pytest.Pytester) -> None:
    baseline.makepyfile(code_under_test=DEARER)
    result = baseline.runpytest_subprocess(
        "--bytecount", "--bytecount-compare=base.json", "-n", "2"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["REGRESSED test_suite.py::test_work*"])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "*missing.json*"),
        ("{not json", "*not*JSON*"),
        (json.dumps({"schema": "something-else/9"}), "*schema*"),
        (
            json.dumps(
                {
                    "schema": "pytest-bytecount/1",
                    "plugin_version": "0",
                    "interpreter": {"tag": "cpython-299", "version": "2.99.0"},
                    "tolerance": 0,
                    "tests": [],
                    "stale": [],
                    "totals": {},
                }
            ),
            f"*holds counts of cpython-299, not of the running {TAG}*",
        ),
    ],
)
def test_a_missing_corrupt_or_foreign_report_is_a_usage_error(
    baseline: pytest.Pytester, content: str | None, message: str
) -> None:
    path = baseline.path / "missing.json"
    if content is not None:
        path.write_text(content)
    result = baseline.runpytest(f"--bytecount-compare={path}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: --bytecount-compare: {message}"])
    assert "Traceback" not in result.stderr.str()


def test_a_regression_from_a_zero_baseline_is_shown_without_a_percentage(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_zero="""
        def cheap():
            return 1

        def test_grows(bytecount):
            bytecount(len, "x")  # C code only: 0 instructions
        """
    )
    pytester.runpytest("--bytecount-report=base.json").assert_outcomes(passed=1)
    pytester.makepyfile(
        test_zero="""
        def cheap():
            return 1

        def test_grows(bytecount):
            bytecount(cheap)
        """
    )
    result = pytester.runpytest("--bytecount-compare=base.json")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["REGRESSED test_zero.py::test_grows  * > 0  (baseline)"])


def test_every_renderer_shows_a_tiny_change_as_a_non_zero_percentage() -> None:
    from pytest_bytecount.compare import compare
    from pytest_bytecount.records import TestRecord
    from pytest_bytecount.render import compare as compare_text
    from pytest_bytecount.render import github, html, summary
    from pytest_bytecount.render.numbers import signed_percent
    from pytest_bytecount.verdict import Limit, LimitSource, Status

    # Found on a real suite: a test of 402,009 instructions grew by 125.
    regressed = TestRecord(
        "test_a.py::test_regressed", 402_134, None, Status.REGRESSED, "passed", baseline=402_009
    )
    over = TestRecord(
        "test_a.py::test_over", 402_134, Limit(402_009, LimitSource.FILE), Status.OVER, "failed"
    )
    rows = [line.text for line in summary.render([regressed, over])]
    assert [row for row in rows if "+0.03%" in row] == rows[1:3]
    changes = compare({regressed.nodeid: 402_009}, {regressed.nodeid: 402_134})
    assert "+125  +0.03%" in compare_text.render_text(changes)
    markdown = compare_text.render_markdown(changes, old_label="a", new_label="b", tolerance=0)
    assert "| +125 | +0.03% |" in markdown
    annotations = github.annotation_lines([regressed, over], {})
    assert all(line.endswith("(+0.03%25)") for line in annotations)  # % escaped for GitHub
    page = html.render(
        [regressed], title="t", headline="h", details="d", profiles={}, explanations={}
    )
    assert ">+0.03%</td>" in page
    # One decimal as before where it shows the change; more only below 0.1%.
    assert [signed_percent(p) for p in (37.0, -2.5, 0.0, 0.05, -0.0004)] == [
        "+37.0%",
        "-2.5%",
        "+0.0%",
        "+0.05%",
        "-0.0004%",
    ]
