"""GitHub Actions (SPEC §12): error annotations at the definition of tests
over budget or regressed, notices for improvements, the table in the job
summary; on under GITHUB_ACTIONS=true or `bytecount_github = on`, and never
otherwise."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pytest_bytecount.render.github import command, escape_data, escape_property

SUITE = """
import pytest

def work(n):
    return sum(i * i for i in range(n))

@pytest.mark.max_instructions(50)
def test_over():
    work(100)

def test_improved():
    work(3)

@pytest.mark.parametrize("share", ["50%", "a,b:c"])
def test_within(share):
    work(len(share))
"""


@pytest.fixture
def github(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A pytester run as on GitHub Actions; the job summary's path."""
    summary = pytester.path / "summary.md"
    summary.write_text("# Earlier steps\n")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_WORKSPACE", str(pytester.path.parent))
    pytester.makepyfile(test_suite=SUITE)
    tag = sys.implementation.cache_tag
    pytester.path.joinpath("bytecount.toml").write_text(
        f'["{tag}"]\n"test_suite.py::test_improved" = 10000\n'
    )
    return summary


def test_a_broken_budget_is_an_error_annotation_at_the_test(
    pytester: pytest.Pytester, github: Path
) -> None:
    result = pytester.runpytest("-p", "no:cacheprovider", "--bytecount")
    result.assert_outcomes(passed=3, failed=1)
    folder = pytester.path.name
    result.stdout.fnmatch_lines(
        [
            f"::error file={folder}/test_suite.py,line=6,title=bytecount::"
            "test_suite.py::test_over: * instructions, over its limit of 50 (+*%25)",
            f"::notice file={folder}/test_suite.py,line=10,title=bytecount::"
            "test_suite.py::test_improved: * instructions, under its budget of 10,000 (-*%25)"
            ": ratchet it down with --bytecount-update",
        ]
    )
    assert result.stdout.str().count("::error ") == 1
    text = github.read_text()
    assert text.startswith("# Earlier steps\n### bytecount: `this run` against `budgets`")
    assert "| :red_circle: regressed | `test_suite.py::test_over` | 50 |" in text
    assert "| :green_circle: improved | `test_suite.py::test_improved` | 10,000 |" in text


def test_outside_github_actions_nothing_of_it_is_printed(
    pytester: pytest.Pytester, github: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS")
    result = pytester.runpytest("-p", "no:cacheprovider", "--bytecount")
    result.assert_outcomes(passed=3, failed=1)
    assert "::" not in result.stdout.str().replace("test_suite.py::", "")
    assert github.read_text() == "# Earlier steps\n"


def test_bytecount_github_turns_it_on_or_off(
    pytester: pytest.Pytester, github: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = pytester.runpytest("-p", "no:cacheprovider", "-o", "bytecount_github=off")
    assert "::error" not in result.stdout.str()
    monkeypatch.delenv("GITHUB_ACTIONS")
    result = pytester.runpytest("-p", "no:cacheprovider", "-o", "bytecount_github=on")
    result.stdout.fnmatch_lines(["::error file=*test_suite.py,line=6,title=bytecount::*"])
    result = pytester.runpytest("-p", "no:cacheprovider", "-o", "bytecount_github=yes")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*bytecount_github: expected auto, on or off, got 'yes'*"])


def test_under_xdist_only_the_controller_prints_them(
    pytester: pytest.Pytester, github: Path
) -> None:
    result = pytester.runpytest("-p", "no:cacheprovider", "--bytecount", "-n", "2")
    result.assert_outcomes(passed=3, failed=1)
    assert result.stdout.str().count("::error ") == 1
    assert github.read_text().count("### bytecount") == 1


def test_errors_are_capped_and_the_rest_counted(pytester: pytest.Pytester, github: Path) -> None:
    pytester.makepyfile(
        test_many="""
        import pytest

        @pytest.mark.parametrize("n", range(13))
        @pytest.mark.max_instructions(5)
        def test_dear(n):
            sum(range(n + 10))
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "test_many.py")
    result.assert_outcomes(failed=13)
    assert result.stdout.str().count("::error ") == 10
    result.stdout.fnmatch_lines(
        ["::notice title=bytecount::3 more tests over budget or regressed: see the job summary"]
    )


def test_a_regression_names_the_baseline(pytester: pytest.Pytester, github: Path) -> None:
    pytester.runpytest("-p", "no:cacheprovider", "--bytecount", "--bytecount-report=base.json")
    pytester.makepyfile(test_suite=SUITE.replace("work(len(share))", "work(len(share) * 9)"))
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--bytecount", "--bytecount-compare=base.json"
    )
    result.stdout.fnmatch_lines(
        [
            "::error file=*test_suite.py,line=13,title=bytecount::"
            "test_suite.py::test_within?50%25?: * instructions, up from * in the baseline (+*%25)"
        ]
    )
    assert "### bytecount: `this run` against `base.json`" in github.read_text()


def test_workflow_commands_are_escaped_as_github_documents() -> None:
    assert escape_data("50% of\r\nit") == "50%25 of%0D%0Ait"
    assert escape_property("a,b:c%") == "a%2Cb%3Ac%25"
    assert command("error", "x: 1,2", ("dir/f,1.py", 3)) == (
        "::error file=dir/f%2C1.py,line=3,title=bytecount::x: 1,2"
    )


CHECK_JSONSCHEMA = shutil.which("check-jsonschema", path=os.path.dirname(sys.executable)) or (
    shutil.which("check-jsonschema")
)


def workflows() -> list[str]:
    """The GitHub Actions workflows the CI recipe shows."""
    text = (Path(__file__).parent.parent / "docs" / "ci.rst").read_text()
    blocks = text.split(".. code-block:: yaml\n\n")[1:]
    found = []
    for block in blocks:
        lines = []
        for line in block.splitlines():
            if line and not line.startswith("    "):
                break
            lines.append(line)
        found.append(textwrap.dedent("\n".join(lines)).strip() + "\n")
    return found


@pytest.mark.skipif(CHECK_JSONSCHEMA is None, reason="check-jsonschema is not installed")
@pytest.mark.parametrize("index", range(2))
def test_the_ci_recipes_workflows_are_valid_github_workflows(tmp_path: Path, index: int) -> None:
    found = workflows()
    assert len(found) == 2
    workflow = tmp_path / "workflow.yml"
    workflow.write_text(found[index])
    assert CHECK_JSONSCHEMA is not None
    check = [CHECK_JSONSCHEMA, "--builtin-schema", "vendor.github-workflows"]
    done = subprocess.run([*check, str(workflow)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    # And the check does fail a broken one.
    workflow.write_text(found[index].replace("runs-on:", "runs-onn:", 1))
    done = subprocess.run([*check, str(workflow)], capture_output=True, text=True, check=False)
    assert done.returncode != 0


def test_a_huge_job_summary_is_cut_with_a_count_of_the_rows_left_out() -> None:
    from pytest_bytecount.records import TestRecord, against_limits
    from pytest_bytecount.render.github import MOST_SUMMARY_BYTES, job_summary
    from pytest_bytecount.verdict import Status

    records = [
        TestRecord(f"tests/test_{'x' * 80}.py::test_{n}", 1000 + n, None, Status.NEW, "passed")
        for n in range(5000)
    ]
    text = job_summary(against_limits(records), old_label="budgets", tolerance=0.0)
    assert len(text.encode("utf-8")) <= MOST_SUMMARY_BYTES
    shown = sum(1 for line in text.splitlines() if line.startswith("| new |"))
    assert 0 < shown < 5000
    assert text.rstrip().endswith(
        f"_{5000 - shown:,} more rows left out to keep this under 256 KiB._"
    )
