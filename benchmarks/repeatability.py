"""Do counts repeat on real suites? Each suite run twice, every test measured.

    python benchmarks/repeatability.py [--core c|python] [--no-plain] [PACKAGE ...]

    default packages: more-itertools toolz attrs idna python-dateutil

Downloads each package's source distribution from PyPI (`pip download
--no-binary NAME`, so not a test) with the running interpreter's pip, and
runs its own tests (every `tests` directory in it) with that interpreter, in
a subprocess, serially, with `PYTHONHASHSEED=0`, `-p no:randomly` and
`-p no:asyncio`; a `src` directory goes first on `PYTHONPATH`. Each suite
runs twice with `--bytecount --bytecount-report` and, unless `--no-plain`,
a third time without `--bytecount` (the plugin installed but idle). The
three runs share the unpacked tree, so what a run leaves behind (bytecode
caches, Hypothesis's example database) the next one finds, as in a
developer's checkout. `--core` sets `PYTEST_BYTECOUNT_CORE` (default `c`,
the compiled core). pip picks the newest release that supports the running
Python, so an older interpreter may test older releases. The plugin measured
is the `pytest_bytecount` that imports: to measure another checkout, put it
first on `PYTHONPATH` (with its compiled core built).

Prints a table, one row per suite: the tests measured in both runs, those
whose counts were identical, those that differed and were marked unstable,
those that differed and were NOT marked (what the plugin missed), and those
marked unstable though identical this time. A second table gives each run's
outcomes (passed, failed, ...), which must not depend on `--bytecount`.
Then the details: every test that differed, its two counts and the reason
it was marked (or `NOT marked`), the marked-but-identical tests, and every
test whose outcome changed between runs. Failing tests are fine: their
counts are compared too. Packages whose tests need modules that are not
installed are named with what to `pip install`, before anything runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import py_compile
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from suite import real_suite

#: Hypothesis (`@given`): attrs, idna, python-dateutil. Subprocesses: idna
#: (`python -m idna`), python-dateutil (`test_imports`). A generator seeded
#: at import: more-itertools. toolz: small, pure functions.
DEFAULT = ("more-itertools", "toolz", "attrs", "idna", "python-dateutil")
#: The modules each default suite's tests import beyond pytest, and the
#: distribution that provides each. Optional ones (skips) are left out.
NEEDS = {
    "attrs": {"hypothesis": "hypothesis"},
    "idna": {"hypothesis": "hypothesis"},
    "python-dateutil": {"hypothesis": "hypothesis", "freezegun": "freezegun"},
}
OUTCOMES_PLUGIN = "bytecount_bench_outcomes"
#: A plugin for the runs: each test's outcome, to name those that changed.
OUTCOMES_SOURCE = """
import json
import os
import py_compile

outcomes = {}


def pytest_collectreport(report):
    if report.failed:
        outcomes[report.nodeid or "<collection>"] = "error"


def pytest_runtest_logreport(report):
    if type(report).__name__ == "SubtestReport":
        return  # pytest's summary line counts them
    xfail = hasattr(report, "wasxfail")
    if report.when == "call":
        outcome = report.outcome
        if xfail:
            outcome = "xfailed" if report.skipped else "xpassed"
        outcomes[report.nodeid] = outcome
    elif report.when == "setup" and not report.passed:
        outcomes[report.nodeid] = "error" if report.failed else "xfailed" if xfail else "skipped"
    elif report.when == "teardown" and report.failed:
        outcomes[report.nodeid] = "error"


def pytest_sessionfinish(session):
    with open(os.environ["BYTECOUNT_BENCH_OUTCOMES"], "w") as file:
        json.dump({"tests": outcomes}, file)
"""
MISSING = re.compile(r"^E\s+ModuleNotFoundError: No module named '([\w.]+)'", re.MULTILINE)
SUMMARY = re.compile(r"^=*\s*(\d+ \w.*?) in [\d.]+s\b", re.MULTILINE)


@dataclass
class Run:
    """One pytest run of a suite."""

    seconds: float
    outcomes: dict[str, str]
    counts: dict[str, dict[str, Any]] = field(default_factory=dict)
    missing: set[str] = field(default_factory=set)
    #: pytest's own last line, its time left out.
    pytest_line: str = ""


@dataclass
class Result:
    """A suite's runs, compared."""

    name: str
    runs: list[Run]
    both: list[str]
    differ_marked: list[str]
    differ_unmarked: list[str]
    marked_identical: list[str]
    one_run_only: list[str]


def run(root: Path, tests: list[str], work: Path, label: str, measure: bool) -> Run:
    """Run the suite once; `work` holds the outcomes plugin, its outputs go
    next to it, off `sys.path` (a directory on it that changes between runs
    changes what imports and `importlib.metadata` do)."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += ["-p", "no:randomly", "-p", "no:asyncio", "-p", OUTCOMES_PLUGIN]
    report = work.parent / f"{label}.json"
    if measure:
        command += ["--bytecount", f"--bytecount-report={report}"]
    outcomes = work.parent / f"{label}.outcomes.json"
    path = [str(work)] + ([str(root / "src")] if (root / "src").is_dir() else [])
    if os.environ.get("PYTHONPATH"):
        path.append(os.environ["PYTHONPATH"])
    environment = {
        **os.environ,
        "PYTHONHASHSEED": "0",
        "PYTHONPATH": os.pathsep.join(path),
        "BYTECOUNT_BENCH_OUTCOMES": str(outcomes),
    }
    start = time.perf_counter()
    done = subprocess.run(
        [*command, *tests], cwd=root, env=environment, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - start
    if not outcomes.exists() or (measure and not report.exists()):
        raise SystemExit(f"{' '.join(command)} did not finish:\n{done.stdout}\n{done.stderr}")
    recorded = json.loads(outcomes.read_text())["tests"]
    result = Run(seconds, recorded)
    if measure:
        result.counts = {e["nodeid"]: e for e in json.loads(report.read_text())["tests"]}
    result.missing = set(MISSING.findall(done.stdout))
    lines = SUMMARY.findall(done.stdout)
    result.pytest_line = lines[-1] if lines else "(no summary line)"
    return result


def compare(package: str, plain: bool) -> Result:
    with tempfile.TemporaryDirectory() as directory:
        work = Path(directory) / "work"
        work.mkdir()
        plugin = work / f"{OUTCOMES_PLUGIN}.py"
        plugin.write_text(OUTCOMES_SOURCE)
        py_compile.compile(str(plugin), cfile=importlib.util.cache_from_source(str(plugin)))
        sdist = Path(directory) / "sdist"
        sdist.mkdir()
        root, tests = real_suite(package, sdist)
        runs = [run(root, tests, work, label, True) for label in ("first", "second")]
        if plain:
            runs.append(run(root, tests, work, "plain", False))
    first, second = runs[0].counts, runs[1].counts
    both = sorted(first.keys() & second.keys())
    differ = [n for n in both if first[n]["instructions"] != second[n]["instructions"]]
    return Result(
        name=root.name,
        runs=runs,
        both=both,
        differ_marked=[n for n in differ if unstable(first[n], second[n])],
        differ_unmarked=[n for n in differ if not unstable(first[n], second[n])],
        marked_identical=[n for n in both if n not in differ and unstable(first[n], second[n])],
        one_run_only=sorted(first.keys() ^ second.keys()),
    )


def unstable(*entries: dict[str, Any]) -> str | None:
    """The reason either run gave for the test's count being unstable."""
    return next((str(e["unstable"]) for e in entries if e.get("unstable")), None)


def missing_modules(packages: list[str]) -> list[str]:
    """What to install for the packages' tests, one line per package."""
    lines = []
    for package in packages:
        needed = NEEDS.get(package, {})
        absent = sorted({d for m, d in needed.items() if importlib.util.find_spec(m) is None})
        if absent:
            lines.append(f"  {package}: {sys.executable} -m pip install {' '.join(absent)}")
    return lines


def tables(results: list[Result]) -> None:
    width = max(len(r.name) for r in results) + 2
    heads = ("tests", "identical", "differed+marked", "differed+NOT marked", "marked+identical")
    print(f"{'suite':<{width}}" + "".join(f"{h:>{len(h) + 2}}" for h in heads))
    for r in results:
        differed = len(r.differ_marked) + len(r.differ_unmarked)
        cells = [len(r.both), len(r.both) - differed, len(r.differ_marked)]
        cells += [len(r.differ_unmarked), len(r.marked_identical)]
        print(
            f"{r.name:<{width}}"
            + "".join(f"{c:>{len(h) + 2},}" for h, c in zip(heads, cells, strict=True))
        )
    print()
    labels = ("run 1 (--bytecount)", "run 2 (--bytecount)", "run 3 (no --bytecount)")
    print("outcomes: wall time, pytest's summary line")
    for r in results:
        same = len({run.pytest_line for run in r.runs}) == 1
        same = same and all(run.outcomes == r.runs[0].outcomes for run in r.runs)
        print(f"  {r.name}: {'same' if same else 'DIFFER'}")
        for label, one in zip(labels, r.runs, strict=False):
            print(f"    {label:<24}{one.seconds:>7.1f}s  {one.pytest_line}")


def details(r: Result) -> None:
    first, second = r.runs[0].counts, r.runs[1].counts
    print(
        f"\n{r.name}: {len(r.both) - len(r.differ_marked) - len(r.differ_unmarked)}"
        f" of {len(r.both)} identical"
    )
    for title, nodeids in (
        ("differed, NOT marked", r.differ_unmarked),
        ("differed, marked unstable", r.differ_marked),
    ):
        if nodeids:
            print(f"  {title}: {len(nodeids)}")
        for nodeid in nodeids:
            a, b = int(first[nodeid]["instructions"]), int(second[nodeid]["instructions"])
            reason = unstable(first[nodeid], second[nodeid])
            print(
                f"    {nodeid}  {a:,} / {b:,} ({b - a:+,})"
                + (f"  unstable: {reason}" if reason else "")
            )
    if r.marked_identical:
        print(f"  marked unstable, identical this time: {len(r.marked_identical)}")
        for nodeid in r.marked_identical:
            print(f"    {nodeid}: {unstable(first[nodeid], second[nodeid])}")
    if r.one_run_only:
        print(f"  measured in one run only: {len(r.one_run_only)}")
        for nodeid in r.one_run_only:
            print(f"    {nodeid}")
    changed = sorted(
        n
        for n in set().union(*(run.outcomes for run in r.runs))
        if len({run.outcomes.get(n, "absent") for run in r.runs}) > 1
    )
    if changed:
        print(f"  outcome changed between runs: {len(changed)}")
        for nodeid in changed:
            print(
                f"    {nodeid}: {' / '.join(run.outcomes.get(nodeid, 'absent') for run in r.runs)}"
            )
    not_passed = sorted((n, o) for n, o in r.runs[0].outcomes.items() if o in ("failed", "error"))
    if not_passed:
        print(f"  failed or errored in run 1: {len(not_passed)}")
        for nodeid, outcome in not_passed:
            print(f"    {nodeid}: {outcome}")
    missing = set().union(*(run.missing for run in r.runs))
    if missing:
        print(f"  ModuleNotFoundError (a test dependency missing?): {', '.join(sorted(missing))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("packages", nargs="*", default=list(DEFAULT))
    parser.add_argument(
        "--core",
        choices=("c", "python"),
        default="c",
        help="PYTEST_BYTECOUNT_CORE for the runs (default: c, compiled)",
    )
    parser.add_argument(
        "--no-plain",
        dest="plain",
        action="store_false",
        help="skip the third run, without --bytecount",
    )
    args = parser.parse_args()
    missing = missing_modules(args.packages)
    if missing:
        raise SystemExit("missing test dependencies:\n" + "\n".join(missing))
    os.environ["PYTEST_BYTECOUNT_CORE"] = args.core
    import pytest_bytecount

    plugin = Path(pytest_bytecount.__file__).parent
    print(
        f"Python {sys.version.split()[0]}, core {args.core}, PYTHONHASHSEED=0,"
        f" every test measured, two runs{' and one without --bytecount' if args.plain else ''}"
    )
    print(f"plugin: {plugin}")
    results = []
    for package in args.packages:
        results.append(compare(package, args.plain))
        print(f"  done: {results[-1].name}", file=sys.stderr, flush=True)
    print()
    tables(results)
    for result in results:
        details(result)


if __name__ == "__main__":
    main()
