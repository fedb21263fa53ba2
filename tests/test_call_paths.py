"""Call paths (SPEC §8): `measure(stacks=True)`, `folded()` and the totals of
`by_function`, checked against the interpreter's own per-instruction events
with the stack at each, on every corpus function and with either core."""

from __future__ import annotations

import pytest
from helpers import MONITORING

from pytest_bytecount import measure

PATHS_TESTS = """
import pytest
from corpus import CORPUS
from oracle import count_paths
from pytest_bytecount import measure

@pytest.fixture(params=["by instruction", "after analysis"][: 2 if {monitoring} else 1])
def analysed(request, monkeypatch):
    # 3.12+ counts busy code by block, charging a node a block at a time.
    if request.param == "after analysis":
        from pytest_bytecount.engine import monitoring
        monkeypatch.setattr(monitoring, "ANALYSE_AFTER", 1)

def measured(fn, stacks):
    with measure(stacks=stacks) as m:
        try:
            fn()
        except Exception:
            pass
    return m

def under(folded, frame):
    # The stacks under `frame`'s (the span's own root path cut off), as
    # the oracle gives them: from the first frame fn() entered.
    lines = dict(line.rsplit(" ", 1) for line in folded.splitlines())
    root = min((stack for stack in lines if stack.endswith(frame)), key=len)
    return {{
        stack[len(root) + 1:]: int(count)
        for stack, count in lines.items()
        if stack.startswith(root + ";")
    }}

@pytest.mark.parametrize("name", sorted(CORPUS))
def test_paths_match_the_interpreter(name, analysed):
    factory = CORPUS[name]
    measured(factory(), stacks=False)  # warm; and, after analysis, by block without stacks
    measured(factory(), stacks=False)
    expected = count_paths(factory())
    with_paths = measured(factory(), stacks=True)
    without = measured(factory(), stacks=False)
    assert with_paths.instructions == without.instructions
    assert with_paths.by_line == without.by_line
    folded = with_paths.folded()
    total = sum(int(line.rsplit(" ", 1)[1]) for line in folded.splitlines())
    assert total == with_paths.instructions
    root = f"measured (test_paths.py:{{measured.__code__.co_firstlineno}})"
    assert under(folded, root) == expected
"""


def test_call_paths_equal_the_interpreters_stacks_for_every_corpus_function(
    with_corpus: pytest.Pytester,
) -> None:
    from corpus import CORPUS

    with_corpus.makepyfile(test_paths=PATHS_TESTS.format(monitoring=MONITORING))
    result = with_corpus.runpytest_subprocess("-p", "no:cacheprovider")
    per_function = 2 if MONITORING else 1
    result.assert_outcomes(passed=per_function * len(CORPUS))


def fib(n: int) -> int:
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def test_recursion_nests_and_its_total_counts_each_instruction_once() -> None:
    with measure(stacks=True) as m:
        fib(6)
    stacks = [line.rsplit(" ", 1)[0] for line in m.folded().splitlines()]
    depths = {stack.count("fib (") for stack in stacks}
    assert depths == {0, 1, 2, 3, 4, 5, 6}  # 0: the test function itself
    (function,) = [f for f in m.by_function if f.function == "fib"]
    assert function.total == function.instructions  # fib calls only fib
    (outer,) = [f for f in m.by_function if f.function.startswith("test_recursion_nests")]
    assert outer.total == m.instructions


def test_the_frames_running_when_the_span_opens_are_the_root_path() -> None:
    def helper() -> int:
        with measure(stacks=True) as m:
            fib(3)
        return m

    m = helper()
    first = m.folded().splitlines()[0]
    assert first.startswith("test_the_frames_running_when_the_span_opens_are_the_root_path (")
    assert "helper (" in first.split(";")[1]  # 3.10 has no qualified names


def test_an_excluded_module_in_the_middle_leaves_its_callees_under_the_caller(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        middle="def call_back(fn):\n    return [fn(i) for i in range(3)]\n",
        test_excluded="""
            import middle
            from pytest_bytecount import measure

            def square(i):
                return i * i

            def test_it():
                with measure(stacks=True, exclude=["middle"]) as m:
                    middle.call_back(square)
                stacks = [line.rsplit(" ", 1)[0] for line in m.folded().splitlines()]
                assert "test_it (test_excluded.py:7);square (test_excluded.py:4)" in stacks
                assert not any("middle" in stack for stack in stacks)
            """,
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_folded_without_call_paths_says_how_to_record_them() -> None:
    with measure() as m:
        fib(3)
    assert not m.has_call_paths
    assert all(f.total is None for f in m.by_function)
    with pytest.raises(ValueError, match=r"stacks=True.*--bytecount-profile"):
        m.folded()


def test_a_nested_measurement_has_the_outer_ones_paths() -> None:
    with measure(stacks=True) as outer:
        fib(3)
        with measure() as inner:
            fib(4)
    assert inner.has_call_paths
    assert sum(int(line.rsplit(" ", 1)[1]) for line in inner.folded().splitlines()) == (
        inner.instructions
    )
    assert outer.instructions > inner.instructions


def test_explain_ends_with_the_hottest_call_paths() -> None:
    with measure(stacks=True) as m:
        fib(8)
    text = m.explain(lines=3)
    assert "the 3 hottest call paths (instructions in the innermost frame):" in text
    assert f"fib (tests/test_call_paths.py:{fib.__code__.co_firstlineno}) x" in text  # recursion
