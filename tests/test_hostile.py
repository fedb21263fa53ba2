"""Measured code that fights back: interrupts, exits, tracers and monitoring
tools of its own, runaway recursion, long loops, suspended generators.

The contract under test (SPEC §1, §3, §10): a measured test ends with an exact
count or with a bytecount failure that says why, never a silent wrong number;
exceptions reach the test as they would without the plugin; and tracing state
is left as it was found. Runs that touch tracing state, tool ids, signals or
the process's exit are subprocesses.
"""

from __future__ import annotations

from typing import Any

import pytest
from helpers import MONITORING, PYTHON_TRACER, TAG, counts, read_report
from suites import CLEAN_STATE, STATE_AT_EXIT


def state_at_exit(pytester: pytest.Pytester) -> dict[str, object]:
    return read_report(pytester.path / "state-at-exit.json")


def own_counts(report: dict[str, Any], nodeid: str) -> dict[str, int]:
    """Per-function own instructions of one test in a JSON report."""
    (test,) = [t for t in report["tests"] if t["nodeid"] == nodeid]
    return {f["function"].rpartition(".")[2]: f["instructions"] for f in test["top_functions"]}


# -- KeyboardInterrupt -------------------------------------------------------


def test_keyboard_interrupt_in_a_marked_test_interrupts_cleanly_and_writes_no_budgets(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(STATE_AT_EXIT)
    pytester.makepyfile(
        test_interrupted="""
        import pytest

        def test_0_passes():
            sum(range(10))

        @pytest.mark.max_instructions(100_000)
        def test_1_interrupted():
            sum(range(10))
            raise KeyboardInterrupt

        def test_2_never_runs():
            pass
        """
    )
    budgets = pytester.mkdir("budgets") / "bytecount.toml"
    original = (
        f'# Hand-kept budgets.\n\n["{TAG}"]\n'
        '"test_interrupted.py::test_0_passes" = 3\n'
        '"test_interrupted.py::test_gone" = 7\n'
    ).encode()
    budgets.write_bytes(original)
    pytester.mkdir("out")

    result = pytester.runpytest_subprocess(
        "--bytecount-update",
        "--bytecount-report=out/r.json",
        "-o",
        "bytecount_budgets=budgets/bytecount.toml",
        "-p",
        "no:cacheprovider",
    )

    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*KeyboardInterrupt*"])
    result.stdout.no_fnmatch_line("*test_2_never_runs*PASSED*")
    # Interrupted: the budgets file is not rewritten, and no temporary file
    # stays beside it or beside the report, which is written (SPEC §5).
    assert budgets.read_bytes() == original
    assert [p.name for p in (pytester.path / "budgets").iterdir()] == ["bytecount.toml"]
    assert [p.name for p in (pytester.path / "out").iterdir()] == ["r.json"]
    assert state_at_exit(pytester) == CLEAN_STATE


def test_keyboard_interrupt_in_a_fixture_measurement_interrupts_cleanly(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(STATE_AT_EXIT)
    pytester.makepyfile(
        test_interrupted="""
        def interrupt():
            raise KeyboardInterrupt

        def test_1_interrupted(bytecount):
            with bytecount.measure():
                bytecount(interrupt)

        def test_2_never_runs():
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.assert_outcomes()
    assert state_at_exit(pytester) == CLEAN_STATE


#: Ctrl-C arrives at an arbitrary instruction; while a test is counted that is
#: most often inside the counting callback. This handler makes it land there:
#: it raises only once the signal is handled in a pytest_bytecount frame past
#: its first line (or, failing that, anywhere after a few hundred tries).
SIGNAL_TESTS = """
import signal
import time
import pytest

TRIES = [0]

def ctrl_c_inside_the_counter(signum, frame):
    TRIES[0] += 1
    module = frame.f_globals.get("__name__", "")
    inside = module.startswith("pytest_bytecount") and frame.f_lineno != frame.f_code.co_firstlineno
    if inside or TRIES[0] > 300:
        raise {exception}(f"raised in {{module}}")
    signal.setitimer(signal.ITIMER_REAL, 0.001)

def spin_until_interrupted():
    signal.signal(signal.SIGALRM, ctrl_c_inside_the_counter)
    signal.setitimer(signal.ITIMER_REAL, 0.001)
    deadline = time.monotonic() + 3  # a safety net, not a measurement
    while time.monotonic() < deadline:
        pass
    print("STILL RUNNING after the signal")

{test}
"""

MARKED_SPIN = """
@pytest.mark.max_instructions(10**12)
def test_1_spins():
    spin_until_interrupted()

def test_2_never_runs():
    print("SECOND TEST RAN")
"""

FIXTURE_SPIN = """
def test_1_spins(bytecount):
    bytecount(spin_until_interrupted)

def test_2_never_runs():
    print("SECOND TEST RAN")
"""


@pytest.mark.parametrize("test", [MARKED_SPIN, FIXTURE_SPIN], ids=["marked", "fixture"])
def test_ctrl_c_while_counting_interrupts_the_session(pytester: pytest.Pytester, test: str) -> None:
    pytester.makeconftest(STATE_AT_EXIT)
    pytester.makepyfile(test_ctrl_c=SIGNAL_TESTS.format(exception="KeyboardInterrupt", test=test))
    result = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider")
    result.stdout.no_fnmatch_line("*STILL RUNNING*")
    result.stdout.no_fnmatch_line("*SECOND TEST RAN*")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert state_at_exit(pytester) == CLEAN_STATE


def test_an_exception_raised_by_a_signal_handler_reaches_the_measured_code(
    pytester: pytest.Pytester,
) -> None:
    test = """
@pytest.mark.max_instructions(10**12)
def test_alarm():
    with pytest.raises(TimeoutError):
        spin_until_interrupted()
    print("CAUGHT the alarm")
"""
    pytester.makepyfile(test_alarm=SIGNAL_TESTS.format(exception="TimeoutError", test=test))
    result = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider")
    result.stdout.no_fnmatch_line("*STILL RUNNING*")
    result.stdout.fnmatch_lines(["*CAUGHT the alarm*"])


# -- SystemExit --------------------------------------------------------------


def test_system_exit_in_a_measured_test_fails_it_and_later_tests_measure_correctly(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(STATE_AT_EXIT)
    pytester.makepyfile(
        test_exits="""
        import sys
        import pytest

        def work():
            return sum(range(10))

        def work_then_exit():
            work()
            sys.exit(5)

        @pytest.mark.max_instructions(10_000)
        def test_0_before():
            work()

        @pytest.mark.max_instructions(10_000)
        def test_1_exits():
            work()
            sys.exit(3)

        def test_2_fixture_exits(bytecount):
            bytecount(work_then_exit)

        def test_3_fixture_catches_the_exit(bytecount):
            with pytest.raises(SystemExit):
                bytecount(work_then_exit)
            assert bytecount.last is not None and bytecount.last.instructions > 0

        @pytest.mark.max_instructions(10_000)
        def test_4_after():
            work()
        """
    )
    result = pytester.runpytest_subprocess("--bytecount-report=r.json", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, failed=2)
    result.stdout.fnmatch_lines(
        ["FAILED test_exits.py::test_1_exits - SystemExit: 3", "FAILED *test_2_fixture_exits*"]
    )
    report = read_report(pytester.path / "r.json")
    recorded = counts(report)
    outcomes = {t["nodeid"]: t["outcome"] for t in report["tests"]}
    assert outcomes["test_exits.py::test_1_exits"] == "failed"
    assert recorded["test_exits.py::test_1_exits"] > recorded["test_exits.py::test_0_before"]
    assert recorded["test_exits.py::test_4_after"] == recorded["test_exits.py::test_0_before"]
    assert recorded["test_exits.py::test_3_fixture_catches_the_exit"] > 0
    assert state_at_exit(pytester) == CLEAN_STATE


# -- tracers and monitoring tools of the measured code ------------------------

#: Inner tests measuring code that switches another tracer or monitoring tool
#: on and off mid-span, against the same code switching nothing: `nothing`
#: costs the caller the same instructions as the real switches.
SWITCHING_TESTS = """
import cProfile
import sys
import pytest

mon = sys.monitoring if sys.version_info >= (3, 12) else None
OTHER = 2  # the profiler id, as a tool of the test's own would take it
EVENTS = []

def tracer(frame, event, arg):
    EVENTS.append(event)
    return tracer

def nothing(arg):
    pass

def tool_on(arg):
    mon.use_tool_id(OTHER, "the test's own tool")
    mon.register_callback(OTHER, mon.events.INSTRUCTION, lambda code, offset: None)
    mon.set_events(OTHER, mon.events.INSTRUCTION)

def tool_off(arg):
    mon.set_events(OTHER, 0)
    mon.register_callback(OTHER, mon.events.INSTRUCTION, None)
    mon.free_tool_id(OTHER)

PROFILER = cProfile.Profile()

def profiler_on(arg):
    PROFILER.enable()

def profiler_off(arg):
    PROFILER.disable()

SWITCHES = {
    "settrace": (sys.settrace, sys.settrace),
    "setprofile": (sys.setprofile, sys.setprofile),
    "tool": (tool_on, tool_off),
    "profiler": (profiler_on, profiler_off),
}

# Fresh code objects for every test: CPython's per-code-object state must not
# carry over from one switch to the next.
MEASURED = '''
def work():  # no callees: its own instructions are all of its call's
    total = 0
    for i in range(20):
        total += i * i
    return total

def calls_work(on, off):
    work()
    on(tracer)
    work()
    off(None)
    work()

def loops_itself(on, off):
    total = 0
    for i in range(20):
        total += i * i
    on(tracer)
    for i in range(20):
        total += i * i
    off(None)
    for i in range(20):
        total += i * i
'''

def fresh():
    namespace = {"__name__": "measured", "tracer": tracer}
    exec(compile(MEASURED, "measured.py", "exec"), namespace)
    return namespace

def own(measurement, function):
    return {f.function: f.instructions for f in measurement.functions}[function]

@pytest.mark.parametrize("switch", list(SWITCHES))
def test_later_calls(bytecount, switch):
    calls_work = fresh()["calls_work"]
    bytecount(calls_work, nothing, nothing)
    expected = own(bytecount.last, "work")
    bytecount(calls_work, *SWITCHES[switch])
    assert own(bytecount.last, "work") == expected

@pytest.mark.parametrize("switch", list(SWITCHES))
def test_running_frame(bytecount, switch):
    loops_itself = fresh()["loops_itself"]
    bytecount(loops_itself, nothing, nothing)
    expected = own(bytecount.last, "loops_itself")
    bytecount(loops_itself, *SWITCHES[switch])
    assert own(bytecount.last, "loops_itself") == expected
"""

MULTI_TOOL_BUG = (
    "CPython 3.12+ zeroes a code object's per-instruction tool table the first time "
    "a second tool (legacy tracing, cProfile, another sys.monitoring tool) shares an "
    "event with ours on it: our INSTRUCTION events there stop"
)


def run_switching(pytester: pytest.Pytester, *select: str) -> pytest.RunResult:
    pytester.makeconftest(STATE_AT_EXIT)
    pytester.makepyfile(test_switching=SWITCHING_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *select)
    assert state_at_exit(pytester) == CLEAN_STATE
    return result


@pytest.mark.xfail(
    MONITORING,
    strict=True,
    reason=MULTI_TOOL_BUG + "; a frame that was running when that happened loses the "
    "rest of its instructions, unnoticed",
)
def test_a_tracer_or_tool_switched_on_mid_span_never_leaves_a_silently_wrong_count(
    pytester: pytest.Pytester,
) -> None:
    result = run_switching(
        pytester, "-k", "not setprofile and not tool and not profiler" if not MONITORING else ""
    )
    # Each test either counts exactly or fails saying it could not count.
    result.stdout.no_fnmatch_line("FAILED * - assert*")
    result.stdout.no_fnmatch_line("FAILED * - AssertionError*")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) + outcomes.get("failed", 0) == (8 if MONITORING else 2)
    if not MONITORING:
        # sys.settrace replaces our tracer: no count rather than a wrong one.
        result.stdout.fnmatch_lines(["*could not count: the trace function was replaced*"])


@pytest.mark.skipif(not MONITORING, reason="settrace engine: refuses to count instead (above)")
@pytest.mark.xfail(strict=True, reason=MULTI_TOOL_BUG)
def test_a_tracer_or_tool_switched_on_mid_span_leaves_the_count_exact(
    pytester: pytest.Pytester,
) -> None:
    run_switching(pytester).assert_outcomes(passed=8)


def test_a_measured_test_that_installs_a_tracer_keeps_tracing_state_clean(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(STATE_AT_EXIT)
    pytester.makepyfile(
        """
        import sys
        import pytest

        def tracer(frame, event, arg):
            return tracer

        @pytest.mark.max_instructions(10**6)
        def test_1_marked():
            sys.settrace(tracer)
            sum(range(10))
            sys.settrace(None)

        def test_2_after():
            assert sys.gettrace() is None
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    if MONITORING:
        # sys.settrace and sys.monitoring are separate mechanisms: counting goes on.
        result.assert_outcomes(passed=2)
    else:
        # Our tracer was replaced: no count rather than a wrong one.
        result.assert_outcomes(passed=1, failed=1)
        result.stdout.fnmatch_lines(
            ["*could not count this test: the trace function was replaced during the span*"]
        )
    assert state_at_exit(pytester) == CLEAN_STATE


#: cpython #157900: a second tool turning on INSTRUCTION events, globally or
#: on one code object, can drop the first tool's INSTRUCTION callbacks on code
#: already instrumented. `work` is called before, during and after the other
#: tool's events; `nothing` costs the caller what the switches cost.
SECOND_TOOL_TESTS = """
import sys
import pytest

mon = sys.monitoring
OTHER = 2  # the profiler id, as a tool of the test's own would take it
SEEN = []

MEASURED = '''
def work():
    total = 0
    for i in range(20):
        total += i * i
    return total

def calls_work(on, off):
    work()
    on()
    work()
    off()
    work()
'''

def fresh():
    namespace = {"__name__": "measured"}
    exec(compile(MEASURED, "measured.py", "exec"), namespace)
    return namespace

def nothing():
    pass

def switches(scope, code):
    def on():
        mon.use_tool_id(OTHER, "the test's own tool")
        mon.register_callback(OTHER, mon.events.INSTRUCTION, lambda c, o: SEEN.append(o))
        if scope == "global":
            mon.set_events(OTHER, mon.events.INSTRUCTION)
        else:
            mon.set_local_events(OTHER, code, mon.events.INSTRUCTION)

    def off():
        mon.set_events(OTHER, 0)
        mon.set_local_events(OTHER, code, 0)
        mon.register_callback(OTHER, mon.events.INSTRUCTION, None)
        mon.free_tool_id(OTHER)

    return on, off

@pytest.mark.parametrize("scope", ["global", "local"])
def test_second_tool(bytecount, scope):
    bytecount(fresh()["calls_work"], nothing, nothing)
    expected = bytecount.last.instructions
    namespace = fresh()
    SEEN.clear()
    bytecount(namespace["calls_work"], *switches(scope, namespace["work"].__code__))
    assert SEEN, "the other tool saw no instruction"
    assert bytecount.last.instructions == expected
"""


@pytest.mark.skipif(not MONITORING, reason="sys.monitoring exists on 3.12+ only")
@pytest.mark.parametrize("scope", ["global", "local"])
def test_a_second_tool_turning_on_instruction_events_mid_span_never_leaves_a_smaller_count(
    pytester: pytest.Pytester, scope: str
) -> None:
    """The guard for cpython #157900: the span either counts exactly or fails
    saying the interpreter stopped reporting, never reports fewer instructions."""
    pytester.makeconftest(STATE_AT_EXIT)
    pytester.makepyfile(test_second_tool=SECOND_TOOL_TESTS)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-k", scope, "--bytecount-report=report.json"
    )
    outcomes = result.parseoutcomes()
    if outcomes.get("failed"):
        result.stdout.fnmatch_lines(
            ["*could not count*: the interpreter stopped reporting the instructions of work *"]
        )
        # Nor is the measurement that did succeed recorded as the test's count.
        assert counts(read_report(pytester.path / "report.json")) == {}
    result.stdout.no_fnmatch_line("E * assert *")
    assert outcomes.get("passed", 0) + outcomes.get("failed", 0) == 1
    assert state_at_exit(pytester) == CLEAN_STATE


@pytest.mark.skipif(not MONITORING, reason="sys.monitoring exists on 3.12+ only")
def test_another_monitoring_tool_on_for_a_whole_measurement_leaves_the_count_exact(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(STATE_AT_EXIT)
    pytester.makepyfile(
        """
        import sys

        mon = sys.monitoring
        SEEN = []

        def work():
            return sorted(str(i) for i in range(20))

        def test_whole(bytecount):
            bytecount(work)
            alone = bytecount.last.instructions
            mon.use_tool_id(2, "the test's own tool")
            mon.register_callback(2, mon.events.INSTRUCTION, lambda code, offset: SEEN.append(1))
            mon.set_events(2, mon.events.INSTRUCTION)
            try:
                bytecount(work)
            finally:
                mon.set_events(2, 0)
                mon.free_tool_id(2)
            assert SEEN, "the other tool saw no instruction"
            assert bytecount.last.instructions == alone
        """
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
    assert state_at_exit(pytester) == CLEAN_STATE


# -- RecursionError and exceptions leaving a measurement -----------------------

RECURSION_TESTS = """
import pytest

def down(n):
    return down(n + 1)

def recurse_and_recover():
    try:
        down(0)
    except RecursionError:
        return "recovered"

@pytest.mark.max_instructions(10**9)
def test_1_marked():
    with pytest.raises(RecursionError):
        down(0)
    print("REACHED the test: marked")

def test_2_fixture(bytecount):
    with pytest.raises(RecursionError):
        bytecount(down, 0)
    print("REACHED the test: fixture")

def test_3_fixture_recovers(bytecount):
    assert bytecount(recurse_and_recover) == "recovered"

@pytest.mark.max_instructions(10**6)
def test_4_after():
    sum(range(10))
"""


def run_recursion_twice(pytester: pytest.Pytester, *select: str) -> list[pytest.RunResult]:
    pytester.makeconftest(STATE_AT_EXIT)
    pytester.makepyfile(test_recursion=RECURSION_TESTS)
    return [
        pytester.runpytest_subprocess(
            "-s", f"--bytecount-report=r{run}.json", "-p", "no:cacheprovider", *select
        )
        for run in (1, 2)
    ]


def test_recursion_error_in_a_marked_test_reaches_it_and_is_counted_or_refused_with_a_reason(
    pytester: pytest.Pytester,
) -> None:
    runs = run_recursion_twice(pytester, "-k", "not test_2")
    for result in runs:
        result.stdout.fnmatch_lines(["*REACHED the test: marked*"])
        result.stdout.no_fnmatch_line("*INTERNALERROR*")
        if not PYTHON_TRACER:
            result.assert_outcomes(passed=3)
        else:
            # At the recursion limit CPython cannot call our Python trace
            # function, and drops it: the tests fail saying counting failed.
            result.assert_outcomes(passed=1, failed=2)
            result.stdout.fnmatch_lines(
                [
                    "*_ test_1_marked _*",
                    "pytest-bytecount could not count this test: *",
                    "*_ test_3_fixture_recovers _*",
                    "*pytest-bytecount could not count: *",
                ]
            )
    first, second = (counts(read_report(pytester.path / f"r{run}.json")) for run in (1, 2))
    assert first == second
    assert len(first) == (1 if PYTHON_TRACER else 3)
    assert all(count > 0 for count in first.values())
    assert state_at_exit(pytester) == CLEAN_STATE


def test_recursion_error_leaving_a_fixture_measurement_is_counted_or_refused_with_a_reason(
    pytester: pytest.Pytester,
) -> None:
    for result in run_recursion_twice(pytester, "-k", "test_2 or test_4"):
        result.stdout.fnmatch_lines(["*REACHED the test: fixture*"])
        if not PYTHON_TRACER:
            result.assert_outcomes(passed=2)
        else:
            result.assert_outcomes(passed=1, failed=1)
            result.stdout.fnmatch_lines(["*_ test_2_fixture _*", "*could not count*"])
    first, second = (counts(read_report(pytester.path / f"r{run}.json")) for run in (1, 2))
    assert first == second
    assert all(count > 0 for count in first.values())


def test_a_counting_failure_inside_a_measurement_that_raised_still_fails_the_test(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import sys
        import pytest

        def work():
            return sum(range(10))

        def break_counting():
            if sys.version_info >= (3, 12):
                for i in range(6):
                    if sys.monitoring.get_tool(i) == "pytest-bytecount":
                        sys.monitoring.free_tool_id(i)
            else:
                sys.settrace(None)

        def break_counting_then_raise():
            work()
            break_counting()
            raise ValueError("the measured code's own error")

        def test_call_form(bytecount):
            bytecount(work)
            with pytest.raises(ValueError):
                bytecount(break_counting_then_raise)

        def test_block_form(bytecount):
            with pytest.raises(ValueError):
                with bytecount.measure():
                    break_counting_then_raise()
        """
    )
    result = pytester.runpytest_subprocess("--bytecount-report=r.json", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*could not count*", "*could not count*"])
    assert counts(read_report(pytester.path / "r.json")) == {}


# -- long spans --------------------------------------------------------------


def test_memory_stays_bounded_however_many_instructions_a_span_executes(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_long="""
        import tracemalloc

        def leaf(i):
            return i * 2 + 1

        def middle(i):
            return leaf(i) + leaf(i + 1)

        def work(n):
            total = 0
            for i in range(n):
                total += middle(i)
            return total

        def peak_growth(bytecount, n):
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            bytecount(work, n)
            return tracemalloc.get_traced_memory()[1] - before

        def test_long(bytecount):
            bytecount(work, 10)  # first-use allocations stay out of the figures
            tracemalloc.start()
            try:
                one_million = peak_growth(bytecount, 32_000)
                instructions = bytecount.last.instructions
                three_million = peak_growth(bytecount, 96_000)
            finally:
                tracemalloc.stop()
            assert 900_000 < instructions < 1_200_000
            assert three_million - one_million < 200_000, (one_million, three_million)
        """
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


# -- generators and coroutines suspended across a span's start ----------------

SUSPENDED_TESTS = """
import functools
import pytest
from oracle import count_events

def squares(n):
    total = 0
    for i in range(n):
        total += i * i
        yield total

class Suspend:
    def __await__(self):
        yield "suspended"

async def child(x):
    await Suspend()
    return x * 2

async def accumulate(n):
    acc = 0
    for i in range(n):
        acc += await child(i)
    return acc

def advanced(make, steps):
    made = make()
    for _ in range(steps):
        made.send(None)
    return made

def test_generator_resumed_in_a_measurement(bytecount):
    generator = advanced(lambda: squares(10), 3)
    assert bytecount(next, generator) == 14
    expected = count_events(functools.partial(next, advanced(lambda: squares(10), 3)))
    assert bytecount.last.instructions == expected > 0

def test_coroutine_resumed_in_a_measurement(bytecount):
    coroutine = advanced(lambda: accumulate(5), 2)
    assert bytecount(coroutine.send, None) == "suspended"
    fresh = advanced(lambda: accumulate(5), 2)
    expected = count_events(functools.partial(fresh.send, None))
    assert bytecount.last.instructions == expected > 0
    coroutine.close()
    fresh.close()

@pytest.fixture
def started():
    return advanced(lambda: squares(10), 3)

@pytest.mark.max_instructions(10**6)
def test_marked_resumes_a_generator_from_a_fixture(started):
    next(started)

def test_oracle_for_one_step():
    with open("one-step.txt", "w") as f:
        f.write(str(count_events(functools.partial(next, advanced(lambda: squares(10), 3)))))
"""


def test_generators_and_coroutines_started_before_a_span_count_only_what_runs_inside(
    with_corpus: pytest.Pytester,
) -> None:
    with_corpus.makepyfile(test_suspended=SUSPENDED_TESTS)
    result = with_corpus.runpytest_subprocess("--bytecount-report=r.json", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)
    marked = "test_suspended.py::test_marked_resumes_a_generator_from_a_fixture"
    spent = own_counts(read_report(with_corpus.path / "r.json"), marked)
    assert spent["squares"] == int((with_corpus.path / "one-step.txt").read_text())


NODE_IDS_WITH_LINE_BREAKS = """
import pytest

@pytest.mark.parametrize("n", [1, 2], ids=["a\\n::error title=x::pwned", "b\\u2028::notice::c"])
@pytest.mark.max_instructions(5)
def test_p(n):
    sum(range(n * 10))
"""


def test_node_ids_with_line_breaks_are_shown_escaped_in_the_summary_and_annotations(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Node ids as a custom item can make them: pytest's own id escaping off.
    pytester.makeini(
        "[pytest]\ndisable_test_id_escaping_and_forfeit_all_rights_to_community_support = true\n"
    )
    pytester.makepyfile(test_ids=NODE_IDS_WITH_LINE_BREAKS)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)
    start = next(i for i, line in enumerate(result.outlines) if f"bytecount ({TAG})" in line)
    end = next(i for i in range(start + 1, len(result.outlines)) if result.outlines[i][0] == "=")
    section = result.outlines[start + 1 : end]
    # Only the plugin's own annotations start with `::`: none a node id began.
    assert [line.split(" ")[0] for line in section if line.startswith("::")] == ["::error"] * 2
    first, second = (
        r"test_ids.py::test_p[a\n::error title=x::pwned]",
        r"test_ids.py::test_p[b\u2028::notice::c]",
    )
    assert section[1].startswith(f"OVER      {first}  ")
    assert section[2].startswith(f"OVER      {second}  ")
    assert section[3].startswith(f"::error file=test_ids.py,line=3,title=bytecount::{first}: ")
    assert section[4].startswith(f"::error file=test_ids.py,line=3,title=bytecount::{second}: ")
