"""pytest-bytecount beside other plugins: SPEC §1-§3 and §10.

Each section runs a small suite with the marker, recorded budgets and the
`bytecount` fixture under one plugin: hypothesis, pytest-randomly,
pytest-timeout, pytest-rerunfailures. Other test styles have modules of their
own: test_compat_unittest.py, test_compat_doctest.py and
test_compat_scoped_fixtures.py.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from helpers import (
    assert_budgets_exceeded_by_one,
    assert_budgets_met,
    budgets,
    by_name,
    counts,
    lower_budgets,
    run,
)
from suites import WORK

# -- hypothesis ---------------------------------------------------------------

HYPOTHESIS_TESTS = f"""
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from pytest_bytecount import measure

FIXED = settings(derandomize=True, database=None, deadline=None, max_examples=20)
{WORK}

def log(name, count):
    with open(name, "a") as stream:
        stream.write(f"{{count}}\\n")

@FIXED
@given(st.integers(0, 50))
def test_0_first(n):
    work(n)

@pytest.mark.max_instructions(100_000_000)
@FIXED
@given(st.integers(0, 50))
def test_marked(n):
    with measure() as m:  # nested in the test's span, so included in it
        work(n)
    log("marked.log", m.instructions)

@settings(FIXED, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(0, 50))
def test_fixture(bytecount, n):
    with bytecount.measure() as m:
        work(n)
    log("fixture.log", m.instructions)

@FIXED
@given(st.integers(0, 50))
def test_budgeted(n):
    work(n)
"""


def take_log(pytester: pytest.Pytester, name: str) -> list[int]:
    path = pytester.path / name
    logged = [int(line) for line in path.read_text().split()]
    path.unlink()
    return logged


def test_a_hypothesis_test_with_the_fixture_records_the_sum_over_its_examples(
    pytester: pytest.Pytester,
) -> None:
    """With the fixture, a `@given` test records the sum of the measurements
    of every example: exactly the blocks, deterministic with `derandomize`
    (or a fixed `@seed`) and `database=None`, whatever hypothesis does."""
    pytester.makepyfile(test_hyp=HYPOTHESIS_TESTS)
    pytester.runpytest_subprocess("--bytecount-update", "-k", "fixture").assert_outcomes(passed=1)
    assert list(budgets(pytester)) == ["test_hyp.py::test_fixture"]
    (pytester.path / "fixture.log").unlink()

    _, first = run(pytester, "-k", "fixture", subprocess=True, report="one.json", passed=1)
    first_log = take_log(pytester, "fixture.log")
    assert len(first_log) > 1  # one measurement per example
    assert counts(first)["test_hyp.py::test_fixture"] == sum(first_log)
    assert_budgets_met(first, {"test_fixture"})

    lower_budgets(pytester)
    _, second = run(pytester, "-k", "fixture", subprocess=True, report="two.json", failed=1)
    assert take_log(pytester, "fixture.log") == first_log
    assert counts(second) == counts(first)
    assert_budgets_exceeded_by_one(second, {"test_fixture"})


def test_a_hypothesis_test_with_a_marker_or_budget_records_its_examples(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Otherwise (marker, budget, `--bytecount`), a `@given` test records the
    sum over its examples of its own body: each call of the test function
    Hypothesis makes, not Hypothesis's engine around them, whose work
    depends on its caches (tests/test_hypothesis.py has the rest)."""
    monkeypatch.setenv("PYTHONHASHSEED", "0")
    pytester.makepyfile(test_hyp=HYPOTHESIS_TESTS)
    pytester.runpytest_subprocess("--bytecount-update").assert_outcomes(passed=4)
    recorded = {nodeid.split("::")[1] for nodeid in budgets(pytester)}
    assert recorded == {"test_0_first", "test_fixture", "test_budgeted"}
    (pytester.path / "marked.log").unlink()

    _, first = run(pytester, subprocess=True, report="one.json", passed=4)
    first_log = take_log(pytester, "marked.log")
    assert_budgets_met(first, recorded)
    marked = by_name(first)["test_marked"]
    assert (marked["budget_source"], marked["status"]) == ("marker", "ok")
    # More than the measured blocks: the rest of each example's body.
    assert marked["instructions"] > sum(first_log) > 0

    lower_budgets(pytester)
    _, second = run(pytester, subprocess=True, report="two.json", passed=1, failed=3)
    assert take_log(pytester, "marked.log") == first_log
    assert counts(second) == counts(first)
    assert_budgets_exceeded_by_one(second, recorded)


# -- pytest-randomly ------------------------------------------------------------

RANDOMLY_TESTS = {
    "code_under_test": WORK,
    "test_one": """
        import pytest
        from code_under_test import work

        @pytest.mark.max_instructions(10_000)
        def test_marked():
            work(5)

        def test_fixture(bytecount):
            bytecount(work, 6)
            with bytecount.measure():
                work(7)

        @pytest.mark.parametrize("n", range(6))
        def test_param(n):
            work(n)
        """,
    "test_two": """
        from code_under_test import work

        class TestInClass:
            def test_a(self):
                work(8)

            def test_b(self):
                work(9)

            def test_c(self, bytecount):
                bytecount.warm(work, 10)

        def test_plain():
            work(11)
        """,
}
RANDOMLY_PASSED = 12


def run_order(result: pytest.RunResult) -> list[str]:
    return [m[1] for line in result.outlines if (m := re.match(r"(\S+::\S+) PASSED", line))]


def test_counts_are_identical_under_different_pytest_randomly_seeds(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(**RANDOMLY_TESTS)
    pytester.syspathinsert()
    # Budgets recorded in the file's order (inner runs disable randomly) ...
    pytester.runpytest("--bytecount-update").assert_outcomes(passed=RANDOMLY_PASSED)
    recorded = {nodeid.split("::", 1)[1] for nodeid in budgets(pytester)}
    assert len(recorded) == RANDOMLY_PASSED - 1  # all but the marked test

    # ... hold in any order pytest-randomly picks.
    monkeypatch.setenv("PYTEST_ADDOPTS", "-o asyncio_default_fixture_loop_scope=function")
    orders, reports = [], []
    for seed in (1, 2):
        result, report = run(
            pytester,
            "-p",
            "randomly",
            f"--randomly-seed={seed}",
            "-v",
            "--bytecount",
            report=f"seed{seed}.json",
            passed=RANDOMLY_PASSED,
        )
        result.stdout.fnmatch_lines([f"Using --randomly-seed={seed}"])
        orders.append(run_order(result))
        reports.append(report)
    assert sorted(orders[0]) == sorted(orders[1])
    assert orders[0] != orders[1]  # randomly did shuffle
    assert counts(reports[0]) == counts(reports[1])
    assert len(counts(reports[0])) == RANDOMLY_PASSED
    assert_budgets_met(reports[0], recorded)


DOCTESTED = '''
def double(x):
    """
    >>> double(21)
    42
    """
    return 2 * x
'''


def test_a_doctest_counts_the_same_with_pytest_randomly_on_and_off(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(doctested=DOCTESTED)
    # In-process runs share the interpreter: the first doctest run pays the
    # doctest machinery's first-use costs (caches, lazy imports). Warm it.
    run(pytester, "--doctest-modules", "--bytecount", report="warm.json", passed=1)
    _, off = run(pytester, "--doctest-modules", "--bytecount", report="off.json", passed=1)
    monkeypatch.setenv("PYTEST_ADDOPTS", "-o asyncio_default_fixture_loop_scope=function")
    result, on = run(
        pytester,
        "-p",
        "randomly",
        "--doctest-modules",
        "--bytecount",
        report="on.json",
        passed=1,
    )
    result.stdout.fnmatch_lines(["Using --randomly-seed=*"])
    assert counts(on) == counts(off)


# -- pytest-timeout -------------------------------------------------------------

TIMEOUT_TESTS = f"""
import pytest
{WORK}

@pytest.mark.max_instructions(10_000)
def test_marked():
    work(5)

@pytest.mark.timeout(30)
@pytest.mark.max_instructions(10_000)
def test_marked_with_timeout():
    work(6)

@pytest.mark.timeout(30)
def test_fixture(bytecount):
    bytecount(work, 7)

def test_budgeted():
    work(8)

@pytest.mark.timeout(30)
def test_budgeted_with_timeout():
    work(9)
"""


@pytest.mark.parametrize("method", ["signal", "thread"])
def test_timeouts_set_by_option_or_marker_leave_counts_unchanged(
    pytester: pytest.Pytester, method: str
) -> None:
    pytester.makepyfile(test_timeouts=TIMEOUT_TESTS)
    pytester.makeini("[pytest]\nmarkers =\n    timeout: (registered for -p no:timeout)\n")
    pytester.runpytest("-p", "no:timeout", "--bytecount-update").assert_outcomes(passed=5)
    _, without = run(pytester, "-p", "no:timeout", report="without.json", passed=5)
    _, within = run(
        pytester, "--timeout=30", f"--timeout-method={method}", report="within.json", passed=5
    )
    assert counts(within) == counts(without)
    assert len(counts(within)) == 5
    assert_budgets_met(within, {"test_fixture", "test_budgeted", "test_budgeted_with_timeout"})


NO_TRACER_LEFT = """
def test_z_no_tracer_is_left_behind():
    import sys
    assert sys.gettrace() is None
    if sys.version_info >= (3, 12):
        assert [sys.monitoring.get_tool(i) for i in (3, 4, 5)] == [None, None, None]
"""

TIMING_OUT = f"""
import signal
import time
import pytest
{WORK}

def busy():
    # pytest-timeout's handler, called once the signal is handled inside
    # pytest-bytecount's counting code (past its first line): where a busy
    # measured loop spends most of its time, and where a timeout must not be
    # lost. The timer fires every millisecond until then.
    timeout_handler = signal.getsignal(signal.SIGALRM)
    tries = [0]

    def inside_the_counter(signum, frame):
        tries[0] += 1
        module = frame.f_globals.get("__name__", "")
        started = frame.f_lineno > frame.f_code.co_firstlineno
        inside = module.startswith("pytest_bytecount") and started
        if inside or tries[0] > 300:
            timeout_handler(signum, frame)
        signal.setitimer(signal.ITIMER_REAL, 0.001)

    signal.signal(signal.SIGALRM, inside_the_counter)
    signal.setitimer(signal.ITIMER_REAL, 0.001)
    deadline = time.monotonic() + 5  # a safety net, not a measurement
    while time.monotonic() < deadline:
        work(10)
    print("STILL RUNNING after the timeout")

@pytest.mark.timeout(0.5)
@pytest.mark.max_instructions(10**9)
def test_asleep_marked():
    work(100)
    time.sleep(60)

@pytest.mark.timeout(0.5)
def test_asleep_fixture(bytecount):
    with bytecount.measure():
        work(100)
        time.sleep(60)

@pytest.mark.timeout(30)
@pytest.mark.max_instructions(10**12)
def test_busy_marked():
    busy()

@pytest.mark.timeout(30)
def test_busy_fixture(bytecount):
    bytecount(busy)

@pytest.mark.max_instructions(10_000)
def test_y_still_counted():
    work(5)
{NO_TRACER_LEFT}
"""


def test_measured_tests_that_time_out_fail_with_the_timeout_and_leave_no_tracer_behind(
    pytester: pytest.Pytester,
) -> None:
    # The signal method raises the timeout in the test's own thread; the
    # thread method ends the whole process, leaving nothing to check. A
    # sleeping test is interrupted inside time.sleep(); a busy one, between
    # two instructions: most often inside our counting code (made certain
    # here), which must let the timeout through.
    pytester.makepyfile(test_timing_out=TIMING_OUT)
    result, report = run(pytester, "--timeout-method=signal", subprocess=True, passed=2, failed=4)
    result.stdout.fnmatch_lines(
        [
            f"FAILED test_timing_out.py::test_{name} - Failed: Timeout*"
            for name in ("asleep_marked", "asleep_fixture", "busy_marked", "busy_fixture")
        ],
        consecutive=True,
    )
    result.stdout.no_fnmatch_line("*STILL RUNNING*")
    # A sleeping test is counted up to its timeout. (A busy one may not be:
    # on 3.10/3.11 the timeout raised inside our trace function removes it.)
    tests = by_name(report)
    for name in ("test_asleep_marked", "test_asleep_fixture"):
        assert tests[name]["instructions"] > 700, name  # work(100), at least
        assert tests[name]["outcome"] == "failed", name
    assert 0 < tests["test_y_still_counted"]["instructions"] < 100
    assert tests["test_y_still_counted"]["status"] == "ok"


def test_a_test_failure_inside_a_fixture_block_is_what_is_reported_when_counting_fails_too(
    pytester: pytest.Pytester,
) -> None:
    # What pytest-timeout's signal sometimes does on 3.10/3.11: raise inside
    # our trace function, which Python then removes. Done deterministically
    # here, and on 3.12+ by taking our events away.
    pytester.makepyfile(
        test_own_failure="""
        import sys

        def break_counting():
            if sys.version_info >= (3, 12):
                for tool in range(6):
                    if sys.monitoring.get_tool(tool) == "pytest-bytecount":
                        sys.monitoring.set_events(tool, 0)
            else:
                sys.settrace(None)

        def test_own_failure(bytecount):
            with bytecount.measure():
                break_counting()
                raise ValueError("the test's own failure")
        """
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["E   *ValueError: the test's own failure", "FAILED *::test_own_failure - ValueError*"]
    )


# -- pytest-rerunfailures -------------------------------------------------------

RERUN_TESTS = f"""
import os
import pytest
{WORK}

def flaky(flag):
    # Fails (after costly work) while the flag file is absent, creating it.
    if not os.path.exists(flag):
        open(flag, "w").close()
        work(1000)
        raise AssertionError("first run fails")
    work(10)

@pytest.mark.max_instructions(100_000)
def test_flaky_marked():
    flaky("marked.flag")

def test_flaky_budgeted():
    flaky("budget.flag")

def test_flaky_fixture(bytecount):
    bytecount(flaky, "fixture.flag")

def test_steady():
    flaky("steady.flag")  # created before the run

@pytest.mark.max_instructions(10)
def test_over_its_marker():
    work(100)
"""


def rerun_suite(pytester: pytest.Pytester) -> None:
    for flag in pytester.path.glob("*.flag"):
        flag.unlink()
    (pytester.path / "steady.flag").touch()


def test_a_rerun_test_is_recorded_once_with_its_last_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_rerun=RERUN_TESTS)
    rerun_suite(pytester)
    result, report = run(pytester, "--reruns", "2", "--bytecount-update", "-v")
    assert result.parseoutcomes() == {"passed": 4, "failed": 1, "rerun": 5}
    # The over-budget test is rerun, and fails every time.
    assert len(re.findall(r"test_over_its_marker RERUN", result.stdout.str())) == 2
    result.stdout.fnmatch_lines(["FAILED test_rerun.py::test_over_its_marker - bytecount: *"])

    nodeids = [test["nodeid"] for test in report["tests"]]
    assert sorted(nodeids) == sorted(set(nodeids))
    assert len(nodeids) == 5
    tests = by_name(report)
    steady = tests["test_steady"]["instructions"]
    fixture = tests["test_flaky_fixture"]["instructions"]
    for name in ("test_flaky_marked", "test_flaky_budgeted", "test_steady"):
        assert tests[name]["outcome"] == "passed", name
        assert tests[name]["instructions"] == steady, name
    assert 0 < fixture < steady  # the call of flaky(), without the test's own instructions
    assert tests["test_over_its_marker"]["outcome"] == "failed"
    assert tests["test_over_its_marker"]["status"] == "over"
    assert report["totals"]["measured"] == 5

    # Budgets record the passing runs.
    assert budgets(pytester) == {
        "test_rerun.py::test_flaky_budgeted": steady,
        "test_rerun.py::test_flaky_fixture": fixture,
        "test_rerun.py::test_steady": steady,
    }
    # And hold on the next flaky run: the first attempt fails on its own.
    rerun_suite(pytester)
    result, report = run(pytester, "--reruns", "2", report="enforced.json")
    assert result.parseoutcomes() == {"passed": 4, "failed": 1, "rerun": 5}
    assert_budgets_met(report, {"test_flaky_budgeted", "test_flaky_fixture", "test_steady"})


def test_a_rerun_test_has_one_junit_property_with_its_last_count(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_rerun=RERUN_TESTS)
    rerun_suite(pytester)
    xml = pytester.path / "junit.xml"
    result, report = run(pytester, "--reruns", "2", "--bytecount", f"--junitxml={xml}")
    assert result.parseoutcomes()["rerun"] == 5
    last_cases = {case.get("name"): case for case in ET.parse(xml).iter("testcase")}
    properties = [
        (prop.get("name"), prop.get("value"))
        for prop in last_cases["test_flaky_budgeted"].iter("property")
    ]
    count = by_name(report)["test_flaky_budgeted"]["instructions"]
    assert properties == [("bytecount_instructions", str(count))]
