"""Calls into C (`measure(c_calls=True)`, `Measurement.c_calls`), checked
against the interpreter's own call events on every corpus function, with
either core: 3.12+ all of them, 3.11 what its profile function reports, 3.10
none (docs/internals.rst, "Calls into C")."""

from __future__ import annotations

import sys

import pytest
from helpers import MONITORING, read_report

from pytest_bytecount import measure

C_CALLS_TESTS = """
import pytest
from corpus import CORPUS
from oracle import count_c_calls
from pytest_bytecount import measure

@pytest.fixture(params=["by instruction", "after analysis"][: 2 if {monitoring} else 1])
def analysed(request, monkeypatch):
    if request.param == "after analysis":
        from pytest_bytecount.engine import monitoring
        monkeypatch.setattr(monitoring, "ANALYSE_AFTER", 1)

def measured(fn, **options):
    with measure(**options) as m:
        try:
            fn()
        except Exception:
            pass
    return m

def in_corpus(calls):
    return {{key: count for key, count in calls.items() if key[1].endswith("corpus.py")}}

@pytest.mark.parametrize("name", sorted(CORPUS))
def test_c_calls_match_the_interpreter(name, analysed):
    factory = CORPUS[name]
    measured(factory())  # warm; and, after analysis, by block
    measured(factory())
    expected = in_corpus(count_c_calls(factory()))
    with_calls = measured(factory(), c_calls=True, stacks=True)
    without = measured(factory())
    assert with_calls.instructions == without.instructions
    assert with_calls.by_line == without.by_line
    assert in_corpus(with_calls.c_calls) == expected
    if name == "calls_into_c":
        assert expected  # the corpus function made calls into C to compare
"""


needs_311 = pytest.mark.skipif(sys.version_info < (3, 11), reason="3.10 reports no calls into C")


@needs_311
def test_c_calls_equal_the_interpreters_call_events_for_every_corpus_function(
    with_corpus: pytest.Pytester,
) -> None:
    from corpus import CORPUS

    with_corpus.makepyfile(test_c_calls=C_CALLS_TESTS.format(monitoring=MONITORING))
    result = with_corpus.runpytest_subprocess("-p", "no:cacheprovider")
    per_function = 2 if MONITORING else 1
    result.assert_outcomes(passed=per_function * len(CORPUS))


def work() -> list[str]:
    words = sorted(["b", "a"])
    return [word.strip() for word in words for _ in "xyz"]


@needs_311
def test_each_call_is_named_with_the_line_that_made_it() -> None:
    with measure(c_calls=True) as m:
        work()
    line = work.__code__.co_firstlineno
    assert m.c_calls == {
        ("str.strip", __file__, line + 2): 6,
        ("sorted", __file__, line + 1): 1,
    }


def test_c_calls_need_asking_for() -> None:
    with measure() as m:
        work()
    with pytest.raises(ValueError, match="c_calls=True"):
        _ = m.c_calls


@pytest.mark.skipif(sys.version_info >= (3, 11), reason="3.10 only")
def test_on_310_asking_says_why_there_are_none() -> None:
    with measure(c_calls=True) as m:
        work()
    with pytest.raises(ValueError, match=r"not counted on CPython 3\.10"):
        _ = m.c_calls


@needs_311
def test_a_nested_measurement_holds_its_own_calls() -> None:
    with measure(c_calls=True) as outer:
        sorted([2, 1])
        with measure() as inner:
            work()
    line = work.__code__.co_firstlineno
    assert inner.c_calls == {
        ("str.strip", __file__, line + 2): 6,
        ("sorted", __file__, line + 1): 1,
    }
    here = test_a_nested_measurement_holds_its_own_calls.__code__.co_firstlineno
    assert outer.c_calls[("sorted", __file__, here + 3)] == 1  # under the decorator and def
    assert all(outer.c_calls[key] == count for key, count in inner.c_calls.items())


TOKENS = """
import pytest

def tokens(text):
    return sorted(word.strip(",.") for word in text.split())

@pytest.mark.max_instructions(20)
def test_tokens_over():
    assert tokens("b, a. c") == ["a", "b", "c"]
"""


@needs_311
def test_a_failure_names_the_calls_into_c_where_the_run_counts_them(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_tokens=TOKENS)
    page = pytester.path / "page.html"
    result = pytester.runpytest(f"--bytecount-html={page}")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*calls into C (*, one CALL instruction each*): str.strip 3,*"])
    assert '<h3>Calls into C</h3><p class="muted">' in page.read_text()
    # Without attribution asked for, calls into C cost nothing and are not named.
    plain = pytester.runpytest()
    plain.assert_outcomes(failed=1)
    assert "calls into C" not in plain.stdout.str()


@needs_311
def test_explain_names_the_calls_into_c_of_each_hot_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_tokens=TOKENS)
    result = pytester.runpytest("--bytecount-explain", "-p", "no:randomly")
    result.stdout.fnmatch_lines(
        [
            "*test_tokens.py:4  return sorted(word.strip*",
            "*calls into C here: str.strip 3, sorted 1, str.split 1",
        ]
    )


@needs_311
def test_the_report_carries_the_calls_into_c_and_the_same_count(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_tokens=TOKENS)
    with_calls = pytester.path / "with.json"
    without = pytester.path / "without.json"
    pytester.runpytest(f"--bytecount-report={with_calls}", "--bytecount-explain")
    pytester.runpytest(f"--bytecount-report={without}")
    (entry,) = read_report(with_calls)["tests"]
    (plain,) = read_report(without)["tests"]
    assert entry["instructions"] == plain["instructions"]
    assert "c_calls" not in plain
    named = {(call["name"], call["file"], call["line"]): call["calls"] for call in entry["c_calls"]}
    assert named == {
        ("str.strip", "test_tokens.py", 4): 3,
        ("str.split", "test_tokens.py", 4): 1,
        ("sorted", "test_tokens.py", 4): 1,
    }


@needs_311
def test_another_threads_calls_are_not_the_spans() -> None:
    import threading

    started, release = threading.Event(), threading.Event()

    def busy() -> None:
        started.set()
        while not release.is_set():
            sorted([3, 1, 2])

    thread = threading.Thread(target=busy)
    thread.start()
    started.wait()
    try:
        with measure(c_calls=True) as m:
            for _ in range(200):
                len("x")
    finally:
        release.set()
        thread.join()
    names = {name for name, _, _ in m.c_calls}
    assert names == ({"len", "range"} if MONITORING else {"len"})
    assert sum(n for (name, _, _), n in m.c_calls.items() if name == "len") == 200
