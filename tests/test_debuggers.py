"""Debuggers and other tools inside measured tests: `breakpoint()`, `--pdb`, and
tools already holding `sys.monitoring` tool ids (SPEC §1, §10).

Every run here is a subprocess: pdb reads stdin, and tracing state and tool ids
are process-wide. A marked test must end with a count or with a bytecount
failure that says why, never a silent 0 or a plugin traceback.
"""

from __future__ import annotations

import sys

import pytest
from helpers import MONITORING, counts, read_report
from suites import CLEAN_STATE, STATE_AT_EXIT

#: An unmeasured inner test that records the tracing state seen by a later test.
STATE_IN_A_LATER_TEST = """
def test_9_state_seen_by_a_later_test():
    import json, sys
    tools = [sys.monitoring.get_tool(i) for i in range(6)] if sys.version_info >= (3, 12) else []
    with open("state-later.json", "w") as f:
        json.dump({"gettrace": repr(sys.gettrace()), "tools": tools}, f)
"""

NO_PLUGIN_TRACEBACK = ("*Traceback (most recent call last)*", "*INTERNALERROR*")


def run_with_stdin(pytester: pytest.Pytester, stdin: bytes, *args: str) -> pytest.RunResult:
    """A pytest subprocess whose stdin is `stdin` (then closed), as a user at pdb's prompt."""
    return pytester.run(
        sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args, stdin=stdin, timeout=120
    )


def assert_no_plugin_traceback(result: pytest.RunResult) -> None:
    for pattern in NO_PLUGIN_TRACEBACK:
        result.stdout.no_fnmatch_line(pattern)
        result.stderr.no_fnmatch_line(pattern)


def state_file(pytester: pytest.Pytester, name: str) -> dict[str, object]:
    return read_report(pytester.path / name)


BREAKPOINT_TESTS = (
    """
import pytest

def work():
    return sum(range(10))

@pytest.mark.max_instructions(100_000)
def test_1_before():
    work()

@pytest.mark.max_instructions(100_000)
def test_2_breaks():
    x = work()
    breakpoint()
    y = x + 1
    assert y == 46

@pytest.mark.max_instructions(100_000)
def test_3_after():
    work()
"""
    + STATE_IN_A_LATER_TEST
)


def test_breakpoint_in_a_marked_test_stops_takes_commands_and_the_run_completes(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(STATE_AT_EXIT)
    pytester.makepyfile(test_breaks=BREAKPOINT_TESTS)
    report = pytester.path / "r.json"
    result = run_with_stdin(pytester, b"p 1+1\nc\n", "-s", f"--bytecount-report={report}")

    result.stdout.fnmatch_lines(["*PDB set_trace*", "*(Pdb) 2*", "*PDB continue*"])
    if MONITORING:
        # pdb traces with sys.settrace, beside our sys.monitoring tool.
        result.assert_outcomes(passed=4)
        assert counts(read_report(report))["test_breaks.py::test_2_breaks"] > 0
    else:
        # pdb takes over sys.settrace: no count rather than a wrong one.
        result.assert_outcomes(passed=3, failed=1)
        result.stdout.fnmatch_lines(
            ["*_ test_2_breaks _*", "pytest-bytecount could not count this test: *"]
        )
        assert "test_breaks.py::test_2_breaks" not in counts(read_report(report))
    assert_no_plugin_traceback(result)
    recorded = counts(read_report(report))
    assert recorded["test_breaks.py::test_3_after"] == recorded["test_breaks.py::test_1_before"]
    assert state_file(pytester, "state-later.json") == CLEAN_STATE
    assert state_file(pytester, "state-at-exit.json") == CLEAN_STATE


@pytest.mark.skipif(not MONITORING, reason="settrace engine: the test fails instead (above)")
@pytest.mark.xfail(
    strict=True,
    reason="pdb's sys.settrace makes legacy tracing share PY_START with our tool; CPython "
    "then zeroes the per-instruction tool table of the code objects we count: the rest "
    "of the test after breakpoint() is not counted",
)
def test_a_test_that_entered_pdb_counts_the_same_as_one_that_did_not(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_breaks="""
        import pytest

        def nothing():
            pass

        def work():
            total = 0
            for i in range(300):
                total += i
            return total

        # Loops of their own, to outweigh pdb's set-up among the top functions.
        @pytest.mark.max_instructions(100_000)
        def test_1_breaks():
            total = work()
            for i in range(300):
                total += i
            breakpoint()
            for i in range(300):
                total += i
            total += work()

        @pytest.mark.max_instructions(100_000)
        def test_2_does_not():
            total = work()
            for i in range(300):
                total += i
            nothing()
            for i in range(300):
                total += i
            total += work()
        """
    )
    report = pytester.path / "r.json"
    result = run_with_stdin(pytester, b"c\n", "-s", f"--bytecount-report={report}")
    result.assert_outcomes(passed=2)
    spent = {
        test["nodeid"].rpartition("::")[2]: {
            f["function"]: f["instructions"] for f in test["top_functions"]
        }
        for test in read_report(report)["tests"]
    }
    # pdb's own set-up code runs inside the span too; the test's frame and
    # work(), before and after the prompt, must be counted in full all the same.
    assert spent["test_1_breaks"]["work"] == spent["test_2_does_not"]["work"]
    assert spent["test_1_breaks"]["test_1_breaks"] == spent["test_2_does_not"]["test_2_does_not"]


@pytest.mark.xfail(
    not MONITORING,
    strict=True,
    reason="settrace engine leaves f_trace_lines=False and f_trace_opcodes=True on the "
    "frames pdb takes over: pdb cannot stop on the next line and prints "
    "'unknown debugging event: opcode'",
)
def test_pdb_steps_through_a_measured_test_as_it_would_without_the_plugin(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.max_instructions(100_000)
        def test_steps():
            x = sum(range(10))
            breakpoint()
            y = x + 1
            assert y == 46
        """
    )
    # 3.10-3.12 stop on the line after breakpoint(); 3.13 on breakpoint() itself,
    # and its `n` then reaches the next line. Either way `-> y = x + 1` is shown.
    result = run_with_stdin(pytester, b"n\nc\n", "-s")
    result.stdout.fnmatch_lines(["*PDB set_trace*", "*-> y = x + 1*", "*PDB continue*"])
    result.stdout.no_fnmatch_line("*unknown debugging event*")
    assert_no_plugin_traceback(result)


POST_MORTEM_TESTS = (
    """
import pytest

def work():
    return sum(range(10))

@pytest.mark.max_instructions(100_000)
def test_1_fails():
    x = work()
    assert x == 46

@pytest.mark.max_instructions(100_000)
def test_2_after():
    work()
"""
    + STATE_IN_A_LATER_TEST
)


def test_pdb_post_mortem_on_a_failing_marked_test_continues_and_counting_goes_on(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(STATE_AT_EXIT)
    pytester.makepyfile(test_post_mortem=POST_MORTEM_TESTS)
    report = pytester.path / "r.json"
    result = run_with_stdin(pytester, b"p x\nc\n", "--pdb", f"--bytecount-report={report}")

    result.stdout.fnmatch_lines(["*PDB post_mortem*", "*-> assert x == 46*", "*(Pdb) 45*"])
    result.assert_outcomes(passed=2, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert_no_plugin_traceback(result)
    # The failed test keeps its own failure and its count (SPEC §2).
    recorded = counts(read_report(report))
    assert (
        recorded["test_post_mortem.py::test_1_fails"]
        > recorded["test_post_mortem.py::test_2_after"]
    )
    assert state_file(pytester, "state-later.json") == CLEAN_STATE
    assert state_file(pytester, "state-at-exit.json") == CLEAN_STATE


def test_quitting_pdb_post_mortem_ends_the_session_cleanly(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(STATE_AT_EXIT)
    pytester.makepyfile(test_post_mortem=POST_MORTEM_TESTS)
    report = pytester.path / "r.json"
    result = run_with_stdin(pytester, b"q\n", "--pdb", f"--bytecount-report={report}")

    result.stdout.fnmatch_lines(["*PDB post_mortem*", "*Quitting debugger*"])
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert_no_plugin_traceback(result)
    assert state_file(pytester, "state-at-exit.json") == CLEAN_STATE
    assert "test_post_mortem.py::test_2_after" not in counts(read_report(report))


HOLD_TOOL_IDS = """
import os
import sys
import pytest

HELD = [int(i) for i in os.environ["HOLD_TOOL_IDS"].split(",") if i]

@pytest.fixture(autouse=True)
def hold_tool_ids():
    taken = [i for i in HELD if sys.monitoring.get_tool(i) is None]
    for i in taken:
        sys.monitoring.use_tool_id(i, "another tool")
    yield
    for i in taken:
        sys.monitoring.free_tool_id(i)
"""

TOOL_ID_TESTS = """
import json
import sys
import pytest

def work():
    return sorted(str(i) for i in range(30))

def holders():
    return [sys.monitoring.get_tool(i) for i in range(6)]

@pytest.mark.max_instructions(100_000)
def test_marked():
    work()

def test_fixture(bytecount):
    bytecount(work)
    seen = bytecount(holders)
    with open("holders.json", "w") as f:
        json.dump(seen, f)

def test_plain_1():
    work()

def test_plain_2():
    work()
"""


def run_holding(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, held: str, report: str
) -> pytest.RunResult:
    monkeypatch.setenv("HOLD_TOOL_IDS", held)
    return pytester.runpytest_subprocess(
        "--bytecount", f"--bytecount-report={pytester.path / report}", "-p", "no:cacheprovider"
    )


@pytest.mark.skipif(not MONITORING, reason="tool ids exist on 3.12+ only")
def test_with_tool_ids_0_to_4_held_marked_tests_count_exactly_with_id_5(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeconftest(HOLD_TOOL_IDS)
    pytester.makepyfile(test_tools=TOOL_ID_TESTS)

    run_holding(pytester, monkeypatch, "", "free.json").assert_outcomes(passed=4)
    alone = read_report(pytester.path / "holders.json")
    result = run_holding(pytester, monkeypatch, "0,1,2,3,4", "held.json")
    result.assert_outcomes(passed=4)
    crowded = read_report(pytester.path / "holders.json")

    assert alone[4] == "pytest-bytecount"
    assert crowded == ["another tool"] * 5 + ["pytest-bytecount"]
    free = counts(read_report(pytester.path / "free.json"))
    held = counts(read_report(pytester.path / "held.json"))
    assert held == free
    assert all(count > 0 for count in held.values())
    result.stdout.no_fnmatch_line("*BytecountWarning*")


@pytest.mark.skipif(not MONITORING, reason="tool ids exist on 3.12+ only")
def test_with_tool_ids_0_to_5_held_marked_tests_error_and_plain_runs_warn_once(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeconftest(HOLD_TOOL_IDS)
    pytester.makepyfile(test_tools=TOOL_ID_TESTS)

    result = run_holding(pytester, monkeypatch, "0,1,2,3,4,5", "held.json")
    result.assert_outcomes(passed=2, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_marked*",
            "*pytest-bytecount cannot count here: no free sys.monitoring tool id*",
            "*ERROR at setup of test_fixture*",
            "*pytest-bytecount cannot count here: no free sys.monitoring tool id*",
        ]
    )
    assert result.stdout.str().count("BytecountWarning: pytest-bytecount is not counting") == 1
    assert_no_plugin_traceback(result)
    assert read_report(pytester.path / "held.json")["tests"] == []
