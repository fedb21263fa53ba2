"""Run history (issue 18): `--bytecount-autosave` keeps each run's report
under `.bytecount/`, `--bytecount-compare` alone compares with the latest
saved run of the running interpreter, the CLI lists runs and takes their
names, and old runs are pruned past `bytecount_autosave_keep`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_bytecount import history
from pytest_bytecount.report import interpreter_tag

TAG = interpreter_tag()
#: A saved run's file name: number, interpreter, UTC time, optional commit.
SAVED = re.compile(rf"[0-9]{{4}}_{TAG}_[0-9]{{8}}T[0-9]{{6}}Z(_[0-9a-f]{{10}}(-dirty)?)?\.json")

SUITE = """
def work(n):
    return sum(i * i for i in range(n))

def test_small():
    work(10)

def test_big():
    work(N)
"""


def saved(root: Path) -> list[Path]:
    return sorted((root / ".bytecount").glob("*.json"))


def test_each_autosaved_run_is_a_report_named_by_number_interpreter_and_time(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_suite=SUITE.replace("N", "20"))
    for _ in range(2):
        result = pytester.runpytest("--bytecount", "--bytecount-autosave")
        result.assert_outcomes(passed=2)
    runs = saved(pytester.path)
    assert [path.name[:4] for path in runs] == ["0001", "0002"]
    assert all(SAVED.fullmatch(path.name) for path in runs), runs
    result.stdout.fnmatch_lines([f"wrote .bytecount: saved run {runs[1].stem}, 2 tests"])
    report = json.loads(runs[1].read_text())
    assert report["interpreter"]["tag"] == TAG
    assert sorted(test["nodeid"] for test in report["tests"]) == [
        "test_suite.py::test_big",
        "test_suite.py::test_small",
    ]
    # Kept out of version control unless the team decides otherwise.
    assert (pytester.path / ".bytecount" / ".gitignore").read_text().endswith("*\n")


def test_compare_alone_takes_the_latest_saved_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE.replace("N", "20"))
    pytester.runpytest("--bytecount", "--bytecount-autosave").assert_outcomes(passed=2)
    pytester.makepyfile(test_suite=SUITE.replace("N", "40"))
    # Written after the test paths, as a bare option that takes a value must be.
    result = pytester.runpytest("--bytecount", "--bytecount-autosave", "--bytecount-compare")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    # A saved run keeps every function's count, as a report does: the row
    # names the function that grew.
    result.stdout.fnmatch_lines(
        ["REGRESSED*test_suite.py::test_big*", "*+*<genexpr> *(test_suite.py:2)"]
    )
    # The run just saved is the latest now: the same counts compare equal.
    result = pytester.runpytest("--bytecount", "--bytecount-compare")
    assert result.ret == pytest.ExitCode.OK


def test_compare_takes_a_saved_run_by_number_or_name(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE.replace("N", "20"))
    pytester.runpytest("--bytecount", "--bytecount-autosave").assert_outcomes(passed=2)
    pytester.makepyfile(test_suite=SUITE.replace("N", "40"))
    pytester.runpytest("--bytecount", "--bytecount-autosave").assert_outcomes(passed=2)
    first = saved(pytester.path)[0]
    assert pytester.runpytest("--bytecount", "--bytecount-compare=2").ret == pytest.ExitCode.OK
    result = pytester.runpytest("--bytecount", f"--bytecount-compare={first.stem}")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result = pytester.runpytest("--bytecount", "--bytecount-compare=0001")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result = pytester.runpytest("--bytecount", "--bytecount-compare=7")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --bytecount-compare: no file 7, and no saved run '7' in *"]
    )


def test_compare_alone_without_a_saved_run_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE.replace("N", "20"))
    result = pytester.runpytest("--bytecount", "--bytecount-compare")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"ERROR: --bytecount-compare: no run of {TAG} saved in * to compare with; *"]
    )
    assert not (pytester.path / ".bytecount").exists()


def test_old_runs_of_the_interpreter_are_pruned_past_the_number_kept(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_suite=SUITE.replace("N", "20"))
    pytester.makeini("[pytest]\nbytecount_autosave = true\nbytecount_autosave_keep = 2\n")
    # Another interpreter's run is not this one's to prune.
    other = pytester.path / ".bytecount" / "0001_cpython-399_20260101T000000Z.json"
    other.parent.mkdir()
    other.write_text("{}")
    for _ in range(3):
        result = pytester.runpytest("--bytecount")
    result.stdout.fnmatch_lines(
        [f"wrote .bytecount: saved run 0004_*, 2 tests; 1 older run of {TAG} removed"]
    )
    assert [path.name[:4] for path in saved(pytester.path)] == ["0001", "0003", "0004"]
    pytester.makeini("[pytest]\nbytecount_autosave_keep = none\n")
    result = pytester.runpytest("--bytecount")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: bytecount_autosave_keep: expected a number of runs, 1 or more, got 'none'"]
    )


def test_a_run_in_a_git_checkout_is_named_by_its_commit(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE.replace("N", "20"))
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    try:
        subprocess.run([*git, "init", "-q"], cwd=pytester.path, check=True)
        subprocess.run([*git, "add", "test_suite.py"], cwd=pytester.path, check=True)
        subprocess.run([*git, "commit", "-q", "-m", "suite"], cwd=pytester.path, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"git is not usable here: {exc}")
    head = subprocess.run(
        ["git", "rev-parse", "--short=10", "HEAD"],
        cwd=pytester.path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    pytester.runpytest("--bytecount", "--bytecount-autosave").assert_outcomes(passed=2)
    pytester.makepyfile(test_suite=SUITE.replace("N", "30"))
    pytester.runpytest("--bytecount", "--bytecount-autosave").assert_outcomes(passed=2)
    clean, dirty = saved(pytester.path)
    assert clean.stem.endswith(f"_{head}")
    assert dirty.stem.endswith(f"_{head}-dirty")


def test_find_names_a_run_by_a_prefix_only_it_has(tmp_path: Path) -> None:
    for _ in range(2):
        history.save(tmp_path, "{}\n", tag="cpython-312", commit=None)
    history.save(tmp_path, "{}\n", tag="cpython-310", commit="abc")
    assert history.find(tmp_path, "0003_cpython-310").commit == "abc"
    with pytest.raises(history.HistoryError, match="'000' names 3 saved runs"):
        history.find(tmp_path, "000")
    assert history.latest(tmp_path, "cpython-312") == history.find(tmp_path, "2")


def test_the_command_line_tool_lists_saved_runs_and_takes_their_names(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_bytecount.cli import main

    pytester.makepyfile(test_suite=SUITE.replace("N", "20"))
    pytester.runpytest("--bytecount", "--bytecount-autosave").assert_outcomes(passed=2)
    pytester.makepyfile(test_suite=SUITE.replace("N", "40"))
    pytester.runpytest("--bytecount", "--bytecount-autosave").assert_outcomes(passed=2)
    first, second = (path.stem for path in saved(pytester.path))
    capsys.readouterr()
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["run", "tests", "instructions"]
    assert [line.split()[:2] for line in lines[1:]] == [[first, "2"], [second, "2"]]
    # By number, by name: test_big grew between the two.
    assert main(["compare", "1", second]) == 1
    assert "test_suite.py::test_big" in capsys.readouterr().out
    assert main(["show", "2"]) == 0
    assert f"bytecount ({TAG})" in capsys.readouterr().out
    assert main(["show", "3"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("pytest-bytecount: error: no file 3, and no saved run '3' in ")
    assert len(error.splitlines()) == 1
    # Elsewhere: the history is named.
    assert main(["list", "--history", str(pytester.path / "nowhere")]) == 0
    assert capsys.readouterr().out.startswith("no saved runs in ")


def test_compare_latest_works_in_addopts_before_the_test_paths(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE.replace("N", "20"))
    pytester.runpytest("--bytecount", "--bytecount-autosave").assert_outcomes(passed=2)

    def pytest_run(*args: str) -> subprocess.CompletedProcess[str]:
        # As a user types it: pytester's runs, and PYTEST_ADDOPTS, put
        # options between addopts and the test paths.
        env = {key: value for key, value in os.environ.items() if key != "PYTEST_ADDOPTS"}
        return subprocess.run(
            [sys.executable, "-m", "pytest", *args, "-p", "no:randomly", "-p", "no:cacheprovider"],
            cwd=pytester.path,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )

    # Bare, in addopts, the option would take the test path for its value.
    pytester.makeini("[pytest]\naddopts = --bytecount --bytecount-compare\n")
    done = pytest_run("test_suite.py")
    assert done.returncode == pytest.ExitCode.USAGE_ERROR
    assert (
        "ERROR: --bytecount-compare: test_suite.py is a test path, not a report; to compare "
        "with the latest saved run, write --bytecount-compare=latest"
    ) in done.stderr
    pytester.makeini("[pytest]\naddopts = --bytecount --bytecount-compare=latest\n")
    done = pytest_run("test_suite.py::test_big")
    assert done.returncode == pytest.ExitCode.OK, done.stdout
    (run,) = saved(pytester.path)
    assert f"bytecount: comparing with .bytecount/{run.name} (2 tests)" in done.stdout


@pytest.mark.parametrize(
    ("options", "why"),
    [
        (("--bytecount-disable",), "counting was disabled"),
        ((), "no test was measured"),
        (("--bytecount", "-k", "no_such_test"), "no test was measured"),
    ],
)
def test_a_run_that_measured_nothing_is_not_saved(
    pytester: pytest.Pytester, options: tuple[str, ...], why: str
) -> None:
    """Saved, it would be the latest run, and a later compare with it would
    find nothing to judge, and pass."""
    pytester.makepyfile(test_suite=SUITE.replace("N", "20"))
    result = pytester.runpytest("--bytecount-autosave", *options)
    result.stdout.fnmatch_lines([f"did not save a run in .bytecount: {why}"])
    assert saved(pytester.path) == []


def test_under_xdist_the_workers_compare_with_the_controllers_run(
    pytester: pytest.Pytester,
) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile(test_suite=SUITE.replace("N", "20"))
    pytester.runpytest("--bytecount", "--bytecount-autosave").assert_outcomes(passed=2)
    first = saved(pytester.path)[0]
    pytester.makepyfile(test_suite=SUITE.replace("N", "40"))
    # A worker that looked for the latest run itself would find this one.
    later = first.with_name(first.name.replace("0001_", "0002_"))
    pytester.makeconftest(
        f"""
        import json

        def pytest_configure(config):
            if hasattr(config, "workerinput"):
                with open({str(first)!r}) as file:
                    data = json.load(file)
                for test in data["tests"]:
                    test["instructions"] = 10**6
                with open({str(later)!r}, "w") as file:
                    json.dump(data, file)
        """
    )
    result = pytester.runpytest_subprocess("--bytecount", "--bytecount-compare=latest", "-n", "2")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["REGRESSED*test_suite.py::test_big*"])
