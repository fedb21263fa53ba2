"""Hypothesis property tests, measured (SPEC §1, docs/determinism.rst): the
same examples every run, their bodies counted and not Hypothesis's engine,
unmeasured tests left as they were, and the user's own choices kept."""

from __future__ import annotations

import os
import shutil
from typing import Any

import pytest
from helpers import functions_by_test, read_report

from pytest_bytecount.engine.cores import compiled_core

#: What makes Hypothesis load its "ci" profile (derandomize=True, no
#: database) by itself: the tests here start from its default profile.
HYPOTHESIS_CI_VARIABLES = (
    "CI",
    "__TOX_ENVIRONMENT_VARIABLE_ORIGINAL_CI",
    "TF_BUILD",
    "bamboo.buildKey",
    "BUILDKITE",
    "CIRCLECI",
    "CIRRUS_CI",
    "CODEBUILD_BUILD_ID",
    "GITHUB_ACTIONS",
    "GITLAB_CI",
    "HEROKU_TEST_RUN_ID",
    "TEAMCITY_VERSION",
)


@pytest.fixture(autouse=True)
def not_on_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in HYPOTHESIS_CI_VARIABLES:
        monkeypatch.delenv(name, raising=False)


PROPERTIES = """
import json

import pytest
from hypothesis import given, seed, settings, strategies as st

def encode(value):
    return json.dumps(value, sort_keys=True)

def depth(value):
    if isinstance(value, list):
        return 1 + max((depth(item) for item in value), default=0)
    return 0

@given(st.recursive(st.integers(), st.lists, max_leaves=20))
def test_depth(value):
    assert depth(value) >= 0

@given(st.dictionaries(st.text(), st.lists(st.integers())))
def test_roundtrip(value):
    assert json.loads(encode(value)) == value

@pytest.mark.parametrize("times", [1, 3])
@given(st.text())
def test_parametrized(times, text):
    assert len(text * times) == len(text) * times

@seed(20261201)
@given(st.lists(st.integers()))
def test_seeded(values):
    assert sorted(sorted(values)) == sorted(values)
"""
NAMES = ("test_depth", "test_roundtrip", "test_parametrized[1]", "test_parametrized[3]")


def run(pytester: pytest.Pytester, *options: str, report: str = "r.json") -> dict[str, Any]:
    """A fresh process, as CI runs each job: no examples or caches in memory."""
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--bytecount", f"--bytecount-report={report}", *options
    )
    result.assert_outcomes(passed=5)
    return read_report(pytester.path / report)


def entries(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {test["nodeid"].split("::")[1]: test for test in report["tests"]}


def test_measured_hypothesis_tests_repeat_run_after_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_props=PROPERTIES)
    first = entries(run(pytester, report="one.json"))
    # As on a fresh CI machine: no example database, no cached character
    # tables or constants, all of which Hypothesis keeps in .hypothesis/.
    shutil.rmtree(pytester.path / ".hypothesis", ignore_errors=True)
    second = entries(run(pytester, report="two.json"))
    third = entries(run(pytester, report="three.json"))  # and with them
    for name in (*NAMES, "test_seeded"):
        assert first[name]["instructions"] > 0, name
        assert first[name]["instructions"] == second[name]["instructions"], name
        assert first[name]["instructions"] == third[name]["instructions"], name
        assert first[name]["unstable"] is None, name


def test_the_count_is_the_examples_not_the_engine(pytester: pytest.Pytester) -> None:
    """What runs in the test's body, over every example: the functions it
    calls, never Hypothesis's own code, which generates the examples."""
    pytester.makepyfile(test_props=PROPERTIES)
    report = run(pytester)
    functions = functions_by_test(report)
    ran = {f["function"] for f in functions["test_props.py::test_depth"]}
    assert {"test_depth", "depth"} <= ran
    for nodeid, listed in functions.items():
        engine = [f for f in listed if f"{os.sep}hypothesis{os.sep}" in f["file"]]
        assert engine == [], nodeid


def test_the_header_says_what_applies(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_props=PROPERTIES)
    result = pytester.runpytest("-k", "depth", "--bytecount")
    result.stdout.fnmatch_lines(["bytecount: *; hypothesis examples repeatable"])
    result = pytester.runpytest("-k", "depth", "--bytecount", "-o", "bytecount_hypothesis=leave")
    result.stdout.fnmatch_lines(
        ["bytecount: *; hypothesis left as it is (bytecount_hypothesis = leave)"]
    )


def test_leave_marks_measured_hypothesis_tests_unstable(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_props=PROPERTIES)
    tests = entries(run(pytester, "-o", "bytecount_hypothesis=leave"))
    for name in (*NAMES, "test_seeded"):
        assert "bytecount_hypothesis = leave" in tests[name]["unstable"], name


def test_a_bad_mode_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_props=PROPERTIES)
    result = pytester.runpytest("-o", "bytecount_hypothesis=sometimes")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: bytecount_hypothesis: expected repeatable or leave, got 'sometimes'"]
    )


def test_a_seed_on_the_command_line_is_kept_and_marked(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_props=PROPERTIES)
    tests = entries(run(pytester, "--hypothesis-seed=7"))
    for name in NAMES:
        assert "--hypothesis-seed=7" in tests[name]["unstable"], name
    # @seed(...) in the source fixes the examples as derandomize would.
    assert tests["test_seeded"]["unstable"] is None


def test_derandomize_false_against_a_profile_is_kept_and_marked(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(
        """
        from hypothesis import settings
        settings.register_profile("fixed", derandomize=True)
        settings.load_profile("fixed")
        """
    )
    pytester.makepyfile(
        test_random="""
        from hypothesis import given, settings, strategies as st

        @settings(derandomize=False)
        @given(st.integers())
        def test_random(n):
            assert n == n

        @given(st.integers())
        def test_fixed(n):
            assert n == n
        """
    )
    result = pytester.runpytest_subprocess("--bytecount", "--bytecount-report=r.json")
    result.assert_outcomes(passed=2)
    tests = entries(read_report(pytester.path / "r.json"))
    assert "derandomize=False" in tests["test_random"]["unstable"]
    assert tests["test_fixed"]["unstable"] is None


SETTINGS_SEEN = """
import pytest
from hypothesis import given, strategies as st

SEEN = {}

def record(test, name):
    own = test._hypothesis_internal_use_settings
    SEEN[name] = (own.derandomize, own.database is None, own.deadline)

@pytest.mark.max_instructions(10**9)
@given(st.integers())
def test_a_measured(n):
    record(test_a_measured, "measured, during")

@given(st.integers())
def test_b_unmeasured(n):
    record(test_b_unmeasured, "unmeasured")
    record(test_a_measured, "measured, after")

def test_c_report():
    print("SEEN", sorted(SEEN.items()))
"""


def test_unmeasured_tests_are_left_as_they_were(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_seen=SETTINGS_SEEN)
    result = pytester.runpytest_subprocess("-s")
    result.assert_outcomes(passed=3)
    default = "(False, False, timedelta(milliseconds=200))"
    seen = (
        f"SEEN [('measured, after', {default}), ('measured, during', (True, True, None)), "
        f"('unmeasured', {default})]"
    )
    assert seen in result.stdout.str()


SLOW_EXAMPLES = """
from hypothesis import given, settings, strategies as st

def work(n):
    total = 0
    for i in range(20_000 + n):
        total += i % 7
    return total

@settings(max_examples=5, deadline=100)
@given(st.integers(0, 10))
def test_slow_when_traced(n):
    assert work(n) >= 0
"""


@pytest.mark.parametrize("core", ["python", "c"])
def test_measuring_does_not_fail_a_test_on_its_deadline(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, core: str
) -> None:
    """A few milliseconds unmeasured; traced one instruction at a time, far
    beyond its deadline of 100 ms: the deadline is off while measured."""
    compiled, why_not = compiled_core()
    if core == "c" and compiled is None:
        pytest.skip(f"no compiled core: {why_not}")
    monkeypatch.setenv("PYTEST_BYTECOUNT_CORE", core)
    pytester.makepyfile(test_slow=SLOW_EXAMPLES)
    pytester.runpytest_subprocess("-p", "no:bytecount").assert_outcomes(passed=1)
    pytester.runpytest_subprocess("--bytecount", "--bytecount-explain").assert_outcomes(passed=1)


def test_a_stateful_test_is_counted_whole_and_marked(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_machine="""
        from hypothesis import settings, strategies as st
        from hypothesis.stateful import RuleBasedStateMachine, rule

        class Counter(RuleBasedStateMachine):
            def __init__(self):
                super().__init__()
                self.total = 0

            @rule(n=st.integers(0, 10))
            def add(self, n):
                self.total += n
                assert self.total >= 0

        Counter.TestCase.settings = settings(max_examples=5, stateful_step_count=5)
        TestCounter = Counter.TestCase
        """
    )
    result = pytester.runpytest_subprocess("--bytecount", "--bytecount-report=r.json")
    result.assert_outcomes(passed=1)
    (test,) = read_report(pytester.path / "r.json")["tests"]
    assert test["instructions"] > 0
    assert test["unstable"].startswith("a Hypothesis stateful test is counted whole")


ASYNC_PROPERTIES = """
import asyncio

import pytest
from hypothesis import given, strategies as st

def depth(value):
    if isinstance(value, list):
        return 1 + max((depth(item) for item in value), default=0)
    return 0

async def deep(value):
    await asyncio.sleep(0)
    return depth(value)

@pytest.mark.asyncio
@given(st.recursive(st.integers(), st.lists, max_leaves=20))
async def test_async_depth(value):
    assert await deep(value) >= 0
"""


def test_an_async_given_test_under_pytest_asyncio_counts_its_examples(
    pytester: pytest.Pytester,
) -> None:
    """pytest-asyncio runs an async `@given` test through its item's
    `runtest()`: its examples are measured one by one all the same, not the
    engine around them, and repeat from a first run (a cold `.hypothesis/`,
    where this Hypothesis keeps one) to the next."""
    pytest.importorskip("pytest_asyncio")
    pytester.makepyfile(test_async_props=ASYNC_PROPERTIES)
    counts = []
    for name in ("cold.json", "warm.json"):
        result = pytester.runpytest_subprocess(
            "-p", "no:cacheprovider", "--bytecount", f"--bytecount-report={name}"
        )
        result.assert_outcomes(passed=1)
        report = read_report(pytester.path / name)
        (test,) = report["tests"]
        assert test["unstable"] is None
        counts.append(test["instructions"])
        listed = functions_by_test(report)[test["nodeid"]]
        assert {"test_async_depth", "deep", "depth"} <= {f["function"] for f in listed}
        assert [f for f in listed if f"{os.sep}hypothesis{os.sep}" in f["file"]] == []
    assert counts[0] == counts[1] > 0
