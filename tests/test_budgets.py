"""Budgets in `bytecount.toml` and `--bytecount-update`: SPEC §4 and §5."""

from __future__ import annotations

import codecs
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import TAG, read_report, tomllib
from hypothesis import example, given, settings
from hypothesis import strategies as st
from suites import WORK

from pytest_bytecount.budgets import DEFAULT_HEADER, Budgets, recording
from pytest_bytecount.budgets_toml import BudgetsError
from pytest_bytecount.records import TestRecord
from pytest_bytecount.report import build_report, write_json
from pytest_bytecount.verdict import Status

TESTS = """
import pytest
from code_under_test import work

def test_small():
    work(10)

def test_big():
    work(100)

@pytest.mark.max_instructions(100_000)
def test_marked():
    work(5)
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(code_under_test=WORK, test_suite=TESTS)
    pytester.syspathinsert()
    return pytester


def budgets(pytester: pytest.Pytester) -> dict[str, dict[str, int]]:
    data: dict[str, dict[str, int]] = tomllib.loads((pytester.path / "bytecount.toml").read_text())
    return data


def make_dearer(pytester: pytest.Pytester, extra: str) -> None:
    pytester.makepyfile(
        code_under_test=WORK.replace("    return total", f"    {extra}\n    return total")
    )


def test_record_pass_regress_tolerate_and_improve(suite: pytest.Pytester) -> None:
    suite.runpytest("--bytecount-update").assert_outcomes(passed=3)
    recorded = budgets(suite)[TAG]
    # Marked tests are never written; the others are, with their exact counts.
    assert set(recorded) == {"test_suite.py::test_small", "test_suite.py::test_big"}
    assert all(count > 0 for count in recorded.values())

    # Tests with a budget are measured without any flag, and pass unchanged.
    result = suite.runpytest()
    result.assert_outcomes(passed=3)

    # Two more instructions per call: both budgeted tests fail.
    make_dearer(suite, "total = total + 0")
    result = suite.runpytest()
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["*over the limit of * recorded in bytecount.toml: +* (+*%)*"])
    result.stdout.fnmatch_lines(["OVER      test_suite.py::test_* > *  (bytecount.toml)"])

    # The same growth within a tolerance passes.
    result = suite.runpytest("--bytecount-tolerance=50%")
    result.assert_outcomes(passed=3)

    # Cheaper code is an improvement, reported with the hint to ratchet.
    suite.makepyfile(code_under_test="def work(n):\n    return n\n")
    report = suite.path / "r.json"
    result = suite.runpytest(f"--bytecount-report={report}")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            "*2 improved*",
            "IMPROVED  test_suite.py::test_* < *  -*%  (bytecount.toml)",
            "IMPROVED  test_suite.py::test_* < *  -*%  (bytecount.toml)",
            "ratchet improved budgets down with --bytecount-update",
        ]
    )
    statuses = {
        t["nodeid"]: (t["status"], t["budget_source"]) for t in read_report(report)["tests"]
    }
    assert statuses["test_suite.py::test_small"] == ("improved", "file")

    # Ratcheting writes the new, lower counts.
    suite.runpytest("--bytecount-update").assert_outcomes(passed=3)
    assert all(budgets(suite)[TAG][n] < recorded[n] for n in recorded)


def test_a_budget_excess_does_not_fail_while_updating_but_a_marker_does(
    suite: pytest.Pytester,
) -> None:
    suite.runpytest("--bytecount-update").assert_outcomes(passed=3)
    make_dearer(suite, "total = total + 0")
    suite.makepyfile(
        test_capped_by_marker="""
        import pytest
        from code_under_test import work

        @pytest.mark.max_instructions(5)
        def test_capped():
            work(50)
        """
    )
    result = suite.runpytest("--bytecount-update")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["FAILED test_capped_by_marker.py::test_capped*"])
    assert "test_capped_by_marker.py::test_capped" not in budgets(suite)[TAG]


def test_an_update_keeps_other_interpreters_tables_and_the_header(suite: pytest.Pytester) -> None:
    other = "cpython-299"
    (suite.path / "bytecount.toml").write_text(
        textwrap.dedent(
            f"""\
            # Our budgets: reviewed in every PR.
            # Second header line.

            ["{other}"]
            "test_suite.py::test_small" = 12345
            "test_suite.py::test_gone" = 7
            """
        )
    )
    suite.runpytest("--bytecount-update").assert_outcomes(passed=3)
    text = (suite.path / "bytecount.toml").read_text()
    assert text.startswith("# Our budgets: reviewed in every PR.\n# Second header line.\n\n")
    data = budgets(suite)
    assert data[other] == {"test_suite.py::test_small": 12345, "test_suite.py::test_gone": 7}
    assert set(data[TAG]) == {"test_suite.py::test_small", "test_suite.py::test_big"}


def test_a_new_file_gets_the_default_header_and_sorted_keys(suite: pytest.Pytester) -> None:
    suite.runpytest("--bytecount-update").assert_outcomes(passed=3)
    text = (suite.path / "bytecount.toml").read_text()
    assert text.startswith("# Executed-instruction budgets for pytest-bytecount.\n")
    lines = [line for line in text.splitlines() if line.startswith('"')]
    assert lines == sorted(lines)
    # A second update of unchanged code changes nothing, byte for byte.
    suite.runpytest("--bytecount-update").assert_outcomes(passed=3)
    assert (suite.path / "bytecount.toml").read_text() == text


def test_stale_budgets_are_listed_and_pruned_only_by_a_whole_suite_update(
    suite: pytest.Pytester,
) -> None:
    suite.runpytest("--bytecount-update").assert_outcomes(passed=3)
    path = suite.path / "bytecount.toml"
    path.write_text(
        path.read_text()
        + '"test_suite.py::test_removed" = 99\n"test_deleted_file.py::test_x" = 5\n'
    )
    report = suite.path / "r.json"
    result = suite.runpytest(f"--bytecount-report={report}")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            "*2 stale budgets*",
            "stale budget: test_deleted_file.py::test_x  (prune with --bytecount-update)",
            "stale budget: test_suite.py::test_removed  (prune with --bytecount-update)",
        ]
    )
    assert read_report(report)["stale"] == [
        "test_deleted_file.py::test_x",
        "test_suite.py::test_removed",
    ]

    for narrowing in (
        ["-k", "small"],
        ["test_suite.py::test_small"],
        ["--deselect", "test_suite.py::test_big"],
    ):
        suite.runpytest("--bytecount-update", *narrowing)
        assert "test_suite.py::test_removed" in budgets(suite)[TAG], narrowing

    suite.runpytest("--bytecount-update").assert_outcomes(passed=3)
    assert set(budgets(suite)[TAG]) == {"test_suite.py::test_small", "test_suite.py::test_big"}


def test_an_update_run_summary_shows_what_it_recorded_and_pruned(suite: pytest.Pytester) -> None:
    result = suite.runpytest("--bytecount-update")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            "3 measured · 2 recorded",
            "RECORDED  test_suite.py::test_small  *",
            "RECORDED  test_suite.py::test_big  *",
            "wrote bytecount.toml: 2 recorded, 2 new or changed, 0 pruned",
        ]
    )
    result.stdout.no_fnmatch_line("NEW *")
    result.stdout.no_fnmatch_line("*without budget*")

    # A budget set too low (over it, forgiven) and one too high (improved),
    # and a stale one: all three written over, and said so.
    path = suite.path / "bytecount.toml"
    table = budgets(suite)[TAG]
    text = path.read_text().replace(
        f'"test_suite.py::test_big" = {table["test_suite.py::test_big"]}',
        '"test_suite.py::test_big" = 10',
    )
    text = text.replace(
        f'"test_suite.py::test_small" = {table["test_suite.py::test_small"]}',
        f'"test_suite.py::test_small" = {table["test_suite.py::test_small"] * 2}',
    )
    path.write_text(text + '"test_suite.py::test_removed" = 99\n')
    result = suite.runpytest("--bytecount-update")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            "3 measured · 2 recorded · 1 stale budget pruned",
            "RECORDED  test_suite.py::test_big  * (was 10)  +*%  (bytecount.toml)",
            "RECORDED  test_suite.py::test_small  * (was *)  -50.0%  (bytecount.toml)",
            "pruned stale budget: test_suite.py::test_removed",
            "wrote bytecount.toml: 2 recorded, 2 new or changed, 1 pruned",
        ]
    )
    for line in ("*over budget*", "*improved*", "*prune with --bytecount-update*", "ratchet *"):
        result.stdout.no_fnmatch_line(line)
    assert budgets(suite)[TAG] == table

    # An update of part of the suite keeps a stale budget, and says why.
    path.write_text(path.read_text() + '"test_suite.py::test_removed" = 99\n')
    result = suite.runpytest("--bytecount-update", "-k", "small")
    result.stdout.fnmatch_lines(
        [
            "1 measured · 1 recorded · 1 stale budget",
            "stale budget: test_suite.py::test_removed  "
            "(kept: only an update of the whole suite prunes)",
        ]
    )


def test_a_partial_run_does_not_call_other_files_budgets_stale(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_other="def test_elsewhere():\n    pass\n")
    suite.runpytest("--bytecount-update").assert_outcomes(passed=4)
    result = suite.runpytest("test_suite.py")
    result.stdout.no_fnmatch_line("*stale budget*")


def test_an_interrupted_update_leaves_the_old_file_byte_for_byte(suite: pytest.Pytester) -> None:
    suite.runpytest("--bytecount-update").assert_outcomes(passed=3)
    path = suite.path / "bytecount.toml"
    before = path.read_bytes()
    make_dearer(suite, "total = total * 1")
    suite.makepyfile(
        test_zz_interrupt="""
        def test_interrupt():
            raise KeyboardInterrupt
        """
    )
    result = suite.runpytest_subprocess("--bytecount-update", "-p", "no:randomly")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert path.read_bytes() == before
    assert [p.name for p in suite.path.iterdir() if p.name.startswith(".bytecount")] == []


def test_an_update_under_xdist_writes_the_same_file_as_a_serial_one(
    suite: pytest.Pytester,
) -> None:
    suite.makepyfile(
        test_more="""
        import pytest
        from code_under_test import work

        @pytest.mark.parametrize("n", range(12))
        def test_param(n):
            work(n)
        """
    )
    suite.runpytest_subprocess("--bytecount-update").assert_outcomes(passed=15)
    serial = (suite.path / "bytecount.toml").read_text()
    (suite.path / "bytecount.toml").unlink()
    report = suite.path / "r.json"
    result = suite.runpytest_subprocess(
        "--bytecount-update", "-n", "2", f"--bytecount-report={report}"
    )
    result.assert_outcomes(passed=15)
    assert (suite.path / "bytecount.toml").read_text() == serial
    assert read_report(report)["totals"]["measured"] == 15
    result.stdout.fnmatch_lines(["*15 measured*"])


BAD_FILES = [
    ("not toml [", "not valid TOML: *line 1*"),
    (
        '["cpython-312"]\n"a" = "100"\n',
        '["cpython-312"] "a": a budget must be a positive integer or an inline table such as '
        '{ budget = 1000, tolerance = "2%" }, and a recorded growth class one of 1, log n, n, '
        "n log n, n^2, n^3, 2^n, got '100' (string)",
    ),
    (
        '["cpython-312"]\n"a" = -3\n',
        '["cpython-312"] "a": a budget must be a positive integer or an inline table such as '
        '{ budget = 1000, tolerance = "2%" }, got -3 (number)',
    ),
    ('["cpython-312"]\n"a" = 0\n', "*got 0 (number)"),
    ('["cpython-312"]\n"a" = 1.5\n', "*got 1.5 (number)"),
    ('["cpython-312"]\n"a" = true\n', "*a budget must be a positive integer*, got true"),
    (
        '["cpython-312"]\na.b = 1\n',
        '["cpython-312"] "a": unknown key \'b\': an entry\'s table takes budget and tolerance',
    ),
    (
        '["cpython-312"]\n"a" = { budget = 100, tolerance = "lots" }\n',
        '["cpython-312"] "a": tolerance: expected a percentage such as 2% or 0.5, got \'lots\'',
    ),
    (
        '["cpython-312"]\n"a" = { budget = 100, tolerance = 2 }\n',
        '["cpython-312"] "a": tolerance must be a string such as "2%", got 2 (number)',
    ),
    (
        '["cpython-312"]\n"a" = { tolerance = "2%" }\n',
        '["cpython-312"] "a": the inline table has no budget',
    ),
    (
        '["cpython-312"]\n"a" = { budget = 0, tolerance = "2%" }\n',
        '["cpython-312"] "a": budget must be a positive integer, got 0 (number)',
    ),
    (
        '["cpython-312"]\n"a" = { budget = 9, tol = "2%" }\n',
        '["cpython-312"] "a": unknown key \'tol\': an entry\'s table takes budget and tolerance',
    ),
    (
        '"cpython-312" = 5\n',
        '"cpython-312" must be a table of budgets for one interpreter*not a number',
    ),
    # Not syntax errors, and yet TOML no reader can hold (issue 18).
    (
        '["cpython-312"]\n"a" = ' + "[" * 50_000 + "]" * 50_000 + "\n",
        "not valid TOML: arrays or inline tables nested too deeply",
    ),
    ('["cpython-312"]\n"a" = ' + "7" * 5_000 + "\n", "not valid TOML: a number too long to read"),
    (
        f'["cpython-312"]\n"a" = {2**63}\n',
        f'["cpython-312"] "a": a budget must be below 2**63, got {2**63} (number)',
    ),
    (
        f'["cpython-312"]\n"a" = {{ budget = {10**100} }}\n',
        '["cpython-312"] "a": budget must be below 2**63, got an integer of 101 digits',
    ),
    (
        '["cpython-312"]\n"a\\nb\\u2028c\\"" = -1\n',
        '["cpython-312"] "a\\u000ab\\u2028c\\"": a budget must be a positive integer or an '
        'inline table such as { budget = 1000, tolerance = "2%" }, got -1 (number)',
    ),
    # A bidirectional override in a key is escaped too: it would show the
    # rest of the message reversed.
    (
        '["cpython-312"]\n"a\u202eb" = -1\n',
        '["cpython-312"] "a\\u202eb": a budget must be a positive integer or an inline '
        'table such as { budget = 1000, tolerance = "2%" }, got -1 (number)',
    ),
    (
        '["cpython-312"]\n"a" = "' + "x" * 500 + '"\n',
        "*, got '" + "x" * 56 + "... (string)",
    ),
]


@pytest.mark.parametrize(("content", "message"), BAD_FILES, ids=lambda value: value[:40])
def test_a_bad_budgets_file_stops_the_session_naming_file_and_key(
    suite: pytest.Pytester, content: str, message: str
) -> None:
    path = suite.path / "bytecount.toml"
    path.write_text(content)
    report = suite.path / "r.json"
    result = suite.runpytest("--bytecount-update", f"--bytecount-report={report}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {path}: {message}"])
    assert "Traceback" not in result.stderr.str() + result.stdout.str()
    assert "INTERNALERROR" not in result.stderr.str() + result.stdout.str()
    assert path.read_text() == content
    assert not report.exists()


def test_a_budget_with_its_own_tolerance_holds_within_it_and_an_update_keeps_it(
    suite: pytest.Pytester,
) -> None:
    report = suite.path / "r.json"
    suite.runpytest("--bytecount", f"--bytecount-report={report}").assert_outcomes(passed=3)
    big = {t["nodeid"]: t["instructions"] for t in read_report(report)["tests"]}[
        "test_suite.py::test_big"
    ]
    budget = int(big / 1.2)  # the count is 20% over it
    path = suite.path / "bytecount.toml"
    for tolerance, outcome in (("25%", {"passed": 3}), ("10%", {"passed": 2, "failed": 1})):
        path.write_text(
            f'["{TAG}"]\n"test_suite.py::test_big" = {{ budget = {budget}, '
            f'tolerance = "{tolerance}" }}\n'
        )
        result = suite.runpytest(f"--bytecount-report={report}")
        result.assert_outcomes(**outcome)
    over = f"*over the limit of {budget:,} recorded in *(its tolerance 10%)*"
    result.stdout.fnmatch_lines([over])
    (entry,) = (t for t in read_report(report)["tests"] if t["nodeid"].endswith("test_big"))
    assert (entry["tolerance"], entry["status"]) == (10.0, "over")

    suite.runpytest("--bytecount-update").assert_outcomes(passed=3)
    assert (
        f'"test_suite.py::test_big" = {{ budget = {big}, tolerance = "10%" }}\n' in path.read_text()
    )
    assert budgets(suite)[TAG]["test_suite.py::test_big"] == {"budget": big, "tolerance": "10%"}
    assert budgets(suite)[TAG]["test_suite.py::test_small"] > 0


@pytest.mark.parametrize(("tolerance", "passed"), [("'25%'", True), ("25", True), ("'10%'", False)])
def test_a_marker_with_its_own_tolerance_allows_that_much_over_its_limit(
    pytester: pytest.Pytester, tolerance: str, passed: bool
) -> None:
    source = """
        import pytest

        @pytest.mark.max_instructions(LIMIT, tolerance=TOLERANCE)
        def test_marked():
            assert sum([i * i for i in range(20)]) > 0
        """
    pytester.makepyfile(test_limit=source.replace("LIMIT", "100_000").replace("TOLERANCE", "0"))
    report = pytester.path / "r.json"
    pytester.runpytest(f"--bytecount-report={report}").assert_outcomes(passed=1)
    (entry,) = read_report(report)["tests"]
    limit = int(entry["instructions"] / 1.2)  # the count is 20% over it
    source = source.replace("LIMIT", str(limit)).replace("TOLERANCE", tolerance)
    pytester.makepyfile(test_limit=source)
    result = pytester.runpytest()
    if passed:
        result.assert_outcomes(passed=1)
    else:
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines(["*over the limit of*max_instructions*(its tolerance 10%)*"])


@pytest.mark.parametrize("value", ["'lots'", "-1", "True", "[2]"])
def test_a_bad_marker_tolerance_makes_the_test_error_naming_it(
    pytester: pytest.Pytester, value: str
) -> None:
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.max_instructions(100, tolerance={value})
        def test_marked():
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*@pytest.mark.max_instructions(tolerance=...): expected*"])


def test_the_budgets_file_can_live_elsewhere(suite: pytest.Pytester) -> None:
    suite.makeini("[pytest]\nbytecount_budgets = perf/budgets.toml\n")
    suite.runpytest("--bytecount-update").assert_outcomes(passed=3)
    assert (suite.path / "perf" / "budgets.toml").exists()
    assert not (suite.path / "bytecount.toml").exists()
    # The summary names the file the budgets came from.
    result = suite.runpytest("-v")
    result.stdout.fnmatch_lines(["OK        test_suite.py::test_big * = *  (perf/budgets.toml)"])


@pytest.mark.parametrize("value", ["2%", "2.5", "0.5%", " 3 % "])
def test_good_tolerances_are_accepted(suite: pytest.Pytester, value: str) -> None:
    suite.runpytest(f"--bytecount-tolerance={value}").assert_outcomes(passed=3)


@pytest.mark.parametrize(
    ("args", "ini", "where"),
    [
        (["--bytecount-tolerance=lots"], "", "--bytecount-tolerance"),
        (["--bytecount-tolerance=-1%"], "", "--bytecount-tolerance"),
        (["--bytecount-tolerance=150"], "", "--bytecount-tolerance"),
        ([], "bytecount_tolerance = 5 percent", "ini bytecount_tolerance"),
    ],
)
def test_a_bad_tolerance_is_a_usage_error_naming_the_option(
    suite: pytest.Pytester, args: list[str], ini: str, where: str
) -> None:
    suite.makeini(f"[pytest]\n{ini}\n")
    result = suite.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {where}: expected a percentage*"])


node_ids = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=40
) | st.builds(
    lambda path, name, param: f"{path}.py::{name}[{param}]",
    st.text(min_size=1, max_size=10),
    st.text(min_size=1, max_size=10),
    st.text(alphabet="\"\\[]'\n\t é中𝄞", max_size=10),
)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["cpython-310", "cpython-312", "pypy310"]),
        st.dictionaries(node_ids, st.integers(1, 2**62), max_size=8),
        max_size=3,
    )
)
def test_any_node_ids_survive_a_write_and_a_read(
    tmp_path_factory: pytest.TempPathFactory, tables: dict[str, dict[str, int]]
) -> None:
    path = tmp_path_factory.mktemp("roundtrip") / "bytecount.toml"
    written = Budgets(path, {tag: table for tag, table in tables.items() if table})
    written.write()
    read = Budgets.load(path)
    assert read.tables == written.tables
    assert read.render() == written.render()


def test_a_budgets_file_starting_with_a_byte_order_mark_is_read(suite: pytest.Pytester) -> None:
    suite.runpytest("--bytecount-update").assert_outcomes(passed=3)
    path = suite.path / "bytecount.toml"
    text = path.read_text(encoding="utf-8")
    path.write_bytes(codecs.BOM_UTF8 + text.encode("utf-8"))  # as some editors save it
    result = suite.runpytest()
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["bytecount: *; 2 budgets in bytecount.toml, *"])
    make_dearer(suite, "total = total + 0")
    suite.runpytest().assert_outcomes(passed=1, failed=2)
    # An update keeps the budgets and the header, and writes the file without the mark.
    suite.runpytest("--bytecount-update").assert_outcomes(passed=3)
    assert path.read_text(encoding="utf-8").startswith(DEFAULT_HEADER)


# -- what `record` and `--bytecount-update` write, the loader reads -----------


def a_report(path: Path, counts: dict[str, int], tag: str = TAG) -> Path:
    """A report of passed tests without budgets, with these counts."""
    records = [
        TestRecord(nodeid, count, None, Status.NEW, "passed") for nodeid, count in counts.items()
    ]
    write_json(path, build_report(records, plugin_version="0", interpreter=(tag, "3.99.0")))
    return path


def record(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`pytest-bytecount record ARGS` in `cwd`."""
    return subprocess.run(
        [sys.executable, "-m", "pytest_bytecount", "record", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        capture_output=True,
        encoding="utf-8",
        check=False,
    )


def test_record_leaves_a_test_whose_counts_vary_two_fold_without_a_budget(
    suite: pytest.Pytester,
) -> None:
    varies, steady, near = "test_suite.py::test_small", "test_suite.py::test_big", "t.py::near"
    a_report(suite.path / "a.json", {varies: 100, steady: 50, near: 1_000})
    a_report(suite.path / "b.json", {varies: 300, steady: 50, near: 1_999})
    done = record(suite.path, "--budgets", "rec.toml", "a.json", "b.json")
    assert done.returncode == 0, done.stderr
    # Budgets must be below 100% apart to be covered by a tolerance: 1,000 to
    # 1,999 is; 100 to 300 is not, and gets no budget rather than one the
    # loader would refuse ("200%").
    path = suite.path / "rec.toml"
    loaded = Budgets.load(path)
    assert loaded.table(TAG) == {steady: 50, near: 1_999}
    assert loaded.tolerances[TAG] == {near: "99.9%"}
    assert "200%" not in path.read_text()
    assert done.stdout.splitlines()[1:] == [
        f"  varied between runs: {near}  1,000 to 1,999, budget 1,999 with tolerance 99.9%",
        f"  not budgeted: {varies}: its counts 100 to 300 differ by 200%; "
        "a tolerance must be below 100%",
    ]
    # So the file works: a second record over it, and pytest with it.
    done = record(suite.path, "--budgets", "rec.toml", "a.json", "b.json")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    suite.makeini("[pytest]\nbytecount_budgets = rec.toml\n")
    result = suite.runpytest()
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # test_big is dearer than 50
    result.stdout.fnmatch_lines(["*; 2 budgets in rec.toml, *"])


def test_recording_tells_why_it_leaves_a_test_out() -> None:
    records = [
        TestRecord("t::varies", count, None, Status.NEW, "passed") for count in (100, 200)
    ] + [
        TestRecord("t::huge", 2**63, None, Status.NEW, "passed"),
        TestRecord("t_\udcff.py::t", 5, None, Status.NEW, "passed"),
        TestRecord("t::fine", 2**63 - 1, None, Status.NEW, "passed"),
    ]
    recorded = recording(records)
    assert recorded.counts == {"t::fine": 2**63 - 1}
    assert recorded.refused == {
        "t::varies": "its counts 100 to 200 differ by 100%; a tolerance must be below 100%",
        "t::huge": "its count 9,223,372,036,854,775,808 is above the largest budget, 2**63 - 1",
        "t_\udcff.py::t": "its node id holds characters that UTF-8 cannot encode",
    }
    assert recorded.spreads == {}


recorded_counts = st.lists(
    st.tuples(
        st.sampled_from(["a.py::t", "a.py::u[1]", "b.py::v", "c.py::w[\u2028]", "\udcff::x"]),
        st.integers(1, 2**64) | st.integers(1, 10_000),
        st.sampled_from(["passed", "failed", "skipped"]),
    ),
    max_size=20,
)


@settings(max_examples=200, deadline=None)
@given(
    recorded_counts,
    st.sampled_from(["", '["cpython-312"]\n"b.py::v" = { budget = 9, tolerance = "50%" }\n']),
)
def test_anything_recording_gives_is_written_and_read_back(
    tmp_path_factory: pytest.TempPathFactory, found: list[tuple[str, int, str]], before: str
) -> None:
    path = tmp_path_factory.mktemp("recorded") / "bytecount.toml"
    path.write_text(before)
    recorded = recording(
        TestRecord(nodeid, count, None, Status.NEW, outcome) for nodeid, count, outcome in found
    )
    Budgets.load(path).updated(
        "cpython-312", recorded.counts, tolerances=recorded.tolerances
    ).write()
    loaded = Budgets.load(path)
    assert {n: c for n, c in loaded.table("cpython-312").items() if n in recorded.counts} == (
        recorded.counts
    )
    assert not set(recorded.refused) & set(recorded.counts)
    assert set(recorded.counts) | set(recorded.refused) == {
        nodeid for nodeid, _, outcome in found if outcome == "passed"
    }


tolerances = st.sampled_from(["0%", "2%", "2.5", " 3 % ", "99.9%", "0.5%", "1e1"]) | st.builds(
    lambda tenths: f"{tenths / 10:g}%", st.integers(0, 999)
)
comments = st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), max_size=20).map(
    lambda text: f"# {text}"
)
#: A header as the loader reads it: from the first comment line on.
comment_lines = st.just([]) | st.builds(
    lambda first, rest: [first, *rest], comments, st.lists(comments | st.just(""), max_size=3)
)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["cpython-310", "cpython-312", "pypy310", "a b\n\u2028c"]),
        st.dictionaries(
            node_ids, st.tuples(st.integers(1, 2**63 - 1), st.none() | tolerances), max_size=8
        ),
        max_size=3,
    ),
    comment_lines,
)
# A line separator ends no line in TOML, and a line after it is no comment.
@example(tables={}, header=["# a\u2028b", "# c"])
def test_any_budgets_tolerances_and_header_survive_a_write_and_a_read(
    tmp_path_factory: pytest.TempPathFactory,
    tables: dict[str, dict[str, tuple[int, str | None]]],
    header: list[str],
) -> None:
    path = tmp_path_factory.mktemp("roundtrip") / "bytecount.toml"
    written = Budgets(
        path,
        {tag: {n: budget for n, (budget, _) in table.items()} for tag, table in tables.items()},
        "\n".join(header) + "\n",
        {
            tag: {n: own for n, (_, own) in table.items() if own is not None}
            for tag, table in tables.items()
            if any(own is not None for _, own in table.values())
        },
    )
    written.write()
    read = Budgets.load(path)
    assert (read.tables, read.tolerances) == (written.tables, written.tolerances)
    assert read.render() == written.render()


budgets_files = st.builds(
    lambda tables: Budgets(Path("unused"), tables),
    st.dictionaries(
        st.sampled_from(["cpython-310", "cpython-312"]),
        st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), st.integers(1, 9), min_size=1),
        max_size=2,
    ),
)


@given(budgets_files, budgets_files)
def test_the_changes_from_one_budgets_to_another_make_the_one_the_other(
    old: Budgets, new: Budgets
) -> None:
    assert old.apply(*old.changes_to(new)) == new


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet="[]{}=\"'#.,-_ \n\t\\abtu0123456789%\r\u2028\ufeff", max_size=80)
    | st.binary(max_size=40).map(lambda data: data.decode("latin-1"))
)
def test_any_bad_budgets_file_is_one_line_naming_the_file(
    tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    path = tmp_path_factory.mktemp("bad") / "bytecount.toml"
    path.write_text(f'["cpython-312"]\n{text}', encoding="utf-8")
    try:
        loaded = Budgets.load(path)
    except BudgetsError as exc:
        message = str(exc)
        assert message.startswith(f"{path}: ")
        assert len(message.splitlines()) == 1, message
    else:
        # What loads, writes back as it was read.
        loaded.updated("cpython-312", {}).write()
        assert Budgets.load(path) == loaded
