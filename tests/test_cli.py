"""The `pytest-bytecount` command line tool (SPEC §9): `compare` and `show`.

Reports are real: written by `pytest --bytecount-report` through `pytester`,
then edited by hand only where a test needs a broken or foreign one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import string
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from helpers import TAG, counts, read_report

import pytest_bytecount
from pytest_bytecount.cli import main
from pytest_bytecount.compare import ChangeKind, compare
from pytest_bytecount.render.compare import MOST_MARKDOWN_BYTES, render_markdown
from pytest_bytecount.render.numbers import signed_percent

SUITE = """
import pytest

def work(n):
    return sum(i * i for i in range(n))

def test_grows():
    work({grows})

def test_shrinks():
    work({shrinks})

def test_same():
    work(5)

@pytest.mark.parametrize("s", ["a|b", "c`d", "e\\\\|f"])
def test_odd(s):
    work(len(s) * {odd})

{extra}
"""
REMOVED = "def test_removed():\n    work(3)\n"
ADDED = "def test_added():\n    work(3)\n"
BASE = {"grows": 1000, "shrinks": 3000, "odd": 1, "extra": REMOVED}
#: Dearer, cheaper, a test removed and one added, relative to BASE.
CHANGED = {"grows": 3000, "shrinks": 1000, "odd": 1, "extra": ADDED}
ODD_IDS = ("test_suite.py::test_odd[a|b]", "test_suite.py::test_odd[c`d]")
ERROR = "pytest-bytecount: error: "


def write_report(pytester: pytest.Pytester, name: str, **values: Any) -> Path:
    """Run the suite with `values` filled in; the path of the report it wrote."""
    # Each version of the suite may have the size and mtime second of the last,
    # which is all a cached .pyc is checked against: drop the cache.
    shutil.rmtree(pytester.path / "__pycache__", ignore_errors=True)
    pytester.makepyfile(test_suite=SUITE.format(**values))
    path = pytester.path / name
    result = pytester.runpytest("--bytecount", f"--bytecount-report={path}")
    result.assert_outcomes(passed=7)
    return path


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m pytest_bytecount ARGS` in `cwd`."""
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "COLUMNS": "80"}
    return subprocess.run(
        [sys.executable, "-m", "pytest_bytecount", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        encoding="utf-8",
        check=False,
    )


@pytest.fixture
def base(pytester: pytest.Pytester) -> Path:
    return write_report(pytester, "base.json", **BASE)


@pytest.fixture
def changed(pytester: pytest.Pytester, base: Path) -> Path:
    return write_report(pytester, "changed.json", **CHANGED)


def table_cells(row: str) -> list[str]:
    """A GFM table row split as GitHub splits it, `\\|` unescaped in each cell.

    A backslash and the punctuation after it are one unit (so `\\\\|` ends a
    cell), as in cmark-gfm's table scanner.
    """
    assert row.startswith("|"), row
    assert row.endswith("|"), row
    cells, cell, i = [], "", 1
    while i < len(row):
        char = row[i]
        if char == "\\" and row[i + 1 : i + 2] in tuple(string.punctuation):
            cell += row[i : i + 2]
            i += 2
            continue
        if char == "|":
            cells.append(re.sub(r"\\(?=\|)", "", cell).strip())
            cell = ""
        else:
            cell += char
        i += 1
    assert cell == "", row
    return cells


def code_span(cell: str) -> str:
    """The text a Markdown code span shows."""
    fence = re.match(r"`+", cell)
    assert fence is not None, cell
    ticks = fence.group()
    assert cell.endswith(ticks), cell
    assert len(cell) > 2 * len(ticks), cell
    inner = cell[len(ticks) : -len(ticks)]
    if inner.startswith(" ") and inner.endswith(" ") and inner.strip(" "):
        inner = inner[1:-1]
    return inner


# -- compare: exit codes --------------------------------------------------------


def test_compare_exits_0_when_no_count_changed(pytester: pytest.Pytester, base: Path) -> None:
    again = write_report(pytester, "again.json", **BASE)
    result = cli(pytester.path, "compare", "base.json", "again.json")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "0 regressed · 0 improved · 0 new · 0 removed · 7 unchanged\n"
    assert counts(read_report(base)) == counts(read_report(again))


def test_compare_exits_1_when_a_test_got_dearer(pytester: pytest.Pytester, changed: Path) -> None:
    result = cli(pytester.path, "compare", "base.json", "changed.json")
    assert result.returncode == 1
    assert result.stderr == ""
    assert result.stdout.startswith("REGRESSED  test_suite.py::test_grows ")


def test_compare_exits_0_when_tests_only_got_cheaper_came_or_went(
    pytester: pytest.Pytester, base: Path
) -> None:
    write_report(pytester, "cheaper.json", **{**BASE, "shrinks": 10, "extra": ADDED})
    result = cli(pytester.path, "compare", "base.json", "cheaper.json")
    assert result.returncode == 0, result.stdout
    assert result.stdout.splitlines()[-1] == (
        "0 regressed · 1 improved · 1 new · 1 removed · 5 unchanged"
    )


def test_the_tolerance_turns_a_small_regression_into_a_pass(
    pytester: pytest.Pytester, base: Path
) -> None:
    slightly = write_report(pytester, "slightly.json", **{**BASE, "grows": 1001})
    old = counts(read_report(base))["test_suite.py::test_grows"]
    new = counts(read_report(slightly))["test_suite.py::test_grows"]
    assert 0 < (new - old) / old < 0.01  # the premise: dearer, by under 1%

    assert cli(pytester.path, "compare", "base.json", "slightly.json").returncode == 1
    result = cli(pytester.path, "compare", "base.json", "slightly.json", "--tolerance", "1%")
    assert result.returncode == 0
    assert result.stdout == (
        "0 regressed · 0 improved · 0 new · 0 removed · 1 within tolerance · 6 unchanged\n"
    )
    verbose = cli(pytester.path, "compare", "-v", "--tolerance=1", "base.json", "slightly.json")
    rows = [line.split() for line in verbose.stdout.splitlines()]
    delta = new - old
    expected = ["WITHIN", "TOLERANCE", "test_suite.py::test_grows", f"{old:,}", "->", f"{new:,}"]
    assert [*expected, f"+{delta}", signed_percent(delta * 100 / old)] in rows


# -- compare: output ------------------------------------------------------------


def test_text_lists_regressions_then_improvements_new_and_removed_tests(
    pytester: pytest.Pytester, base: Path, changed: Path
) -> None:
    old, new = counts(read_report(base)), counts(read_report(changed))
    result = cli(pytester.path, "compare", "base.json", "changed.json")
    *table, last = result.stdout.splitlines()
    rows = [line.split() for line in table] + [[last]]
    grows, shrinks = "test_suite.py::test_grows", "test_suite.py::test_shrinks"
    added, removed = new["test_suite.py::test_added"], old["test_suite.py::test_removed"]
    assert rows == [
        [
            "REGRESSED",
            grows,
            f"{old[grows]:,}",
            "->",
            f"{new[grows]:,}",
            f"{new[grows] - old[grows]:+,}",
            f"{(new[grows] - old[grows]) * 100 / old[grows]:+.1f}%",
        ],
        [
            "IMPROVED",
            shrinks,
            f"{old[shrinks]:,}",
            "->",
            f"{new[shrinks]:,}",
            f"{new[shrinks] - old[shrinks]:+,}",
            f"{(new[shrinks] - old[shrinks]) * 100 / old[shrinks]:+.1f}%",
        ],
        ["NEW", "test_suite.py::test_added", "—", "->", f"{added:,}"],
        ["REMOVED", "test_suite.py::test_removed", f"{removed:,}", "->", "—"],
        ["1 regressed · 1 improved · 1 new · 1 removed · 4 unchanged"],
    ]


def test_markdown_is_a_table_with_regressions_first_then_improvements_new_and_removed(
    pytester: pytest.Pytester, base: Path, changed: Path
) -> None:
    old, new = counts(read_report(base)), counts(read_report(changed))
    result = cli(pytester.path, "compare", "base.json", "changed.json", "--format", "markdown")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[:5] == [
        "### bytecount: `changed.json` against `base.json`",
        "",
        "**1 regressed** · 1 improved · 1 new · 1 removed · 4 unchanged (tolerance 0%)",
        "",
        "| | test | old | new | delta | % |",
    ]
    assert table_cells(lines[5]) == [":--", ":--", "--:", "--:", "--:", "--:"]
    rows = [table_cells(line) for line in lines[6:]]
    assert [(row[0], code_span(row[1])) for row in rows] == [
        (":red_circle: regressed", "test_suite.py::test_grows"),
        (":green_circle: improved", "test_suite.py::test_shrinks"),
        ("new", "test_suite.py::test_added"),
        ("removed", "test_suite.py::test_removed"),
    ]
    grows = "test_suite.py::test_grows"
    assert old[grows] >= 1000  # so the thousands separator shows
    assert rows[0][2:] == [
        f"{old[grows]:,}",
        f"{new[grows]:,}",
        f"{new[grows] - old[grows]:+,}",
        f"{(new[grows] - old[grows]) * 100 / old[grows]:+.1f}%",
    ]
    assert rows[2][2:4] == ["—", f"{new['test_suite.py::test_added']:,}"]
    assert rows[3][2:4] == [f"{old['test_suite.py::test_removed']:,}", "—"]


def test_markdown_keeps_the_table_whole_for_node_ids_with_pipes_and_backticks(
    pytester: pytest.Pytester, base: Path
) -> None:
    write_report(pytester, "odd.json", **{**BASE, "odd": 50})
    nodeids = set(counts(read_report(pytester.path / "odd.json")))
    odd = {nodeid for nodeid in nodeids if "test_odd" in nodeid}
    # The premise: ids with a pipe, a backtick, and a backslash before a pipe.
    assert set(ODD_IDS) < odd
    assert any("\\|" in nodeid for nodeid in odd)

    result = cli(pytester.path, "compare", "base.json", "odd.json", "--format=markdown")
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    cells = [table_cells(row) for row in rows]
    assert all(len(row) == 6 for row in cells), rows
    assert {code_span(row[1]) for row in cells[1:]} == odd


@pytest.mark.parametrize(
    ("nodeid", "shown"),
    [
        ("`t.py::t[|]`", "`t.py::t[|]`"),
        ("t.py::t[``]", "t.py::t[``]"),
        ("t.py::t[a\nb]", r"t.py::t[a\nb]"),
        # GFM reads `\\|` as an escaped backslash and a cell border: one more
        # backslash is shown rather than the row split.
        (r"t.py::t[a\|b]", r"t.py::t[a\\|b]"),
        (r"t.py::t[a\\\|b]", r"t.py::t[a\\\\|b]"),
    ],
)
def test_markdown_rows_keep_six_cells_whatever_the_node_id(nodeid: str, shown: str) -> None:
    # Ids pytest would not make (it doubles backslashes, escapes line breaks),
    # but a hand-edited report may hold: the table must still hold together.
    changes = compare({nodeid: 10, "x": 1}, {nodeid: 20, "x": 1})
    text = render_markdown(changes, old_label="a|b", new_label="`c`", tolerance=0.0)
    rows = [line for line in text.splitlines() if line.startswith("|")]
    assert len(rows) == 3
    assert all(len(table_cells(row)) == 6 for row in rows), rows
    assert code_span(table_cells(rows[2])[1]) == shown


def test_markdown_says_in_one_line_when_nothing_changed(
    pytester: pytest.Pytester, base: Path
) -> None:
    result = cli(pytester.path, "compare", "base.json", "base.json", "--format", "markdown")
    assert result.returncode == 0
    assert result.stdout.splitlines() == [
        "### bytecount: `base.json` against `base.json`",
        "",
        "No changes in instruction counts beyond the tolerance (0%): 7 tests unchanged.",
    ]


def test_json_format_gives_every_test_its_change_and_the_totals(
    pytester: pytest.Pytester, base: Path, changed: Path
) -> None:
    old, new = counts(read_report(base)), counts(read_report(changed))
    result = cli(pytester.path, "compare", "base.json", "changed.json", "--format", "json")
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert document["tolerance"] == 0.0
    assert document["totals"] == {
        "regressed": 1,
        "improved": 1,
        "new": 1,
        "removed": 1,
        "unchanged": 4,
    }
    changes = {change["nodeid"]: change for change in document["changes"]}
    assert set(changes) == old.keys() | new.keys()
    assert [change["kind"] for change in document["changes"]][:4] == [
        "regressed",
        "improved",
        "new",
        "removed",
    ]
    grows = changes["test_suite.py::test_grows"]
    assert grows["old"] == old["test_suite.py::test_grows"]
    assert grows["new"] == new["test_suite.py::test_grows"]
    assert grows["delta"] == grows["new"] - grows["old"]
    assert grows["percent"] == pytest.approx(grows["delta"] * 100 / grows["old"])
    assert changes["test_suite.py::test_added"] | {"new": None} == {
        "nodeid": "test_suite.py::test_added",
        "old": None,
        "new": None,
        "delta": None,
        "percent": None,
        "kind": "new",
        "within_tolerance": False,
    }


def test_compare_orders_by_the_size_of_the_change_and_growth_from_zero_leads() -> None:
    old = {"a": 100, "b": 100, "c": 100, "d": 100, "z": 0, "same": 7, "gone": 1}
    new = {"a": 150, "b": 300, "c": 90, "d": 10, "z": 5, "same": 7, "born": 1}
    changes = compare(old, new)
    assert [(c.nodeid, c.kind) for c in changes] == [
        ("z", ChangeKind.REGRESSED),
        ("b", ChangeKind.REGRESSED),
        ("a", ChangeKind.REGRESSED),
        ("d", ChangeKind.IMPROVED),
        ("c", ChangeKind.IMPROVED),
        ("born", ChangeKind.NEW),
        ("gone", ChangeKind.REMOVED),
        ("same", ChangeKind.UNCHANGED),
    ]
    assert changes[0].percent is None
    assert changes[0].delta == 5
    assert changes[1].percent == 200.0
    assert [c.kind for c in compare(old, new, tolerance=50.0)][:2] == [
        ChangeKind.REGRESSED,  # from 0, any growth is beyond any tolerance
        ChangeKind.REGRESSED,
    ]


# -- bad input ------------------------------------------------------------------


def edited(change: Callable[[dict[str, Any]], object]) -> Callable[[Path], str]:
    """A maker of a bad report: the real `base` report with `change` applied."""

    def make(base: Path) -> str:
        report = read_report(base)
        change(report)
        return json.dumps(report)

    return make


def set_first_test(key: str, value: object) -> Callable[[dict[str, Any]], object]:
    return lambda report: report["tests"][0].__setitem__(key, value)


def refer_past_the_table(report: dict[str, Any]) -> None:
    """A test's function counts naming a function the table does not have."""
    report["functions"] = report["functions"][:1]
    report["tests"] = report["tests"][:1]
    report["tests"][0]["function_counts"] = [1, 5]


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        pytest.param(None, "no such file", id="missing"),
        pytest.param(
            lambda base: "{not json",
            "not a JSON report: Expecting property name enclosed in double quotes"
            " at line 1, column 2",
            id="not-json",
        ),
        pytest.param(
            lambda base: "[]", "not a JSON report: expected an object, got an array", id="array"
        ),
        pytest.param(
            edited(lambda report: report.__setitem__("schema", "pytest-benchmark/1")),
            'schema "pytest-benchmark/1", expected "pytest-bytecount/1": '
            "not a pytest-bytecount report",
            id="wrong-schema",
        ),
        pytest.param(
            edited(lambda report: report["interpreter"].__setitem__("tag", 312)),
            "interpreter.tag: expected a string, got 312",
            id="tag-not-a-string",
        ),
        pytest.param(
            edited(lambda report: report.__setitem__("tests", {})),
            "tests: expected an array, got an object",
            id="tests-not-a-list",
        ),
        pytest.param(
            edited(lambda report: report["tests"][0].pop("nodeid")),
            "tests[0].nodeid: missing",
            id="no-nodeid",
        ),
        pytest.param(
            edited(set_first_test("instructions", True)),
            'tests[0] ("test_suite.py::test_grows").instructions: expected a non-negative '
            "integer below 2**63, got true",
            id="instructions-bool",
        ),
        pytest.param(
            edited(set_first_test("instructions", -1)),
            'tests[0] ("test_suite.py::test_grows").instructions: expected a non-negative '
            "integer below 2**63, got -1",
            id="instructions-negative",
        ),
        pytest.param(
            edited(set_first_test("instructions", 10**400)),
            'tests[0] ("test_suite.py::test_grows").instructions: expected a non-negative '
            "integer below 2**63, got an integer of 401 digits",
            id="instructions-too-big-for-a-float",
        ),
        pytest.param(
            edited(set_first_test("limit", 2**63)),
            'tests[0] ("test_suite.py::test_grows").limit: expected a positive integer below '
            f"2**63 or null, got {2**63}",
            id="limit-too-big-for-toml",
        ),
        pytest.param(
            edited(set_first_test("status", "great")),
            'tests[0] ("test_suite.py::test_grows").status: expected one of ok, over, improved, '
            'new, regressed, got "great"',
            id="bad-status",
        ),
        pytest.param(
            edited(set_first_test("budget_source", "pyproject")),
            'tests[0] ("test_suite.py::test_grows").budget_source: expected one of marker, '
            'file, got "pyproject"',
            id="bad-budget-source",
        ),
        pytest.param(
            edited(lambda report: report["tests"].append(report["tests"][0])),
            'tests: "test_suite.py::test_grows" appears more than once',
            id="duplicate",
        ),
        pytest.param(
            edited(lambda report: report["functions"].__setitem__(0, ["f", "a.py"])),
            "functions[0]: expected [name, file, line], got an array",
            id="function-row-short",
        ),
        pytest.param(
            edited(lambda report: report["functions"][0].__setitem__(2, "1")),
            'functions[0][2]: expected a non-negative integer below 2**63, got "1"',
            id="function-line-a-string",
        ),
        pytest.param(
            edited(lambda report: report["tests"][0]["function_counts"].append(0)),
            'tests[0] ("test_suite.py::test_grows").function_counts: expected pairs of a '
            "function's index and its count",
            id="function-counts-odd",
        ),
        pytest.param(
            edited(refer_past_the_table),
            'tests[0] ("test_suite.py::test_grows").function_counts[0]: no function 1 in a '
            "table of 1",
            id="function-index-out-of-range",
        ),
        pytest.param(
            edited(lambda report: report.pop("functions")),
            'tests[0] ("test_suite.py::test_grows").function_counts: the report has no '
            "functions table to refer to",
            id="no-function-table",
        ),
        pytest.param(
            edited(set_first_test("functions", [])),
            'tests[0] ("test_suite.py::test_grows"): functions and function_counts: one or the '
            "other",
            id="both-function-lists",
        ),
    ],
)
def test_a_missing_or_corrupt_report_is_one_line_on_stderr_and_exit_2(
    pytester: pytest.Pytester, base: Path, make: Callable[[Path], str] | None, problem: str
) -> None:
    if make is not None:
        (pytester.path / "bad.json").write_text(make(base), encoding="utf-8")
    name = "bad.json" if make is not None else "missing.json"
    result = cli(pytester.path, "compare", "base.json", name)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [f"{ERROR}{name}: {problem}"]


def test_a_bad_old_report_is_named_as_well(pytester: pytest.Pytester, base: Path) -> None:
    (pytester.path / "empty.json").write_text("{}", encoding="utf-8")
    result = cli(pytester.path, "compare", "empty.json", "base.json")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f'{ERROR}empty.json: no schema, expected "pytest-bytecount/1": '
        "not a pytest-bytecount report"
    ]


def test_compare_refuses_reports_of_two_interpreters(pytester: pytest.Pytester, base: Path) -> None:
    report = read_report(base)
    report["interpreter"]["tag"] = "cpython-299"
    (pytester.path / "other.json").write_text(json.dumps(report), encoding="utf-8")
    result = cli(pytester.path, "compare", "other.json", "base.json")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{ERROR}other.json holds counts of cpython-299 and base.json of {TAG}: "
        "counts compare only between reports of the same interpreter"
    ]


@pytest.mark.parametrize(
    ("old_seed", "new_seed", "warning"),
    [
        ("0", "0", None),
        (None, "random", None),  # a report from before hash_seed: nothing to go on
        ("random", "0", "old.json was made with a random hash seed"),
        ("random", "random", "old.json and new.json were made with a random hash seed"),
        ("1", "0", "old.json was made with PYTHONHASHSEED=1 and new.json with 0"),
    ],
)
def test_compare_warns_when_hash_seeds_are_random_or_differ(
    pytester: pytest.Pytester,
    base: Path,
    old_seed: str | None,
    new_seed: str,
    warning: str | None,
) -> None:
    for name, seed in (("old.json", old_seed), ("new.json", new_seed)):
        report = read_report(base)
        if seed is None:
            del report["hash_seed"]
        else:
            report["hash_seed"] = seed
        (pytester.path / name).write_text(json.dumps(report), encoding="utf-8")
    result = cli(pytester.path, "compare", "old.json", "new.json")
    assert result.returncode == 0
    if warning is None:
        assert result.stderr == ""
    else:
        assert result.stderr.splitlines() == [
            f"pytest-bytecount: warning: {warning}, so tests that iterate sets of strings "
            "may differ for that alone; make both with PYTHONHASHSEED=0"
        ]


def test_bytecount_compare_warns_when_the_baseline_had_another_hash_seed(
    pytester: pytest.Pytester, base: Path
) -> None:
    report = read_report(base)
    report["hash_seed"] = "5"
    base.write_text(json.dumps(report), encoding="utf-8")
    result = pytester.runpytest("--bytecount", f"--bytecount-compare={base}")
    result.stdout.fnmatch_lines(
        [
            "*BytecountWarning: --bytecount-compare base.json was made with PYTHONHASHSEED=5 "
            "and this run with 0, so tests that iterate sets of strings may differ*"
        ]
    )


@pytest.mark.parametrize("tolerance", ["abc", "-1%", "100", "nan"])
def test_a_bad_tolerance_is_one_line_on_stderr_and_exit_2(
    pytester: pytest.Pytester, base: Path, tolerance: str
) -> None:
    result = cli(pytester.path, "compare", "base.json", "base.json", f"--tolerance={tolerance}")
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"{ERROR}--tolerance: expected a percentage")
    assert repr(tolerance) in line


# -- show -----------------------------------------------------------------------

SHOWN = """
import pytest

def work(n):
    return sum(i * i for i in range(n))

@pytest.mark.max_instructions(100_000)
def test_within():
    work(10)

@pytest.mark.max_instructions(10)
def test_over():
    work(100)

def test_plain():
    work(5)
"""


def terminal_section(lines: list[str]) -> list[str]:
    """The rows of the terminal summary's bytecount section (not the lines
    that say which files the run wrote, which a report cannot know)."""
    start = lines.index(next(line for line in lines if f" bytecount ({TAG}) " in line))
    rest = lines[start + 1 :]
    end = next(i for i, line in enumerate(rest) if line.startswith("="))
    return [line for line in rest[:end] if not line.startswith("wrote ")]


@pytest.mark.parametrize("verbosity", [[], ["-v"], ["-q"]], ids=["default", "-v", "-q"])
def test_show_prints_what_the_terminal_summary_printed(
    pytester: pytest.Pytester, verbosity: list[str]
) -> None:
    pytester.makepyfile(test_suite=SHOWN)
    result = pytester.runpytest("--bytecount", "--bytecount-report=report.json", *verbosity)
    result.assert_outcomes(passed=2, failed=1)
    expected = terminal_section(result.outlines)
    assert any(line.startswith("OVER ") for line in expected)  # the premise

    shown = cli(pytester.path, "show", "report.json", *verbosity)
    assert shown.returncode == 0, shown.stderr
    header, *rows = shown.stdout.splitlines()
    assert header.strip("- ") == f"bytecount ({TAG})"
    assert len(header) == 80
    assert header.startswith("-")
    assert header.endswith("-")
    assert rows == expected


def test_show_lists_stale_budgets_recorded_in_the_report(
    pytester: pytest.Pytester, base: Path
) -> None:
    report = read_report(base)
    report["stale"] = ["tests/test_old.py::test_gone"]
    (pytester.path / "stale.json").write_text(json.dumps(report), encoding="utf-8")
    result = cli(pytester.path, "show", "stale.json")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[1] == "7 measured · 7 without budget · 1 stale budget"
    assert "stale budget: tests/test_old.py::test_gone  (prune with --bytecount-update)" in lines


def test_show_rejects_a_corrupt_report_with_one_line_and_exit_2(pytester: pytest.Pytester) -> None:
    (pytester.path / "bad.json").write_text("", encoding="utf-8")
    result = cli(pytester.path, "show", "bad.json")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{ERROR}bad.json: not a JSON report: Expecting value at line 1, column 1"
    ]


# -- in process -----------------------------------------------------------------


def test_main_returns_1_and_prints_the_regression(
    capsys: pytest.CaptureFixture[str], base: Path, changed: Path
) -> None:
    capsys.readouterr()  # what the fixtures' pytest runs printed
    assert main(["compare", str(base), str(changed)]) == 1
    out, err = capsys.readouterr()
    assert err == ""
    assert out.splitlines()[0].startswith("REGRESSED  test_suite.py::test_grows ")


def test_main_returns_2_and_says_which_file_is_missing(
    capsys: pytest.CaptureFixture[str], base: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere.json"
    capsys.readouterr()  # what the fixture's pytest run printed
    assert main(["compare", str(base), str(missing)]) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", f"{ERROR}{missing}: no such file\n")


def test_main_show_prints_the_header_and_the_summary(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, base: Path
) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    capsys.readouterr()  # what the fixture's pytest run printed
    assert main(["show", "-q", str(base)]) == 0
    out, _ = capsys.readouterr()
    title = f" bytecount ({TAG}) "
    dashes = (60 - len(title)) // 2
    assert out.splitlines() == [
        "-" * dashes + title + "-" * (60 - len(title) - dashes),
        "7 measured · 7 without budget",
    ]


def test_version_and_usage_errors_come_from_argparse(pytester: pytest.Pytester) -> None:
    version = cli(pytester.path, "--version")
    assert (version.returncode, version.stdout) == (
        0,
        f"pytest-bytecount {pytest_bytecount.__version__}\n",
    )
    no_command = cli(pytester.path)
    assert no_command.returncode == 2
    assert no_command.stderr.startswith("usage: pytest-bytecount ")
    bad_format = cli(pytester.path, "compare", "a.json", "b.json", "--format", "html")
    assert bad_format.returncode == 2
    assert "invalid choice: 'html'" in bad_format.stderr


# -- node ids, tolerance and size: crafted reports ------------------------------


def crafted(base: Path, path: Path, tests: dict[str, int], *, stale: Sequence[str] = ()) -> str:
    """A copy of the real `base` report holding `tests` (node id to count),
    each entry a copy of its first test's, and `stale`; its path."""
    report = read_report(base)
    first = report["tests"][0]
    report["tests"] = [
        {**first, "nodeid": nodeid, "instructions": count} for nodeid, count in tests.items()
    ]
    report["stale"] = list(stale)
    path.write_text(json.dumps(report), encoding="utf-8")
    return str(path)


#: Node ids a custom item or a crafted report may hold, and how each is shown:
#: on its line, whatever line break it holds, so that none starts a line
#: GitHub Actions would read as a workflow command.
HOSTILE = {
    "t.py::t[a\n::error title=x::pwned]": r"t.py::t[a\n::error title=x::pwned]",
    "t.py::t[b\r\n::warning::x]": r"t.py::t[b\r\n::warning::x]",
    "t.py::t[c\u2028::notice::y\u2029]": r"t.py::t[c\u2028::notice::y\u2029]",
    "t.py::t[d\x85\x0b\x0c\x1c\x1d\x1e]": r"t.py::t[d\x85\x0b\x0c\x1c\x1d\x1e]",
    "t.py::t[e\x1b[2J\t]": r"t.py::t[e\x1b[2J\t]",
    # Bidirectional overrides reorder what the terminal shows (Trojan Source).
    "t.py::t[f\u202egnp.exe\u202c\u2066]": r"t.py::t[f\u202egnp.exe\u202c\u2066]",
}


def test_node_ids_are_printed_with_their_control_characters_escaped(
    capsys: pytest.CaptureFixture[str], base: Path, tmp_path: Path
) -> None:
    old = crafted(base, tmp_path / "old.json", dict.fromkeys(HOSTILE, 100))
    new = crafted(base, tmp_path / "new.json", dict.fromkeys(HOSTILE, 110), stale=[*HOSTILE])
    capsys.readouterr()  # what the fixture's pytest run printed
    for args, named in (
        (["show", new], len(HOSTILE)),
        (["compare", old, new], len(HOSTILE)),
        (["compare", old, new, "--format=markdown"], len(HOSTILE)),
        (["record", "--budgets", str(tmp_path / "bytecount.toml"), old, new], len(HOSTILE)),
        # Two counts of one test: the error names the first.
        (["merge", "-o", str(tmp_path / "merged.json"), old, new], 1),
    ):
        main(args)
        out, err = capsys.readouterr()
        lines = (out + err).splitlines()
        assert all(line.isprintable() for line in lines), (args, lines)
        assert not any(line.startswith("::") for line in lines), (args, lines)
        assert sum(shown in out + err for shown in HOSTILE.values()) == named, (args, lines)
        if args[0] == "record":
            assert "  varied between runs: t.py::t[a\\n::error title=x::pwned]  100 to 110, " in out
    # `show` lists each test and each stale budget on a line of its own.
    main(["show", new])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 + 2 * len(HOSTILE)


def test_a_change_within_the_tolerance_says_so(
    capsys: pytest.CaptureFixture[str], base: Path, tmp_path: Path
) -> None:
    old = crafted(base, tmp_path / "old.json", {"t.py::moved": 1000, "t.py::same": 50})
    new = crafted(base, tmp_path / "new.json", {"t.py::moved": 1141, "t.py::same": 50})
    capsys.readouterr()  # what the fixture's pytest run printed

    assert main(["compare", "-v", "--tolerance", "14.1%", old, new]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "WITHIN TOLERANCE  t.py::moved  1,000 -> 1,141  +141  +14.1%",
        "UNCHANGED         t.py::same      50 ->    50",
        "0 regressed · 0 improved · 0 new · 0 removed · 1 within tolerance · 1 unchanged",
    ]

    assert main(["compare", "--tolerance", "14.1%", old, new, "--format=markdown"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "No changes in instruction counts beyond the tolerance (14.1%): "
        "1 test within tolerance, 1 unchanged."
    )
    assert main(["compare", "--tolerance", "1%", old, new, "--format=markdown"]) == 1
    assert "**1 regressed** · 0 improved · 0 new · 0 removed · 1 unchanged (tolerance 1%)" in (
        capsys.readouterr().out.splitlines()
    )

    # JSON keeps its kinds and totals, and adds whether a change is within it.
    assert main(["compare", "--tolerance", "14.1%", old, new, "--format=json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [(c["nodeid"], c["kind"], c["within_tolerance"]) for c in document["changes"]] == [
        ("t.py::moved", "unchanged", True),
        ("t.py::same", "unchanged", False),
    ]
    assert document["totals"]["unchanged"] == 2


def test_show_orders_numbered_node_ids_by_their_numbers(
    capsys: pytest.CaptureFixture[str], base: Path, tmp_path: Path
) -> None:
    numbered = ["t.py::t[1000]", "t.py::t[100]", "t.py::t[10]", "t.py::t[2]"]
    report = crafted(
        base,
        tmp_path / "r.json",
        dict.fromkeys(sorted(numbered), 5),
        stale=["t.py::g[10]", "t.py::g[9]"],
    )
    capsys.readouterr()  # what the fixture's pytest run printed
    assert main(["show", report]) == 0
    rows = [line.split()[1] for line in capsys.readouterr().out.splitlines()[2:]]
    assert rows == [
        "t.py::t[2]",
        "t.py::t[10]",
        "t.py::t[100]",
        "t.py::t[1000]",
        "budget:",
        "budget:",
    ]
    assert main(["show", report]) == 0
    stale = [line for line in capsys.readouterr().out.splitlines() if line.startswith("stale")]
    assert [line.split()[2] for line in stale] == ["t.py::g[9]", "t.py::g[10]"]


def test_a_huge_markdown_comparison_is_cut_with_a_count_of_the_rows_left_out(
    capsys: pytest.CaptureFixture[str], base: Path, tmp_path: Path
) -> None:
    nodeids = [f"tests/test_{'x' * 80}.py::test_{n}" for n in range(5000)]
    old = crafted(base, tmp_path / "old.json", dict.fromkeys(nodeids, 1000))
    new = crafted(base, tmp_path / "new.json", dict.fromkeys(nodeids, 2000))
    capsys.readouterr()  # what the fixture's pytest run printed
    assert main(["compare", old, new, "--format=markdown"]) == 1
    out = capsys.readouterr().out
    assert len(out.encode("utf-8")) <= MOST_MARKDOWN_BYTES
    shown = sum(1 for line in out.splitlines() if line.startswith("| :red_circle: regressed |"))
    assert 0 < shown < 5000
    assert out.endswith(f"\n\n_{5000 - shown:,} more rows left out to keep this under 256 KiB._\n")
    # The text format is not cut.
    assert main(["compare", old, new]) == 1
    assert len(capsys.readouterr().out.splitlines()) == 5001
