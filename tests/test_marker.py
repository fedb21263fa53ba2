"""`@pytest.mark.max_instructions(n)`: SPEC §2."""

from __future__ import annotations

import pytest
from helpers import read_report


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ('"200"', "'200' (str)"),
        ("-1", "got -1"),
        ("0", "got 0"),
        ("True", "True (bool)"),
        ("1.5", "1.5 (float)"),
        ("None", "None (NoneType)"),
        ("", "got no argument"),
        ("100, 200", "got 2 arguments (100, 200)"),
        ("limit=100", "got keyword arguments limit=100"),
    ],
)
def test_a_bad_marker_value_makes_that_test_error_naming_marker_and_value(
    pytester: pytest.Pytester, value: str, shown: str
) -> None:
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.max_instructions({value})
        def test_bad():
            pass

        def test_unaffected():
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([f"*@pytest.mark.max_instructions takes one positive int*{shown}*"])
    result.stdout.no_fnmatch_line("*Traceback*")


def test_the_marker_is_registered_so_strict_markers_accepts_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.max_instructions(1000)
        def test_marked():
            pass
        """
    )
    pytester.runpytest("--strict-markers").assert_outcomes(passed=1)
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(
        ["*max_instructions(n, tolerance=*): fail the test when it executes more*"]
    )


def test_a_test_over_its_limit_fails_with_count_limit_source_excess_and_spenders(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_spend="""
        import pytest

        def spend(n):
            t = 0
            for i in range(n):
                t += i
            return t

        @pytest.mark.max_instructions(50)
        def test_expensive():
            spend(100)
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*bytecount: * instructions executed, over the limit of 50 set by "
            "@pytest.mark.max_instructions(50): +* (+*%)",
            "functions that spent the most (own instructions):",
            "* spend  (test_spend.py:3)",
            "* test_expensive  (*)",
            "top opcodes: *",
            "FAILED *::test_expensive - bytecount: *",
        ]
    )


def test_a_test_within_its_limit_passes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.max_instructions(10_000)
        def test_cheap():
            assert sum(range(10)) == 45
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_the_limit_is_inclusive(pytester: pytest.Pytester) -> None:
    # Find the exact count of a test, then set the limit to exactly that.
    pytester.makepyfile(
        probe="""
        def test_probe():
            x = [1, 2]
            return None
        """
    )
    report = pytester.path / "r.json"
    pytester.runpytest("probe.py", "--bytecount", f"--bytecount-report={report}")
    exact = read_report(report)["tests"][0]["instructions"]
    pytester.makepyfile(
        probe=f"""
        import pytest

        @pytest.mark.max_instructions({exact})
        def test_probe():
            x = [1, 2]
            return None

        @pytest.mark.max_instructions({exact - 1})
        def test_probe_tighter():
            x = [1, 2]
            return None
        """
    )
    result = pytester.runpytest("probe.py")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["FAILED probe.py::test_probe_tighter - *"])


def test_class_and_module_markers_apply_and_the_closest_wins(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        pytestmark = pytest.mark.max_instructions(1)

        def work():
            return sum(i for i in range(20))

        def test_module_level():
            work()

        @pytest.mark.max_instructions(100_000)
        class TestClass:
            def test_class_level(self):
                work()

            @pytest.mark.max_instructions(2)
            def test_function_level(self):
                work()
        """
    )
    result = pytester.runpytest("-rA")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["PASSED *::TestClass::test_class_level"])
    result.stdout.fnmatch_lines(["*over the limit of 1 set by @pytest.mark.max_instructions(1)*"])
    result.stdout.fnmatch_lines(["*over the limit of 2 set by @pytest.mark.max_instructions(2)*"])
    result.stdout.fnmatch_lines(["FAILED *::test_module_level*", "FAILED *::test_function_level*"])


def test_a_test_that_already_failed_reports_its_own_failure_and_still_records_the_count(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_own="""
        import pytest

        @pytest.mark.max_instructions(5)
        def test_fails_on_its_own():
            total = sum(i * i for i in range(50))
            assert total == 0, "its own failure"
        """
    )
    report = pytester.path / "r.json"
    result = pytester.runpytest(f"--bytecount-report={report}")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*AssertionError: its own failure*"])
    result.stdout.fnmatch_lines(
        ["FAILED *::test_fails_on_its_own - AssertionError: its own failure*"]
    )
    (test,) = read_report(report)["tests"]
    assert test["status"] == "over"
    assert test["outcome"] == "failed"
    assert test["instructions"] > 5


def test_marked_tests_are_measured_without_any_flag_and_others_are_not(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.max_instructions(1000)
        def test_marked():
            pass

        def test_plain():
            pass
        """
    )
    report = pytester.path / "r.json"
    pytester.runpytest(f"--bytecount-report={report}").assert_outcomes(passed=2)
    assert [t["nodeid"] for t in read_report(report)["tests"]] == [
        "test_marked_tests_are_measured_without_any_flag_and_others_are_not.py::test_marked"
    ]
