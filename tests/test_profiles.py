"""`--bytecount-profile=DIR` (SPEC §8): a folded-stacks file per measured
test and one speedscope file, checked with their real consumers: speedscope's
published JSON schema and flamegraph.pl."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from helpers import counts, read_report

from pytest_bytecount.render.profiles import file_names

#: From the speedscope 1.25.0 npm package (dist/release/file-format-schema.json, MIT).
SPEEDSCOPE_SCHEMA = Path(__file__).parent / "data" / "speedscope-file-format-schema.json"

#: Brendan Gregg's flamegraph.pl: on PATH, or as Debian's libdevel-nytprof-perl ships it.
FLAMEGRAPH = shutil.which("flamegraph.pl") or next(
    (p for p in ("/usr/share/perl5/Devel/NYTProf/flamegraph.pl",) if os.path.exists(p)), None
)

SUITE = """
import pytest

def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)

@pytest.mark.max_instructions(100_000)
def test_fib():
    assert fib(12) == 144

@pytest.mark.parametrize("n", [3, 5])
def test_sorted(bytecount, n):
    bytecount(sorted, range(n), key=lambda x: -x)
    with bytecount.measure():
        fib(n)
"""


def folded_total(text: str) -> int:
    return sum(int(line.rsplit(" ", 1)[1]) for line in text.splitlines())


def run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, int]]:
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--bytecount-profile=prof", "--bytecount-report=r.json", *args
    )
    return result, counts(read_report(pytester.path / "r.json"))


def test_each_measured_test_gets_a_folded_file_summing_to_its_count(
    pytester: pytest.Pytester,
) -> None:
    result, measured = run(pytester)
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["wrote prof: 3 folded-stacks files and bytecount.speedscope.json"])
    files = sorted(p.name for p in (pytester.path / "prof").iterdir())
    assert files == [
        "bytecount.speedscope.json",
        "test_suite.py__test_fib.folded",
        "test_suite.py__test_sorted_3_.folded",
        "test_suite.py__test_sorted_5_.folded",
    ]
    names = file_names(list(measured))
    for nodeid, count in measured.items():
        text = (pytester.path / "prof" / names[nodeid]).read_text()
        assert folded_total(text) == count
        assert all(
            re.fullmatch(r"\S.*\(test_suite\.py:\d+\) \d+", line) for line in text.splitlines()
        )
    fib = (pytester.path / "prof" / "test_suite.py__test_fib.folded").read_text()
    assert "test_fib (test_suite.py:6);fib (test_suite.py:3);fib (test_suite.py:3) " in fib


def test_the_speedscope_file_follows_speedscopes_schema_with_a_profile_per_test(
    pytester: pytest.Pytester,
) -> None:
    _, measured = run(pytester)
    data: dict[str, Any] = json.loads(
        (pytester.path / "prof" / "bytecount.speedscope.json").read_text()
    )
    jsonschema.validate(data, json.loads(SPEEDSCOPE_SCHEMA.read_text()))
    assert data["$schema"] == "https://www.speedscope.app/file-format-schema.json"
    profiles = {profile["name"]: profile for profile in data["profiles"]}
    assert {name: p["endValue"] for name, p in profiles.items()} == measured
    for profile in profiles.values():
        assert profile["unit"] == "none"
        assert sum(profile["weights"]) == profile["endValue"]
    frames = data["shared"]["frames"]
    assert {"name": "fib", "file": "test_suite.py", "line": 3} in frames


def test_under_xdist_the_controller_writes_the_same_files(pytester: pytest.Pytester) -> None:
    run(pytester)
    serial = {p.name: p.read_text() for p in (pytester.path / "prof").iterdir()}
    shutil.rmtree(pytester.path / "prof")
    result, _ = run(pytester, "-n", "2")
    result.assert_outcomes(passed=3)
    parallel = {p.name: p.read_text() for p in (pytester.path / "prof").iterdir()}
    assert parallel.keys() == serial.keys()
    for name, text in serial.items():
        if name.endswith(".folded"):
            assert parallel[name] == text
    # The speedscope file lists the tests in the order they finished.
    key = "bytecount.speedscope.json"
    assert sorted(p["name"] for p in json.loads(parallel[key])["profiles"]) == sorted(
        p["name"] for p in json.loads(serial[key])["profiles"]
    )


@pytest.mark.skipif(
    FLAMEGRAPH is None, reason="flamegraph.pl not found (Debian: libdevel-nytprof-perl)"
)
def test_flamegraph_pl_draws_the_folded_file(pytester: pytest.Pytester) -> None:
    _, measured = run(pytester)
    folded = pytester.path / "prof" / "test_suite.py__test_fib.folded"
    assert FLAMEGRAPH is not None
    svg = subprocess.run(
        ["perl", FLAMEGRAPH, "--countname", "instructions", str(folded)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"all ({measured['test_suite.py::test_fib']:,} instructions, 100%)" in svg
    assert "<title>fib (test_suite.py:3) (" in svg


def test_an_empty_profile_directory_option_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_it="def test_it(): pass")
    result = pytester.runpytest("--bytecount-profile=")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--bytecount-profile: expected a directory, got ''*"])


def test_a_profile_directory_that_cannot_be_written_is_a_clear_error(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_it="def test_it(): pass")
    (pytester.path / "taken").write_text("a file, not a directory")
    result = pytester.runpytest("--bytecount", "--bytecount-profile=taken")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines(["ERROR: --bytecount-profile: cannot write *taken*"])
    assert "Traceback" not in result.stdout.str()


def test_file_names_are_stable_and_tell_apart_what_would_collide() -> None:
    names = file_names(["a/b.py::t", "a_b.py::t", "x.py::t[1/2]", "y.py::" + "t" * 200])
    assert names["x.py::t[1/2]"] == "x.py__t_1_2_.folded"
    assert names["a/b.py::t"] != names["a_b.py::t"]
    assert names["a/b.py::t"].startswith("a_b.py__t.")
    long = names["y.py::" + "t" * 200]
    assert len(long) < 150
    assert long.endswith(".folded")
    assert file_names(["a/b.py::t", "a_b.py::t"]) == {
        k: names[k] for k in ("a/b.py::t", "a_b.py::t")
    }
