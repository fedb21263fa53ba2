"""Tracing state is left exactly as found, and counting never fails silently."""

from __future__ import annotations

import pytest
from helpers import CORE, MONITORING, counts_beside_threads, read_report

STATE_PROBE = """
import gc
import sys
import threading

def tracing_state():
    state = {"gettrace": sys.gettrace(), "gc": gc.isenabled(), "threading": threading.gettrace()}
    if sys.version_info >= (3, 12):
        mon = sys.monitoring
        state["tools"] = [mon.get_tool(i) for i in range(6)]
        state["events"] = [mon.get_events(i) if mon.get_tool(i) else None for i in range(6)]
    return state
"""


def test_tracing_state_is_restored_after_every_kind_of_span(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(probe=STATE_PROBE)
    pytester.makepyfile(
        """
        import pytest
        from probe import tracing_state
        from pytest_bytecount import measure

        BEFORE = []

        def test_0_record():
            BEFORE.append(tracing_state())

        @pytest.mark.max_instructions(10_000)
        def test_1_marked():
            sum(range(10))

        @pytest.mark.max_instructions(1)
        def test_2_over():
            sum(i for i in range(10))

        @pytest.mark.max_instructions(10_000)
        def test_3_raises():
            raise ValueError("own failure")

        def test_4_fixture(bytecount):
            with bytecount.measure():
                bytecount(sorted, [3, 1, 2])
            with measure():
                pass

        def test_5_compare():
            assert tracing_state() == BEFORE[0]
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=4, failed=2)


def test_a_previously_installed_python_tracer_keeps_receiving_events(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import sys
        import pytest

        CALLS = []

        def tracer(frame, event, arg):
            if event == "call":
                CALLS.append(frame.f_code.co_name)
            return None

        def target():
            return 1

        @pytest.fixture
        def traced():
            previous = sys.gettrace()
            sys.settrace(tracer)
            yield
            sys.settrace(previous)

        def test_tracer_survives(traced, bytecount):
            bytecount(target)
            assert sys.gettrace() is tracer
            CALLS.clear()
            target()
            assert CALLS == ["target"]
            assert bytecount.last.instructions > 0
        """
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


@pytest.mark.skipif(not MONITORING, reason="tool ids exist on 3.12+ only")
def test_with_every_tool_id_taken_marked_tests_error_and_plain_runs_warn_once(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(
        """
        import sys
        import pytest

        @pytest.fixture(autouse=True)
        def occupy_tool_ids():
            taken = [i for i in (3, 4, 5) if sys.monitoring.get_tool(i) is None]
            for i in taken:
                sys.monitoring.use_tool_id(i, "another tool")
            yield
            for i in taken:
                sys.monitoring.free_tool_id(i)
        """
    )
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.max_instructions(1000)
        def test_marked():
            pass

        def test_fixture(bytecount):
            bytecount(len, "x")

        def test_plain_1():
            pass

        def test_plain_2():
            pass
        """
    )
    result = pytester.runpytest_subprocess("--bytecount", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_marked*",
            "*pytest-bytecount cannot count here: no free sys.monitoring tool id "
            "for pytest-bytecount (held: 4 by 'another tool', 3 by 'another tool', "
            "5 by 'another tool')*",
        ]
    )
    result.stdout.fnmatch_lines(
        ["*ERROR at setup of test_fixture*", "*cannot count here: no free sys.monitoring*"]
    )
    assert result.stdout.str().count("BytecountWarning: pytest-bytecount is not counting") == 1
    result.stdout.no_fnmatch_line("*Traceback*")


@pytest.mark.skipif(MONITORING, reason="settrace engine: 3.10/3.11")
def test_a_test_that_removes_the_tracer_fails_instead_of_reporting_a_partial_count(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import sys
        import pytest

        @pytest.mark.max_instructions(10_000)
        def test_removes_tracer():
            sys.settrace(None)
            sum(range(10))
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*pytest-bytecount could not count this test: the trace function was replaced*"]
    )


@pytest.mark.skipif(not MONITORING, reason="tool ids exist on 3.12+ only")
def test_a_test_that_frees_our_tool_id_fails_instead_of_reporting_a_partial_count(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import sys
        import pytest

        @pytest.mark.max_instructions(10_000)
        def test_frees_tool():
            for i in range(6):
                if sys.monitoring.get_tool(i) == "pytest-bytecount":
                    sys.monitoring.free_tool_id(i)
            sum(range(10))
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*pytest-bytecount could not count this test: *tool id * was taken over by None*"]
    )


def test_on_an_interpreter_that_cannot_be_traced_nothing_is_a_silent_zero(
    pytester: pytest.Pytester,
) -> None:
    # Stands in for PyPy and other interpreters: no engine can be created.
    pytester.makeconftest(
        """
        import pytest_bytecount.counting
        from pytest_bytecount import CountingUnavailable

        def no_engine():
            raise CountingUnavailable("pypy is not supported: instruction counting needs CPython")

        pytest_bytecount.counting.create_engine = no_engine
        """
    )
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.max_instructions(100)
        def test_marked():
            pass

        def test_fixture(bytecount):
            bytecount(len, "x")

        def test_plain_1():
            pass

        def test_plain_2():
            pass
        """
    )
    report = pytester.path / "r.json"
    result = pytester.runpytest_subprocess(
        "--bytecount", f"--bytecount-report={report}", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=2, errors=2)
    result.stdout.fnmatch_lines(
        [
            "bytecount: unavailable: pypy is not supported*",
            "*ERROR at setup of test_marked*",
            "*pytest-bytecount cannot count here: pypy is not supported*",
        ]
    )
    assert result.stdout.str().count("BytecountWarning: pytest-bytecount is not counting") == 1
    assert read_report(report)["tests"] == []


HANDED_ON = """
import sys
import threading
from pytest_bytecount import measure

SEEN = []

def recorder(frame, event, arg):
    if event == "call":
        SEEN.append(frame.f_code.co_name)
    return None

def after_the_span():
    pass

def test_a_tracer_saved_during_a_span_and_put_back_after_it_hands_back():
    sys.settrace(recorder)
    try:
        with measure():
            saved = sys.gettrace()
        sys.settrace(saved)
        after_the_span()
        assert "after_the_span" in SEEN
        assert sys.gettrace() is recorder
    finally:
        sys.settrace(None)
"""


def test_a_tracer_saved_during_a_span_and_put_back_after_it_hands_the_thread_back(
    pytester: pytest.Pytester,
) -> None:
    # On 3.10/3.11 sys.gettrace() answers with our tracer during a span; once
    # the span is over, it must act as the tracer from before (a debugger,
    # coverage) and hand the thread back to it.
    pytester.makepyfile(test_handed_on=HANDED_ON)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


HANDED_TO_THREADS = """
import sys
import threading

def spin():
    t = 0
    for i in range(50_000):
        t += i

def idle():
    pass

def run_in_thread_handed_our_tracer(target):
    threading.settrace(sys.gettrace())  # as coverage does to follow threads
    try:
        thread = threading.Thread(target=target)
        thread.start()
        thread.join()
    finally:
        threading.settrace(None)

def test_spinning_thread(bytecount):
    bytecount(run_in_thread_handed_our_tracer, spin)

def test_idle_thread(bytecount):
    bytecount(run_in_thread_handed_our_tracer, idle)
"""


def test_a_thread_handed_the_span_s_tracer_is_not_counted(pytester: pytest.Pytester) -> None:
    found = counts_beside_threads(pytester, HANDED_TO_THREADS, passed=2, subprocess=True)
    assert found["test_spinning_thread"] == found["test_idle_thread"] > 0


SWAPPED_MID_SPAN = """
import sys

def other(frame, event, arg):
    return None

def numbers():
    for i in range(20):
        yield i

def test_swapped(bytecount):
    with bytecount.measure():
        values = numbers()
        next(values)
        saved = sys.gettrace()
        sys.settrace(other)
        next(values)
        next(values)
        sys.settrace(saved)
"""


@pytest.mark.skipif(
    MONITORING or CORE != "c",
    reason="the compiled trace function's case; the Python core counts the frames it already "
    "traced and, like any tracer, cannot see those called under the other one",
)
def test_a_trace_function_swapped_in_mid_span_fails_the_span_never_undercounts(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_swapped=SWAPPED_MID_SPAN)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*the trace function was replaced during the span*"])
