"""What a new user meets in the first hour (issue 18): the summary says
which files a run wrote, an error writing one is a line of its own and the
others are still written, and runs that run no test print no section."""

from __future__ import annotations

import os
import re

import pytest
from helpers import read_report

TESTS = """
def test_a():
    sum(range(3))

def test_b():
    sorted([3, 1, 2])
"""


def test_the_summary_ends_with_each_file_written(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=TESTS)
    result = pytester.runpytest(
        "--bytecount-update",
        "--bytecount-report=r.json",
        "--bytecount-profile=prof",
        "--bytecount-html=page.html",
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "wrote bytecount.toml: 2 recorded, 2 new or changed, 0 pruned",
            "wrote r.json: 2 tests",
            "wrote prof: 2 folded-stacks files and bytecount.speedscope.json",
            "wrote page.html: 2 tests",
        ]
    )
    result = pytester.runpytest("--bytecount-update")
    result.stdout.fnmatch_lines(
        ["wrote bytecount.toml: unchanged, 2 budgets recorded as they were"]
    )


def test_a_file_that_cannot_be_written_is_an_error_on_its_own_line(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_suite=TESTS)
    (pytester.path / "taken").mkdir()
    result = pytester.runpytest(
        "-q", "--bytecount", "--bytecount-report=taken", "--bytecount-html=page.html"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines(["ERROR: --bytecount-report: cannot write *taken: Is a directory"])
    assert not any(line.endswith("]ERROR") or "%]ERROR" in line for line in result.outlines)
    # The other file is written all the same.
    assert (pytester.path / "page.html").is_file()
    result.stdout.fnmatch_lines(["wrote page.html: 2 tests"])


@pytest.mark.parametrize("option", ["--collect-only", "--fixtures"])
def test_a_run_that_runs_no_test_prints_no_section(pytester: pytest.Pytester, option: str) -> None:
    pytester.makepyfile(test_suite=TESTS)
    pytester.makefile(".toml", bytecount='["cpython-312"]\n"test_suite.py::test_gone" = 5\n')
    result = pytester.runpytest("--bytecount", option)
    assert result.ret == pytest.ExitCode.OK
    assert "bytecount (" not in result.stdout.str()
    assert "stale budget" not in result.stdout.str()


@pytest.mark.parametrize("stop", ["a collection error", "--collect-only"])
def test_a_run_stopped_before_any_test_leaves_its_files_as_they_were(
    pytester: pytest.Pytester, stop: str
) -> None:
    pytester.makepyfile(test_suite=TESTS)
    pytester.runpytest("--bytecount", "--bytecount-report=r.json").assert_outcomes(passed=2)
    before = (pytester.path / "r.json").read_bytes()
    options = ["--bytecount-update", "--bytecount-report=r.json", "--bytecount-html=page.html"]
    if stop == "--collect-only":
        options.append(stop)
    else:
        pytester.makepyfile(test_broken="import a_module_that_is_not_there\n")
    result = pytester.runpytest(*options)
    # Not a report of no tests, which a later compare would read as every
    # test gone: the last run's report stays.
    assert (pytester.path / "r.json").read_bytes() == before
    assert not (pytester.path / "page.html").exists()
    result.stdout.fnmatch_lines(
        ["did not write r.json: no test ran", "did not write page.html: no test ran"]
    )


STACKS_UNDER_A_MARKER = """
import pytest
from helpers import read_report

def slugify(title):
    words = [word.lower() for word in title.split() if word.isalnum()]
    return "-".join(word for word in words if word)

@pytest.mark.max_instructions(10_000)
def test_marked(bytecount):
    with bytecount.measure(stacks=True) as m:
        slugify("Counting the cost of Python")
    assert m.has_call_paths
    print("FOLDED", m.folded().splitlines())
    print("COUNT", m.instructions)

def test_unmarked(bytecount):
    with bytecount.measure(stacks=True) as m:
        slugify("Counting the cost of Python")
    print("COUNT", m.instructions)
"""


def test_fixture_call_paths_are_recorded_in_a_measured_test(pytester: pytest.Pytester) -> None:
    """A marker (or a budget, or --bytecount) measures the test's call; the
    fixture's blocks replace that count, and keep their own settings."""
    pytester.makepyfile(test_stacks=STACKS_UNDER_A_MARKER)
    result = pytester.runpytest("-s", "--bytecount", "--bytecount-report=r.json")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["*FOLDED *test_marked (test_stacks.py:8);slugify (test_stacks.py:4)*"]
    )
    counts = [int(m[1]) for m in re.finditer(r"COUNT (\d+)", result.stdout.str())]
    assert len(counts) == 2
    assert counts[0] == counts[1] > 0
    tests = read_report(pytester.path / "r.json")["tests"]
    assert [test["instructions"] for test in tests] == counts


def test_a_test_file_whose_name_is_not_utf8_is_measured(pytester: pytest.Pytester) -> None:
    """Its node id holds a lone surrogate (`os.fsdecode`): random is seeded
    from it, and the report holds it as a JSON escape, read back as it was.
    (pytest's own cache cannot write it: -p no:cacheprovider.)"""
    name = os.fsdecode(b"test_\xff.py")
    (pytester.path / name).write_text(TESTS)
    result = pytester.runpytest(
        "-p",
        "no:cacheprovider",
        "--bytecount",
        "--bytecount-report=r.json",
        "--bytecount-html=page.html",
        "--bytecount-profile=prof",
    )
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.OK  # every file written
    assert "\\udcff" in (pytester.path / "page.html").read_text()
    tests = read_report(pytester.path / "r.json")["tests"]
    assert [test["nodeid"] for test in tests] == [f"{name}::test_a", f"{name}::test_b"]
    assert all(test["instructions"] > 0 for test in tests)
    assert "\\udcff" in (pytester.path / "r.json").read_text()


FORM_FEED = (
    "import pytest\n"
    "\f\n"
    "def work():\n"
    "    total = 0  # a line after a form feed\f and one inside a comment\n"
    "    for i in range(50):\n"
    "        total += i\n"
    "    return total\n"
    "\n"
    "@pytest.mark.max_instructions(10)\n"
    "def test_dear():\n"
    "    work()\n"
)


def test_source_lines_are_the_tokenizers_after_a_form_feed(pytester: pytest.Pytester) -> None:
    (pytester.path / "test_ff.py").write_text(FORM_FEED)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*test_ff.py:6 *total += i"])
    assert not any("test_ff.py:6 " in line and "for i in" in line for line in result.outlines)


REWRITTEN = """
import pathlib
import pytest
import helper

@pytest.mark.max_instructions(1)
def test_before():
    helper.work()

@pytest.fixture
def rewritten():
    path = pathlib.Path(helper.__file__)
    path.write_text(path.read_text().replace("50", "60 + 0"))

@pytest.mark.max_instructions(1)
def test_after(rewritten):
    helper.work()
"""


def test_a_source_file_that_changes_during_the_run_is_read_again(
    pytester: pytest.Pytester,
) -> None:
    # Sources are read once for the many tests that show them, and again
    # when the file changed: a failure quotes the line as the file has it now.
    pytester.makepyfile(test_rewrites=REWRITTEN, helper="def work():\n    return sum(range(50))\n")
    pytester.syspathinsert()
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)
    text = result.stdout.str()
    assert "return sum(range(50))" in text  # the first failure, before the rewrite
    assert "return sum(range(60 + 0))" in text  # the second, after it


GENERATED = """
import pytest

SOURCE = "def made():\\n    return sum(range(10))\\n"
namespace = {}
exec(compile(SOURCE, "<jinja\\u2028template;1>", "exec"), namespace)

def test_generated():
    namespace["made"]()
"""


def test_a_frame_label_with_a_line_break_keeps_folded_stacks_one_a_line(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_gen=GENERATED)
    result = pytester.runpytest(
        "--bytecount", "--bytecount-profile=prof", "--bytecount-html=page.html"
    )
    result.assert_outcomes(passed=1)
    assert (pytester.path / "page.html").is_file()
    folded = (pytester.path / "prof" / "test_gen.py__test_generated.folded").read_text()
    lines = folded.splitlines()
    assert len(lines) == 2, lines
    assert "made (<jinja\\u2028template:1>:1)" in lines[1]


def test_a_test_that_deletes_sys_getframe_is_measured(pytester: pytest.Pytester) -> None:
    """attrs' suite checks its fallback for interpreters without it."""
    pytester.makepyfile(
        """
        import sys

        def test_without_getframe(monkeypatch):
            monkeypatch.delattr(sys, "_getframe")
            monkeypatch.delattr(sys, "_current_frames")
            assert not hasattr(sys, "_getframe")
        """
    )
    result = pytester.runpytest("--bytecount", "--bytecount-report=r.json")
    result.assert_outcomes(passed=1)
    (test,) = read_report(pytester.path / "r.json")["tests"]
    assert test["instructions"] > 0
