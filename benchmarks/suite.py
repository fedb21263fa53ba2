"""What measuring every test costs a whole suite: the same pytest run timed
side by side, in one run, without the plugin, with it idle, and measuring.

    python benchmarks/suite.py [--tests 2000] [--repeats 3] [--real more-itertools]

Generates a suite of tiny tests (a 20-element list comprehension each) in a
temporary directory and times, interleaved so that the machine's noise hits
every mode alike, `pytest -p no:bytecount`, `pytest` (installed, idle) and
`pytest --bytecount` (every test measured). On 3.12+ it also times the
floor of any sys.monitoring span per test: no plugin, but a do-nothing
PY_START callback switched on and off around each test, which makes CPython
re-instrument the code it runs next. Prints the best wall time of
each and its ratio to the run without the plugin. With `--real PACKAGE`, it
also downloads that package's source distribution from PyPI (`pip
download`) and times its own test suite the same way. Timings only: the
tests never assert on time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from pytest_bytecount.counting import thread_meter

PIP = (sys.executable, "-m", "pip")
PER_FILE = 100
TEST = """
def test_{index:04d}():
    assert len([i * i for i in range(20)]) == 20
"""
MODES = {
    "without plugin": ["-p", "no:bytecount"],
    "idle": [],
    "--bytecount": ["--bytecount"],
}
FLOOR_MODE = "events on/off"
FLOOR_VARIABLE = "BYTECOUNT_BENCH_EVENTS_PER_TEST"
FLOOR_CONFTEST = f"""
import os
import sys

import pytest

if os.environ.get({FLOOR_VARIABLE!r}):
    mon = sys.monitoring

    def nothing(code, offset):
        return None

    @pytest.hookimpl(wrapper=True)
    def pytest_pyfunc_call(pyfuncitem):
        mon.use_tool_id(4, "events on/off")
        mon.register_callback(4, mon.events.PY_START, nothing)
        mon.set_events(4, mon.events.PY_START)
        try:
            return (yield)
        finally:
            mon.set_events(4, 0)
            mon.register_callback(4, mon.events.PY_START, None)
            mon.free_tool_id(4)
"""


def write_suite(root: Path, tests: int) -> None:
    for first in range(0, tests, PER_FILE):
        body = "".join(TEST.format(index=i) for i in range(first, min(first + PER_FILE, tests)))
        (root / f"test_tiny_{first // PER_FILE:03d}.py").write_text(body)
    (root / "pytest.ini").write_text("[pytest]\n")
    (root / "conftest.py").write_text(FLOOR_CONFTEST)


def run(root: Path, extra: list[str], tests: list[str], floor: bool = False) -> float:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += ["-p", "no:randomly", *extra, *tests]
    environment = {**os.environ, FLOOR_VARIABLE: "1"} if floor else None
    start = time.perf_counter()
    done = subprocess.run(
        command, cwd=root, capture_output=True, text=True, check=False, env=environment
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0 or " passed" not in done.stdout:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return elapsed


def real_suite(package: str, directory: Path) -> tuple[Path, list[str]]:
    """The unpacked source distribution of `package` and its test paths."""
    # The package from source, but not what builds it: `--no-binary :all:`
    # would build its build backend, and that one's, from source too.
    download = ("download", "--no-deps", "--no-binary", package, "--quiet")
    subprocess.run([*PIP, *download, "-d", str(directory), package], check=True)
    (archive,) = directory.glob("*.tar.gz")
    with tarfile.open(archive) as sdist:
        sdist.extractall(directory, filter="data")
    (root,) = (path for path in directory.iterdir() if path.is_dir())
    tests = [str(path.relative_to(root)) for path in root.glob("**/tests") if path.is_dir()]
    if not tests:
        raise SystemExit(f"{package}: no tests directory in its source distribution")
    return root, tests


def compare(title: str, root: Path, tests: list[str], repeats: int, floor: bool) -> None:
    modes = {**MODES, FLOOR_MODE: MODES["without plugin"]} if floor else MODES
    best = dict.fromkeys(modes, float("inf"))
    for _ in range(repeats):
        for mode, extra in modes.items():
            best[mode] = min(best[mode], run(root, extra, tests, floor=mode == FLOOR_MODE))
    print(f"{title}, best of {repeats}")
    print(f"  {'mode':<16}{'wall s':>10}{'ratio':>10}")
    base = best["without plugin"]
    for mode, seconds in best.items():
        print(f"  {mode:<16}{seconds:>10.2f}{seconds / base:>9.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--real", metavar="PACKAGE", help="also time this package's own suite")
    args = parser.parse_args()
    engine = thread_meter().engine
    version = ".".join(map(str, sys.version_info[:3]))
    print(f"Python {version}, {engine.name} (core: {engine.core})")
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        write_suite(root, args.tests)
        floor = sys.version_info >= (3, 12)
        compare(f"{args.tests} tiny tests", root, [], args.repeats, floor)
    if args.real:
        with tempfile.TemporaryDirectory() as directory:
            root, tests = real_suite(args.real, Path(directory))
            compare(f"{args.real}'s own tests ({root.name})", root, tests, args.repeats, False)


if __name__ == "__main__":
    main()
