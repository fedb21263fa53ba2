"""pytest-bytecount with unittest TestCases and their subtests: SPEC §1-§3
and §10. A small suite runs with the marker, recorded budgets and the
`bytecount` fixture.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET

import pytest
from helpers import assert_budgets_exceeded_by_one, budgets, by_name, counts, lower_budgets, run

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
