"""coverage.py and pytest-cov beside pytest-bytecount: SPEC §10.

Both ways round: our counts are those of a run without coverage, and
coverage's lines and arcs are those of a run without our plugin. On every
Python with coverage's C tracer, and on 3.12+ with its sys.monitoring core.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from helpers import MONITORING, counts, read_report

CODE = """
def classify(values):
    out = []
    for v in values:
        if v % 3 == 0:
            out.append("fizz")
        elif v % 5 == 0:
            out.append("buzz")
        else:
            out.append(str(v))
    try:
        int("x")
    except ValueError:
        out.append("!")
    return out


def doubles(n):
    for i in range(n):
        yield i * 2
"""

TESTS = """
import pytest
from classify import classify, doubles

@pytest.mark.max_instructions(100_000)
def test_marked():
    classify(range(30))
    sum(doubles(10))

def test_plain():
    assert classify([3, 5, 7])[:3] == ["fizz", "buzz", "7"]

class TestGrouped:
    def test_in_class(self):
        assert list(doubles(3)) == [0, 2, 4]
"""

PROJECT_FILES = ("classify.py", "test_cov.py")
CORES = ["ctrace", "sysmon"] if MONITORING else ["ctrace"]


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(classify=CODE, test_cov=TESTS)
    return pytester


def coverage_data(pytester: pytest.Pytester, name: str) -> dict[str, Any]:
    pytester.run(sys.executable, "-m", "coverage", "json", "-q", "-o", name)
    data = json.loads((pytester.path / name).read_text())
    (pytester.path / ".coverage").unlink()
    return {
        path: (entry["executed_lines"], entry["executed_branches"])
        for path, entry in data["files"].items()
        if path in PROJECT_FILES
    }


@pytest.mark.parametrize("core", CORES)
def test_coverage_run_changes_neither_our_counts_nor_its_own_data(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, core: str
) -> None:
    monkeypatch.setenv("COVERAGE_CORE", core)
    pytest_args = ["-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", "--bytecount"]
    alone = project.run(sys.executable, *pytest_args, "--bytecount-report=alone.json")
    assert alone.ret == 0, alone.stdout.str()

    covered = ["-m", "coverage", "run", "--branch"]
    both = project.run(sys.executable, *covered, *pytest_args, "--bytecount-report=both.json")
    assert both.ret == 0, both.stdout.str()
    with_plugin = coverage_data(project, "with.json")

    without = project.run(sys.executable, *covered, "-m", "pytest", "-p", "no:bytecount")
    assert without.ret == 0, without.stdout.str()
    without_plugin = coverage_data(project, "without.json")

    expected = counts(read_report(project.path / "alone.json"))
    assert len(expected) == 3
    assert all(expected.values())
    assert counts(read_report(project.path / "both.json")) == expected
    assert set(with_plugin) == set(PROJECT_FILES)
    assert with_plugin == without_plugin
    assert with_plugin["classify.py"][1], "branch coverage was recorded"


def test_pytest_cov_changes_neither_our_counts_nor_its_report(project: pytest.Pytester) -> None:
    base = ["-p", "no:cacheprovider", "-p", "no:randomly"]
    project.runpytest_subprocess(*base, "--bytecount", "--bytecount-report=alone.json")
    cov = ["--cov=classify", "--cov-branch", "--cov-report=json:cov.json"]
    both = project.runpytest_subprocess(*base, *cov, "--bytecount", "--bytecount-report=both.json")
    both.assert_outcomes(passed=3)
    with_plugin = json.loads((project.path / "cov.json").read_text())["files"]
    project.runpytest_subprocess(*base, *cov, "-p", "no:bytecount").assert_outcomes(passed=3)
    without_plugin = json.loads((project.path / "cov.json").read_text())["files"]
    assert counts(read_report(project.path / "both.json")) == counts(
        read_report(project.path / "alone.json")
    )
    for data in (with_plugin, without_plugin):
        for entry in data.values():
            entry.pop("summary", None)
    assert with_plugin == without_plugin


@pytest.mark.skipif(not MONITORING, reason="sys.monitoring tools: 3.12+")
def test_another_tool_disabling_its_line_events_does_not_cost_us_an_instruction(
    pytester: pytest.Pytester,
) -> None:
    # CPython skips a tool's INSTRUCTION event for the first instruction of a
    # line when another tool's LINE callback returns DISABLE there (what
    # coverage.py's sysmon core does). Fresh, identical functions for each
    # count: the loss only happens on a line's first execution.
    pytester.makepyfile(
        """
        import sys

        SOURCE = (
            "def work():\\n    t = 0\\n"
            "    for i in range(10):\\n        t += i\\n    return t\\n"
        )

        def fresh_work():
            namespace = {}
            exec(compile(SOURCE, "<work>", "exec"), namespace)
            return namespace["work"]

        def test_counts_match(bytecount):
            bytecount(fresh_work())
            alone = bytecount.last.instructions

            mon = sys.monitoring
            work = fresh_work()
            mon.use_tool_id(1, "line coverage")
            mon.register_callback(1, mon.events.LINE, lambda code, line: mon.DISABLE)
            mon.set_local_events(1, work.__code__, mon.events.LINE)
            try:
                bytecount(work)
            finally:
                mon.set_local_events(1, work.__code__, 0)
                mon.register_callback(1, mon.events.LINE, None)
                mon.free_tool_id(1)
            assert bytecount.last.instructions == alone
        """
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
