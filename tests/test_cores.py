"""The two cores of the hot path: which one runs, forcing one, and that they
count the same (SPEC §1, "Two cores, one count").

The whole suite also runs once per core (tox.ini); here the cores meet on
one suite of many ordinary tests.
"""

from __future__ import annotations

import os

import pytest
from helpers import CORE, MONITORING, counts, read_report

from pytest_bytecount.engine import CORE_VARIABLE, choose_core
from pytest_bytecount.engine.cores import compiled_core

COMPILED, WHY_NOT_COMPILED = compiled_core()
needs_compiled = pytest.mark.skipif(COMPILED is None, reason=WHY_NOT_COMPILED)


def test_the_header_names_the_mechanism_and_the_core(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing(): pass")
    core = choose_core()
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


def counts_with_each_core(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, *args: str, passed: int
) -> dict[str, dict[str, int]]:
    """Each core's counts of the suite in `pytester`, every test measured."""
    found = {}
    for core in ("python", "c"):
        monkeypatch.setenv(CORE_VARIABLE, core)
        report = pytester.path / f"{core}.json"
        result = pytester.runpytest_subprocess(
            "-p", "no:cacheprovider", *args, "--bytecount", f"--bytecount-report={report}"
        )
        result.assert_outcomes(passed=passed)
        result.stdout.fnmatch_lines([f"*(core: {core})*"])
        found[core] = counts(read_report(report))
    return found


@needs_compiled
def test_both_cores_count_an_ordinary_suite_identically(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_ordinary=ORDINARY_SUITE)
    found = counts_with_each_core(pytester, monkeypatch, passed=280)
    assert len(found["c"]) == 280
    assert found["c"] == found["python"]


@needs_compiled
def test_both_cores_record_the_same_call_paths(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_ordinary=ORDINARY_SUITE)
    found = counts_with_each_core(pytester, monkeypatch, "--bytecount-profile=prof", passed=280)
    assert found["c"] == found["python"]
    # counts_with_each_core ran the Python core first, then the C core: save
    # the C core's stacks, run the Python core again, and compare.
    compiled = {p.name: p.read_text() for p in (pytester.path / "prof").glob("*.folded")}
    monkeypatch.setenv(CORE_VARIABLE, "python")
    pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--bytecount", "--bytecount-profile=prof"
    ).assert_outcomes(passed=280)
    python = {p.name: p.read_text() for p in (pytester.path / "prof").glob("*.folded")}
    assert len(compiled) == 280
    assert python == compiled


#: Objects that die as a local holding their last reference is rebound or
#: deleted, running a `__del__` or a weakref callback: asyncio's event loop
#: does it to each finished task (its `WeakSet` of tasks), as here.
DYING_OBJECTS = """
import asyncio
import weakref

def test_asyncio_gather():
    async def one(n):
        await asyncio.sleep(0)
        return n

    async def main():
        return await asyncio.gather(*(one(i) for i in range(3)))

    asyncio.run(main())

class Finalized:
    def __del__(self):
        sum(range(3))

LIVE = weakref.WeakSet()

def test_rebound():
    for _ in range(3):
        thing = Finalized()
        LIVE.add(thing)
        thing = None

def test_deleted():
    thing = Finalized()
    del thing

def test_cell_rebound():
    thing = Finalized()
    def read():
        return thing
    thing = None
    assert read() is None

def test_exception_name_deleted():
    try:
        raise KeyError(Finalized())
    except KeyError as error:
        assert error.args
"""


@needs_compiled
def test_both_cores_count_what_a_dying_local_runs_identically(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On 3.10 the Python core used to miss it: the trampoline of a Python
    # trace function kept the old value in f_locals, to die inside it.
    pytester.makepyfile(test_dying=DYING_OBJECTS)
    found = counts_with_each_core(pytester, monkeypatch, passed=5)
    assert len(found["c"]) == 5
    assert found["c"] == found["python"]


#: Code that saves the trace function and puts it back, as doctest does,
#: in the middle of a measured frame that goes on working afterwards.
PUTS_BACK_THE_TRACER = '''
import sys

def work(n):
    return sum(i * i for i in range(n))

def put_back():
    saved = sys.gettrace()
    sys.settrace(saved)

def test_block(bytecount):
    with bytecount.measure():
        work(10)
        put_back()
        work(20)
        total = 0
        for i in range(30):
            total += i

def test_call(bytecount):
    def body():
        put_back()
        x = 0
        for i in range(40):
            x += i
        return work(x % 7)
    bytecount(body)

def doubled(x):
    """
    >>> doubled(21)
    42
    """
    return x * 2
'''


@needs_compiled
def test_code_putting_back_the_tracer_it_found_counts_the_same_on_both_cores(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On 3.10/3.11, sys.gettrace() answers with the compiled core's object,
    # and sys.settrace() of it installs CPython's trampoline in its place:
    # counting must go on through it, in the frames already running too.
    pytester.makepyfile(test_put_back=PUTS_BACK_THE_TRACER)
    found = counts_with_each_core(pytester, monkeypatch, "--doctest-modules", passed=3)
    assert len(found["c"]) == 3
    assert all(count > 100 for name, count in found["c"].items() if "doubled" not in name)
    assert found["c"] == found["python"]


UNDER_A_PYTHON_TRACER = """
import sys

def tracer(frame, event, arg):
    return tracer

def test_put_back_under_a_python_tracer(bytecount):
    sys.settrace(tracer)
    try:
        with bytecount.measure():
            sys.settrace(sys.gettrace())
            total = 0
            for i in range(30):
                total += i
    finally:
        sys.settrace(None)
"""


@pytest.mark.skipif(MONITORING, reason="a trace function counts on 3.10/3.11 only")
def test_under_a_python_tracer_putting_back_the_tracer_fails_on_the_compiled_core_never_undercounts(
    pytester: pytest.Pytester,
) -> None:
    # The frames a Python tracer traces keep its local trace function, which
    # the trampoline calls instead of ours: the compiled core says it cannot
    # count them; the Python core counts them.
    pytester.makepyfile(test_python_tracer=UNDER_A_PYTHON_TRACER)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly")
    if CORE == "c":
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines(
            ["*could not count*sys.settrace(sys.gettrace()) under a Python tracer*"]
        )
    else:
        result.assert_outcomes(passed=1)
