"""Counts equal the interpreter's own per-instruction events, run after run."""

from __future__ import annotations

import pytest
from corpus import CORPUS
from helpers import MONITORING, counts, read_report

#: Alone and beside another monitoring tool, by instruction and (3.12+) by block.
PER_CORPUS_FUNCTION = 4 if MONITORING else 2

EXACTNESS_TESTS = """
import pytest
from corpus import CORPUS
from oracle import count_lines

SKEW = {skew}

@pytest.fixture(params=["alone", "beside another monitoring tool"])
def other_tool(request):
    # 3.12+: with another sys.monitoring tool present the engine also watches
    # LINE events (see engine/monitoring.py); both paths must be exact.
    import sys
    if request.param == "alone" or sys.version_info < (3, 12):
        yield
        return
    sys.monitoring.use_tool_id(1, "another tool")
    yield
    sys.monitoring.free_tool_id(1)

@pytest.fixture(params=["by instruction", "by block"][: 2 if {monitoring} else 1])
def method(request, monkeypatch):
    # 3.12+ counts code that has run enough instructions by block: here
    # after a single one, so that the measurement below is of that kind.
    if request.param == "by block":
        from pytest_bytecount.engine import monitoring
        monkeypatch.setattr(monitoring, "ANALYSE_AFTER", 1)
    return request.param

def call(fn):
    try:
        fn()
    except Exception:
        pass  # the call form still records a call that raised

@pytest.mark.parametrize("name", sorted(CORPUS))
def test_call_form_matches_the_interpreter(bytecount, name, other_tool, method):
    factory = CORPUS[name]
    call(factory())  # warm: first-use costs (imports, caches) out of both counts
    expected_lines = count_lines(factory())
    expected = sum(expected_lines.values())
    if method == "by block":
        call(lambda: bytecount(factory()))  # one span, after which code is analysed
        assert counted_by_block(factory())
    call(lambda: bytecount(factory()))
    assert expected > 0
    assert bytecount.last.instructions == expected + SKEW
    assert sum(bytecount.last.by_opcode.values()) == bytecount.last.instructions
    assert bytecount.last.by_line == expected_lines
    assert list(bytecount.last.by_line.values()) == sorted(expected_lines.values(), reverse=True)

def counted_by_block(fn):
    # Internal, on purpose: the check that the method under test is used.
    from pytest_bytecount.counting import thread_meter
    analysed = thread_meter().engine._analysed
    code = getattr(fn, "__code__", None)
    if code is None:  # a functools.partial: some code was analysed
        return any(blocks is not None for _, blocks in analysed.values())
    return analysed[id(code)][1] is not None
"""


def test_every_corpus_function_counts_exactly_what_the_interpreter_reports(
    with_corpus: pytest.Pytester,
) -> None:
    with_corpus.makepyfile(test_exact=EXACTNESS_TESTS.format(skew=0, monitoring=MONITORING))
    result = with_corpus.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=PER_CORPUS_FUNCTION * len(CORPUS))


@pytest.mark.parametrize("skew", [-1, 1])
def test_one_instruction_more_or_less_would_be_caught(
    with_corpus: pytest.Pytester, skew: int
) -> None:
    with_corpus.makepyfile(test_exact=EXACTNESS_TESTS.format(skew=skew, monitoring=MONITORING))
    result = with_corpus.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=PER_CORPUS_FUNCTION * len(CORPUS))


DETERMINISM_TESTS = """
import pytest
from corpus import CORPUS

@pytest.mark.parametrize("name", sorted(set(CORPUS) - {"asyncio_event_loop"}))
def test_whole_call(name):
    fn = CORPUS[name]()
    try:
        fn()
    except Exception:
        pass

def test_fixture_blocks(bytecount):
    for name in sorted(CORPUS):
        with bytecount.measure():
            try:
                CORPUS[name]()()
            except Exception:
                pass
"""


def test_counts_are_identical_across_runs_and_hash_seeds(
    with_corpus: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_corpus.makepyfile(test_determinism=DETERMINISM_TESTS)
    runs = []
    for seed in ("0", "1", "12345", "0"):
        monkeypatch.setenv("PYTHONHASHSEED", seed)
        report = with_corpus.path / f"report-{len(runs)}.json"
        result = with_corpus.runpytest_subprocess(
            "-p", "no:cacheprovider", "--bytecount", f"--bytecount-report={report}"
        )
        result.assert_outcomes(passed=len(CORPUS))
        runs.append(counts(read_report(report)))
    assert all(count > 0 for count in runs[0].values())
    assert runs[1:] == [runs[0]] * 3


GENERATED_INPUTS_TESTS = """
import functools
from hypothesis import HealthCheck, given, settings, strategies as st
from oracle import count_events

def program(data):
    total = 0
    for x in data:
        if x % 3 == 0:
            total += x
        elif x < 0:
            try:
                raise ValueError(x)
            except ValueError:
                total -= 1
        else:
            total = total * 2 % 1000
    ranked = sorted(data, key=lambda v: (-v, v % 7))
    return ranked[:3], {v: total for v in data if v > 10}

@settings(max_examples=60, database=None, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(-50, 50), max_size=30))
def test_any_input_counts_exactly(bytecount, data):
    expected = count_events(functools.partial(program, data))
    bytecount(program, data)
    assert bytecount.last.instructions == expected
"""


def test_data_dependent_control_flow_counts_exactly_for_generated_inputs(
    with_corpus: pytest.Pytester,
) -> None:
    with_corpus.makepyfile(test_generated=GENERATED_INPUTS_TESTS)
    result = with_corpus.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
