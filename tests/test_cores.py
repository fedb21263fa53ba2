"""The two cores of the hot path: which one runs, forcing one, and that they
count the same (SPEC §1, "Two cores, one count").

The whole suite also runs once per core (tox.ini); here the cores meet on
one suite of many ordinary tests.
"""

from __future__ import annotations

import os

import pytest
from conftest import counts, read_report

from pytest_bytecount.engine import CORE_VARIABLE, choose_core
from pytest_bytecount.engine.cores import compiled_core

COMPILED, WHY_NOT_COMPILED = compiled_core()
needs_compiled = pytest.mark.skipif(COMPILED is None, reason=WHY_NOT_COMPILED)


def test_the_header_names_the_mechanism_and_the_core(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing(): pass")
    core, _ = choose_core()
    result = pytester.runpytest("--bytecount")
    result.stdout.fnmatch_lines([f"bytecount: *, counting with * (core: {core}); *"])


def test_the_python_core_can_be_forced(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CORE_VARIABLE, "python")
    pytester.makepyfile("def test_nothing(): pass")
    # A new process: a thread keeps the engine (and core) it made first.
    result = pytester.runpytest_subprocess("--bytecount")
    result.stdout.fnmatch_lines(["bytecount: *, counting with * (core: python); *"])
    result.assert_outcomes(passed=1)


@pytest.mark.parametrize("value", ["fortran", "C", " c"])
def test_an_unknown_core_is_a_usage_error_naming_the_variable_and_the_value(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(CORE_VARIABLE, value)
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{CORE_VARIABLE}={value!r}: expected 'c' or 'python'*"])
    result.stderr.no_fnmatch_line("*Traceback*")


@pytest.mark.skipif(COMPILED is not None, reason="the compiled core is built here")
def test_forcing_the_compiled_core_where_it_is_not_built_is_a_usage_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CORE_VARIABLE, "c")
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{CORE_VARIABLE}=c: *"])


@pytest.mark.skipif(
    not os.environ.get("PYTEST_BYTECOUNT_EXPECT_C"),
    reason="only where the check expects a compiled core (tox.ini)",
)
def test_the_compiled_core_is_built_where_expected() -> None:
    assert COMPILED is not None, WHY_NOT_COMPILED


#: Many ordinary tests over a good part of the standard library: enough
#: code, run often enough, that both cores count much of it by block.
ORDINARY_SUITE = """
import dataclasses
import difflib
import fractions
import heapq
import json
import re
import statistics
import textwrap

import pytest

WORDS = "the quick brown fox jumps over the lazy dog and runs far away".split()

@dataclasses.dataclass(order=True)
class Point:
    x: int
    y: int

def gen(n):
    for i in range(n):
        if i % 7 == 3:
            continue
        yield i * i

@pytest.mark.parametrize("n", range(60))
def test_json(n):
    data = {"n": n, "items": [{"w": WORDS[i % len(WORDS)], "i": i} for i in range(n)]}
    assert json.loads(json.dumps(data, sort_keys=True)) == data

@pytest.mark.parametrize("n", range(60))
def test_text(n):
    text = " ".join(WORDS[i % len(WORDS)] for i in range(n + 5))
    assert re.findall(r"\\bt\\w+", text)
    assert textwrap.fill(text, width=20 + n % 10)

@pytest.mark.parametrize("n", range(60))
def test_numbers(n):
    values = [fractions.Fraction(i, n + 1) for i in range(1, n + 3)]
    assert statistics.mean(values) > 0
    assert heapq.nsmallest(3, (-v for v in values))

@pytest.mark.parametrize("n", range(40))
def test_objects(n):
    points = sorted(Point(i % 5, -i) for i in range(n + 2))
    assert dataclasses.asdict(points[0])
    assert sum(gen(n)) >= 0

@pytest.mark.parametrize("n", range(30))
def test_diff(n):
    a = WORDS[: n % len(WORDS)] * 2
    b = list(reversed(a))
    assert 0 <= difflib.SequenceMatcher(None, a, b).ratio() <= 1

@pytest.mark.parametrize("n", range(30))
def test_exceptions(n):
    caught = 0
    for i in range(n):
        try:
            if i % 3 == 0:
                raise ValueError(i)
            int("x" if i % 3 == 1 else "1")
        except ValueError:
            caught += 1
    assert caught == sum(1 for i in range(n) if i % 3 != 2)
"""


@needs_compiled
def test_both_cores_count_an_ordinary_suite_identically(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_ordinary=ORDINARY_SUITE)
    found = {}
    for core in ("python", "c"):
        monkeypatch.setenv(CORE_VARIABLE, core)
        report = pytester.path / f"{core}.json"
        result = pytester.runpytest_subprocess(
            "-p", "no:cacheprovider", "--bytecount", f"--bytecount-report={report}"
        )
        result.assert_outcomes(passed=280)
        result.stdout.fnmatch_lines([f"*(core: {core})*"])
        found[core] = counts(read_report(report))
    assert len(found["c"]) == 280
    assert found["c"] == found["python"]
