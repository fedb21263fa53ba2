"""pytest-bytecount beside other plugins and test styles: SPEC §1-§3 and §10.

Each section runs a small suite with the marker, recorded budgets and the
`bytecount` fixture under one tool: hypothesis, pytest-randomly,
pytest-timeout, pytest-rerunfailures, unittest TestCases, doctests, and
class- and module-scoped fixtures.
"""

from __future__ import annotations

import json
import re
import sys
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from helpers import TAG, counts, read_report, tomllib
from suites import WORK


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


# -- unittest -------------------------------------------------------------------

UNITTEST_TESTS = """
import unittest
import pytest

def spin():
    total = 0
    for i in range(20_000):
        total += i
    return total

class TestWithHeavySetUp(unittest.TestCase):
    def setUp(self):
        spin()

    def tearDown(self):
        spin()

    @pytest.mark.max_instructions(100)
    def test_marked(self):
        self.assertEqual(1 + 1, 2)

    def test_plain(self):
        self.assertTrue(True)

    def test_fixture_by_autouse(self):
        with self.bytecount.measure():
            spin()

    def test_fixture_in_subtests(self):
        for i in range(3):
            with self.subTest(i=i):
                with self.bytecount.measure():
                    self.assertLess(i, 10)

    def test_fixture_without_subtests(self):
        for i in range(3):
            with self.bytecount.measure():
                self.assertLess(i, 10)

    @pytest.fixture(autouse=True)
    def _take_bytecount(self, bytecount):
        self.bytecount = bytecount

@pytest.mark.max_instructions(200)
class TestClassMarked(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        spin()

    def test_inherits_the_class_marker(self):
        assert [1, 2] == [1, 2]

    @pytest.mark.max_instructions(10_000)
    def test_subtests(self):
        for i in range(3):
            with self.subTest(i=i):
                self.assertLess(i, 10)
"""


def test_unittest_methods_are_measured_exactly_by_marker_budget_and_option(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_unit=UNITTEST_TESTS)
    _, report = run(pytester, "--bytecount", passed=7)
    tests = by_name(report)
    heavy, marked = "TestWithHeavySetUp::", "TestClassMarked::"
    assert set(tests) == {
        f"{heavy}test_marked",
        f"{heavy}test_plain",
        f"{heavy}test_fixture_by_autouse",
        f"{heavy}test_fixture_in_subtests",
        f"{heavy}test_fixture_without_subtests",
        f"{marked}test_inherits_the_class_marker",
        f"{marked}test_subtests",
    }
    # setUp, tearDown and setUpClass spin 20,000 times: none of that is counted.
    for name in (
        f"{heavy}test_marked",
        f"{heavy}test_plain",
        f"{marked}test_inherits_the_class_marker",
    ):
        assert 0 < tests[name]["instructions"] < 100, name
    assert tests[f"{heavy}test_marked"]["limit"] == 100
    assert tests[f"{marked}test_inherits_the_class_marker"]["limit"] == 200
    assert tests[f"{marked}test_subtests"]["limit"] == 10_000
    assert tests[f"{marked}test_subtests"]["status"] == "ok"
    # The fixture's blocks: one spin() (20,000 loop turns) ...
    assert 100_000 < tests[f"{heavy}test_fixture_by_autouse"]["instructions"] < 200_000
    # ... and the same three blocks, whether or not each is in a subtest.
    assert (
        tests[f"{heavy}test_fixture_in_subtests"]["instructions"]
        == tests[f"{heavy}test_fixture_without_subtests"]["instructions"]
        > 0
    )

    # Unmarked methods get budgets, which are enforced without any flag.
    pytester.runpytest("--bytecount-update").assert_outcomes(passed=7)
    budgeted = {
        f"{heavy}test_plain",
        f"{heavy}test_fixture_by_autouse",
        f"{heavy}test_fixture_in_subtests",
        f"{heavy}test_fixture_without_subtests",
    }
    assert {nodeid.split("::", 1)[1] for nodeid in budgets(pytester)} == budgeted
    # With every budget one lower, they fail by exactly one instruction.
    lower_budgets(pytester)
    result, enforced = run(pytester, report="enforced.json", passed=3, failed=4)
    assert counts(enforced) == counts(report)
    assert_budgets_exceeded_by_one(enforced, budgeted)
    result.stdout.no_fnmatch_line("SUBFAILED*")
    result.stdout.fnmatch_lines(["*over the limit of * recorded in bytecount.toml: +1 (+*%)*"])


SUBTESTS = """
import unittest
import pytest

class TestSub(unittest.TestCase):
    @pytest.mark.max_instructions(100_000)
    def test_subtests(self):
        for i in range(3):
            with self.subTest(i=i):
                self.assertLess(i, 10)
"""


@pytest.mark.xfail(
    sys.version_info >= (3, 11),
    strict=True,
    reason="on 3.11+ unittest reports each subtest from inside the test method, and "
    "pytest's report hooks run inside the span: other plugins' hookimpls are counted",
)
def test_a_unittest_subtest_count_does_not_depend_on_other_installed_plugins(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_sub=SUBTESTS)
    _, with_rerunfailures = run(pytester, report="with.json", passed=1)
    _, without = run(pytester, "-p", "no:rerunfailures", report="without.json", passed=1)
    assert counts(with_rerunfailures) == counts(without)


SUBTESTS_AFTER_A_MEASUREMENT = """
import unittest
import pytest

class TestSub(unittest.TestCase):
    @pytest.fixture(autouse=True)
    def _take_bytecount(self, bytecount):
        self.bytecount = bytecount

    def test_measures_then_runs_subtests(self):
        with self.bytecount.measure():
            sum(range(10))
        for i in range(2):
            with self.subTest(i=i):
                pass
"""


def test_subtest_reports_are_not_taken_for_the_test_s_own(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_sub=SUBTESTS_AFTER_A_MEASUREMENT)
    xml = pytester.path / "junit.xml"
    _, report = run(pytester, "--bytecount-update", f"--junitxml={xml}", passed=1)
    properties = [(p.get("name"), p.get("value")) for p in ET.parse(xml).iter("property")]
    (count,) = counts(report).values()
    assert properties == [("bytecount_instructions", str(count))]

    # One test over its budget: one failure, the test's, not a subtest's.
    lower_budgets(pytester)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.no_fnmatch_line("SUBFAILED*")


# -- doctests -------------------------------------------------------------------

DOCTESTS = '''
def double(x):
    """
    >>> double(21)
    42
    >>> [double(i) for i in range(3)]
    [0, 2, 4]
    """
    return 2 * x


class Counter:
    """
    >>> c = Counter()
    >>> c.add(5).add(6).total
    11
    """

    def __init__(self):
        self.total = 0

    def add(self, n):
        self.total += n
        return self
'''


def test_doctests_are_measured_by_option_and_budgets_deterministically(
    pytester: pytest.Pytester,
) -> None:
    # A doctest has no test function: its span is DoctestItem.runtest(), so
    # its count includes the doctest runner's own work (parsing the examples,
    # compiling them, patching pdb and linecache), a few hundred instructions
    # that depend on the interpreter and the environment (~/.pdbrc, say).
    # Subprocesses, so that both runs start from a fresh interpreter.
    pytester.makepyfile(doctested=DOCTESTS)
    _, first = run(pytester, "--doctest-modules", "--bytecount", subprocess=True, passed=2)
    assert set(counts(first)) == {
        "doctested.py::doctested.double",
        "doctested.py::doctested.Counter",
    }
    assert all(count > 0 for count in counts(first).values())
    # Not measured without the option, a marker or a budget.
    _, unmeasured = run(pytester, "--doctest-modules", report="none.json", passed=2)
    assert unmeasured["tests"] == []

    pytester.runpytest_subprocess("--doctest-modules", "--bytecount-update").assert_outcomes(
        passed=2
    )
    assert set(budgets(pytester)) == set(counts(first))
    # With every budget one lower, both fail by exactly one instruction.
    lower_budgets(pytester)
    result, second = run(
        pytester, "--doctest-modules", subprocess=True, report="enforced.json", failed=2
    )
    assert counts(second) == counts(first)
    assert_budgets_exceeded_by_one(second, {"doctested.double", "doctested.Counter"})
    result.stdout.fnmatch_lines(["*over the limit of * recorded in bytecount.toml: +1 (+*%)*"])


# -- class- and module-scoped fixtures ---------------------------------------------

SCOPED_FIXTURES = """
import pytest

def spin():
    total = 0
    for i in range(20_000):
        total += i
    return total

@pytest.fixture(scope="module")
def heavy_module():
    spin()
    yield 1
    spin()

@pytest.fixture(scope="class")
def heavy_class():
    spin()
    yield 2
    spin()

class TestFirst:
    @pytest.mark.max_instructions(100)
    def test_instantiates_both(self, heavy_module, heavy_class):
        assert heavy_module + heavy_class == 3

    @pytest.mark.max_instructions(100)
    def test_reuses_both(self, heavy_module, heavy_class):
        assert heavy_module + heavy_class == 3

class TestSecond:
    @pytest.mark.max_instructions(100)
    def test_instantiates_the_class_fixture_again(self, heavy_class):
        assert heavy_class == 2

    def test_budgeted(self, heavy_module, heavy_class):
        assert heavy_module < heavy_class

    def test_fixture(self, heavy_class, bytecount):
        assert bytecount(lambda n: n // 2, heavy_class) == 1

@pytest.mark.max_instructions(100)
def test_last_of_the_module(heavy_module):
    assert heavy_module == 1
"""


def test_class_and_module_scoped_fixture_work_is_not_counted(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_scoped=SCOPED_FIXTURES)
    _, report = run(pytester, "--bytecount", passed=6)
    tests = by_name(report)
    assert len(tests) == 6
    # Each fixture spins 20,000 times; the first test instantiates both.
    for name, test in tests.items():
        assert 0 < test["instructions"] < 100, name
    # The fixture measured a one-line lambda: nothing of the fixtures.
    assert tests["TestSecond::test_fixture"]["instructions"] < 10

    pytester.runpytest("--bytecount-update").assert_outcomes(passed=6)
    assert {nodeid.split("::", 1)[1] for nodeid in budgets(pytester)} == {
        "TestSecond::test_budgeted",
        "TestSecond::test_fixture",
    }
    _, enforced = run(pytester, report="enforced.json", passed=6)
    assert_budgets_met(enforced, {"TestSecond::test_budgeted", "TestSecond::test_fixture"})
    assert counts(enforced) == counts(report)


@pytest.mark.xfail(
    strict=True,
    reason="a fixture the test body instantiates with request.getfixturevalue() is "
    "set up inside the span, so its setup is counted",
)
def test_a_fixture_instantiated_from_the_test_body_is_not_counted(
    pytester: pytest.Pytester,
) -> None:
    # The fixture spins 20,000 times (some 140,000 instructions). What
    # getfixturevalue() itself runs around the fixture (pytest's lookup, with
    # the few stdlib helpers it calls) is a hundred or two more.
    pytester.makepyfile(
        test_dynamic="""
        import pytest

        @pytest.fixture(scope="module")
        def heavy():
            total = 0
            for i in range(20_000):
                total += i
            return 1

        @pytest.mark.max_instructions(1_000)
        def test_dynamic(request):
            assert request.getfixturevalue("heavy") == 1
        """
    )
    run(pytester, passed=1)
