"""`--bytecount-repeat=N`: each measured test's call is made N more times,
warm, and a test whose counts differ between them is marked unstable; the
count recorded and judged stays the first call's (docs/determinism.rst)."""

from __future__ import annotations

import pytest
from helpers import read_report

TESTS = """
import functools
import random

import pytest

PRIVATE = random.Random()  # seeded from the OS: beyond the plugin's reach

def work(n):
    return sum(i * i for i in range(n))

@functools.lru_cache(maxsize=None)
def table():
    return [work(i) for i in range(50)]

def test_private_generator():
    work(PRIVATE.randrange(10, 1000))

def test_same_work():
    work(100)

def test_cache_filled_by_the_first_call():
    assert len(table()) == 50

def test_with_the_fixture(bytecount):
    bytecount(work, 10)
    with bytecount.measure():
        work(20)

CALLS = []

def test_fails_when_called_again():
    CALLS.append(1)
    assert len(CALLS) == 1

@pytest.mark.max_instructions(10)
def test_over_its_limit():
    work(100)
"""


def entries(pytester: pytest.Pytester, *options: str) -> tuple[pytest.RunResult, dict[str, dict]]:
    result = pytester.runpytest("--bytecount-report=r.json", *options)
    report = read_report(pytester.path / "r.json")
    return result, {test["nodeid"].split("::")[1]: test for test in report["tests"]}


def test_repeat_finds_the_test_that_draws_from_a_private_generator(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_calls=TESTS)
    _, once = entries(pytester, "--bytecount")
    result, repeated = entries(pytester, "--bytecount-repeat=3")
    # Outcomes as without it: the first call decides them.
    result.assert_outcomes(passed=5, failed=1)
    reason = repeated["test_private_generator"]["unstable"]
    assert reason.startswith("its count changed between two calls (")
    assert reason.endswith("instructions, --bytecount-repeat=3)")
    for name in ("test_same_work", "test_cache_filled_by_the_first_call", "test_with_the_fixture"):
        assert repeated[name]["unstable"] is None, name
        # The first call's count, as a run without repeats records it.
        assert repeated[name]["instructions"] == once[name]["instructions"], name
    assert repeated["test_with_the_fixture"]["instructions"] > 0
    assert repeated["test_over_its_limit"]["status"] == "over"
    # A test that cannot be called twice keeps its outcome; the check is skipped, and said so.
    assert repeated["test_fails_when_called_again"]["outcome"] == "passed"
    result.stdout.fnmatch_lines(
        [
            "--bytecount-repeat could not check test_calls.py::test_fails_when_called_again: "
            "calling it again raised AssertionError: assert 2 == 1"
        ]
    )


@pytest.mark.parametrize("value", ["1", "0", "two", ""])
def test_a_bad_number_is_a_usage_error(pytester: pytest.Pytester, value: str) -> None:
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest(f"--bytecount-repeat={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: --bytecount-repeat: expected a number of calls to compare, 2 or more, "
            f"got '{value}'"
        ]
    )
