"""A suite split over several jobs (SPEC §9): `pytest-bytecount merge` puts
the shards' reports back together, and `pytest-bytecount record` writes the
budgets `--bytecount-update` would have written after one run of the suite,
byte for byte. Bad input is refused with exit 2, and nothing is written."""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import read_report

from pytest_bytecount.report_loader import load_report

SUITE_A = """
import pytest

def work(n):
    return sum(i * i for i in range(n))

def test_small():
    work(10)

def test_large():
    work(200)

@pytest.mark.max_instructions(100_000)
def test_marked():
    work(50)

@pytest.mark.parametrize("n", [1, 2, 3])
def test_params(n):
    work(n * 7)
"""

SUITE_B = """
import os

def work(n):
    return [str(i) for i in range(n)]

def test_strings(bytecount):
    bytecount(work, 30)

def test_varies():
    # Runs more work when asked: a count that differs between runs.
    work(20 + int(os.environ.get("EXTRA_WORK", "0")))

def test_fails():
    work(5)
    assert False
"""

#: A budgets file with a stale entry, another interpreter's table, and a
#: test's own tolerance: what recording must keep or prune.
BUDGETS = """# Our budgets.

["{tag}"]
"test_a.py::test_gone" = 10
"test_a.py::test_small" = {{ budget = 1, tolerance = "3%" }}

["cpython-299"]
"test_a.py::test_small" = 5
"""

SHARDS = (
    "test_small or test_params or test_strings",
    "not (test_small or test_params or test_strings)",
)


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_bytecount", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        capture_output=True,
        encoding="utf-8",
        check=False,
    )


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_a=SUITE_A, test_b=SUITE_B)
    tag = sys.implementation.cache_tag
    pytester.path.joinpath("bytecount.toml").write_text(BUDGETS.format(tag=tag))
    return pytester


def shard_reports(pytester: pytest.Pytester, *extra: str) -> list[Path]:
    paths = []
    for index, expression in enumerate(SHARDS):
        path = pytester.path / f"shard-{index}.json"
        pytester.runpytest(
            "-p",
            "no:cacheprovider",
            "--bytecount",
            "-k",
            expression,
            f"--bytecount-report={path}",
            *extra,
        )
        paths.append(path)
    return paths


def test_merged_shards_are_the_report_of_one_run(suite: pytest.Pytester) -> None:
    whole = suite.path / "whole.json"
    suite.runpytest("-p", "no:cacheprovider", "--bytecount", f"--bytecount-report={whole}")
    shards = shard_reports(suite)
    done = cli(suite.path, "merge", "-o", "merged.json", *(str(p) for p in shards))
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        f"merged 2 reports of {sys.implementation.cache_tag} into merged.json: "
        "9 tests, 1 stale budget\n"
    )
    merged = read_report(suite.path / "merged.json")
    expected = read_report(whole)
    for report in (merged, expected):
        report.pop("plugin_version")
    assert merged == expected
    assert merged["stale"] == ["test_a.py::test_gone"]


def test_recording_from_shards_writes_what_one_update_would(suite: pytest.Pytester) -> None:
    original = (suite.path / "bytecount.toml").read_text()
    suite.runpytest("-p", "no:cacheprovider", "--bytecount-update").assert_outcomes(
        passed=8, failed=1
    )
    updated = (suite.path / "bytecount.toml").read_text()
    assert "test_gone" not in updated  # the whole suite ran: pruned
    assert '"test_a.py::test_marked"' not in updated  # a marker's limit is its own
    assert "test_fails" not in updated

    for prune_from in ("merged", "shards"):
        (suite.path / "bytecount.toml").write_text(original)
        shards = shard_reports(suite)
        if prune_from == "merged":
            assert cli(suite.path, "merge", "-o", "merged.json", *map(str, shards)).returncode == 0
            inputs = ["merged.json"]
        else:
            inputs = [str(p) for p in shards]
        done = cli(suite.path, "record", *inputs, "--prune")
        assert done.returncode == 0, done.stderr
        assert (suite.path / "bytecount.toml").read_text() == updated, prune_from
        assert done.stdout.startswith(
            f"recorded 7 budgets of {sys.implementation.cache_tag} in bytecount.toml: "
            "6 new, 1 changed, 1 pruned"
        )


def test_repeated_runs_give_the_highest_count_and_a_tolerance_covering_the_spread(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = []
    for extra in ("0", "3"):
        monkeypatch.setenv("EXTRA_WORK", extra)
        path = suite.path / f"run-{extra}.json"
        suite.runpytest("-p", "no:cacheprovider", "--bytecount", f"--bytecount-report={path}")
        runs.append({t["nodeid"]: t["instructions"] for t in read_report(path)["tests"]})
    low, high = runs[0]["test_b.py::test_varies"], runs[1]["test_b.py::test_varies"]
    assert low < high
    done = cli(suite.path, "record", "run-0.json", "run-3.json", "--budgets", "fresh.toml")
    assert done.returncode == 0, done.stderr
    tolerance = -(-(high - low) * 1000 // low) / 10
    assert f"  varied between runs: test_b.py::test_varies  {low:,} to {high:,}, " in done.stdout
    text = (suite.path / "fresh.toml").read_text()
    assert f'"test_b.py::test_varies" = {{ budget = {high}, tolerance = "{tolerance:g}%" }}' in text
    # Budgets recorded so hold both runs: neither is over nor improved.
    for extra in ("0", "3"):
        monkeypatch.setenv("EXTRA_WORK", extra)
        result = suite.runpytest(
            "-p", "no:cacheprovider", "-o", "bytecount_budgets=fresh.toml", "-k", "test_varies"
        )
        result.assert_outcomes(passed=1)
        result.stdout.no_fnmatch_line("*OVER*")
        result.stdout.no_fnmatch_line("*IMPROVED*")


def other_interpreter(path: Path, tag: str = "cpython-299") -> Path:
    data: dict[str, Any] = json.loads(path.read_text())
    data["interpreter"]["tag"] = tag
    copy = path.with_name(f"{tag}.json")
    copy.write_text(json.dumps(data))
    return copy


def a_count_changed(path: Path) -> Path:
    data: dict[str, Any] = json.loads(path.read_text())
    data["tests"][0]["instructions"] += 1
    copy = path.with_name("changed.json")
    copy.write_text(json.dumps(data))
    return copy


@pytest.mark.parametrize(
    ("make_bad", "message"),
    [
        (
            other_interpreter,
            "{first} holds counts of {tag} and {bad} of cpython-299: "
            "reports of one interpreter only",
        ),
        (a_count_changed, "* counts * in {first} and * in {bad}: shards must not share tests *"),
        (lambda p: p.with_name("missing.json"), "{bad}: no such file"),
        (
            lambda p: (p.with_name("junk.json").write_text("[1, 2"), p.with_name("junk.json"))[1],
            "{bad}: not a JSON report: *",
        ),
        (
            lambda p: (
                p.with_name("other.json").write_text('{"schema": "x/2"}'),
                p.with_name("other.json"),
            )[1],
            '{bad}: schema "x/2", expected "pytest-bytecount/1": not a pytest-bytecount report',
        ),
    ],
    ids=["two interpreters", "one test two counts", "missing", "not JSON", "another schema"],
)
def test_merge_refuses_bad_input_and_writes_nothing(
    suite: pytest.Pytester, make_bad: Any, message: str
) -> None:
    first = shard_reports(suite)[0]
    bad = make_bad(first)
    done = cli(suite.path, "merge", "-o", "merged.json", str(first), str(bad))
    assert done.returncode == 2
    expected = message.format(first=first, bad=bad, tag=sys.implementation.cache_tag)
    assert fnmatch.fnmatchcase(done.stderr.strip(), f"pytest-bytecount: error: {expected}"), (
        done.stderr
    )
    assert not (suite.path / "merged.json").exists()
    assert "Traceback" not in done.stderr


def test_record_refuses_bad_input_and_leaves_the_budgets_file_alone(
    suite: pytest.Pytester,
) -> None:
    first = shard_reports(suite)[0]
    before = (suite.path / "bytecount.toml").read_bytes()
    done = cli(suite.path, "record", str(first), str(other_interpreter(first)))
    assert done.returncode == 2
    assert "reports of one interpreter only" in done.stderr
    (suite.path / "broken.toml").write_text('["x"]\n"t" = -1\n')
    done = cli(suite.path, "record", str(first), "--budgets", "broken.toml")
    assert done.returncode == 2
    assert done.stderr.startswith("pytest-bytecount: error: broken.toml: ")
    assert (suite.path / "bytecount.toml").read_bytes() == before
    assert (suite.path / "broken.toml").read_text() == '["x"]\n"t" = -1\n'
    done = cli(suite.path, "record", "nothing.json")
    assert done.returncode == 2
    assert "nothing.json: no such file" in done.stderr
    assert (suite.path / "bytecount.toml").read_bytes() == before


def test_an_output_that_cannot_be_written_is_a_clear_error(suite: pytest.Pytester) -> None:
    first = shard_reports(suite)[0]
    (suite.path / "taken").write_text("a file, not a directory")
    done = cli(suite.path, "merge", "-o", "taken/merged.json", str(first))
    assert done.returncode == 2
    assert done.stderr.startswith("pytest-bytecount: error: taken/merged.json: cannot write it: ")
    done = cli(suite.path, "record", str(first), "--budgets", "taken/bytecount.toml")
    assert done.returncode == 2
    # Read before it is written: the path is refused there, as clearly.
    assert "taken/bytecount.toml: cannot read the budgets file: " in done.stderr
    assert "Traceback" not in done.stderr


def test_merge_unites_the_shards_tables_of_functions_old_reports_too(
    suite: pytest.Pytester,
) -> None:
    first, second = shard_reports(suite)
    # The second shard as an earlier version wrote it: each entry naming
    # only the biggest functions (here, its two biggest).
    old = read_report(second)
    table = old.pop("functions")
    for test in old["tests"]:
        counts = test.pop("function_counts")
        test["functions"] = [
            dict(zip(("function", "file", "line"), table[index], strict=True))
            | {"instructions": count}
            for index, count in zip(counts[:4:2], counts[1:4:2], strict=True)
        ]
    second.write_text(json.dumps(old))
    done = cli(suite.path, "merge", "-o", "merged.json", str(first), str(second))
    assert done.returncode == 0, done.stderr
    merged = load_report(suite.path / "merged.json")
    shards = [load_report(first), load_report(second)]
    # Every entry with the functions its shard gave it, complete or not.
    expected = {record.nodeid: record for shard in shards for record in shard.records}
    assert {r.nodeid: r.functions for r in merged.records} == {
        nodeid: record.functions for nodeid, record in expected.items()
    }
    complete = {r.nodeid: r.functions_complete for r in merged.records}
    assert complete == {n: r.functions_complete for n, r in expected.items()}
    assert any(complete.values())
    assert not all(complete.values())
    data = read_report(suite.path / "merged.json")
    assert data["functions"] == sorted(data["functions"], key=lambda f: (f[1], f[2], f[0]))


def test_a_complexity_group_split_between_shards_is_fitted_when_they_are_merged(
    pytester: pytest.Pytester,
) -> None:
    from test_complexity import ALGORITHMS, MARKED

    pytester.makepyfile(algorithms=ALGORITHMS, test_sorts=MARKED)
    base = ("-p", "no:cacheprovider")
    # The whole run, and two shards each holding part of every group.
    pytester.runpytest(*base, "--bytecount-report=whole.json")
    for name, expression in (
        ("odd", "64 or 256 or 1024 or 16-"),
        ("even", "not (64 or 256 or 1024 or 16-)"),
    ):
        result = pytester.runpytest(*base, "-k", expression, f"--bytecount-report={name}.json")
        result.stdout.fnmatch_lines(
            ["*SKIPPED*test_merge[[]n=*]*not fitted: * not run or measured*"]
        )
    done = cli(pytester.path, "merge", "-o", "merged.json", "odd.json", "even.json")
    assert done.returncode == 0, done.stderr
    whole = read_report(pytester.path / "whole.json")["complexity"]
    merged = read_report(pytester.path / "merged.json")["complexity"]
    assert [entry["outcome"] for entry in merged] == ["failed", "passed", "passed"]
    assert merged == whole
