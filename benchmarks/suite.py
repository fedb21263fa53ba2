"""What measuring every test costs a whole suite: the same pytest run timed
side by side, in one run, without the plugin, with it idle, and measuring.

    python benchmarks/suite.py [--tests 2000] [--repeats 3] [--real more-itertools]

Generates a suite of tiny tests (a 20-element list comprehension each) in a
temporary directory and times, interleaved so that the machine's noise hits
every mode alike, `pytest -p no:bytecount`, `pytest` (installed, idle) and
`pytest --bytecount` (every test measured), also with `--bytecount-report`,
with `--bytecount-html` (call paths recorded for every test), and with the
engine stubbed out (a stand-in that counts nothing and returns a fixed
count: what the plugin's own per-test work costs). On 3.12+ it also times the
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
    "with report": ["--bytecount", "--bytecount-report=bench.json"],
    # Call paths recorded for every test, and the page drawn from them.
    "with page": ["--bytecount", "--bytecount-html=bench.html"],
}
#: The plugin's own per-test work: `--bytecount` with the engine replaced by
#: one that counts nothing and returns a fixed count at once.
STUB_MODE = "engine stubbed"
STUB_VARIABLE = "BYTECOUNT_BENCH_STUB_ENGINE"
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


STUB_CONFTEST = f"""
if os.environ.get({STUB_VARIABLE!r}):
    from pytest_bytecount import counting
    from pytest_bytecount.engine.base import Engine
    from pytest_bytecount.engine.hits import Hits

    def _counted():
        return None

    class StubEngine(Engine):
        name = "stub"

        def start(self, modules, **options):
            pass

        def stop(self):
            hits = Hits()
            code = _counted.__code__
            hits.codes[id(code)] = code
            hits.counters[id(code)] = [0] * (len(code.co_code) - 2) + [42, 0]
            return hits

        snapshot = stop

    counting.create_engine = StubEngine
"""


def write_suite(root: Path, tests: int) -> None:
    for first in range(0, tests, PER_FILE):
        body = "".join(TEST.format(index=i) for i in range(first, min(first + PER_FILE, tests)))
        (root / f"test_tiny_{first // PER_FILE:03d}.py").write_text(body)
    (root / "pytest.ini").write_text("[pytest]\n")
    (root / "conftest.py").write_text(FLOOR_CONFTEST + STUB_CONFTEST)


def run(root: Path, extra: list[str], tests: list[str], variable: str | None = None) -> float:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += ["-p", "no:randomly", *extra, *tests]
    environment = {**os.environ, variable: "1"} if variable else None
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


def compare(title: str, root: Path, tests: list[str], repeats: int, generated: bool) -> None:
    modes = dict(MODES)
    variables = {}
    if generated:
        modes[STUB_MODE], variables[STUB_MODE] = MODES["--bytecount"], STUB_VARIABLE
    if generated and sys.version_info >= (3, 12):
        modes[FLOOR_MODE], variables[FLOOR_MODE] = MODES["without plugin"], FLOOR_VARIABLE
    best = dict.fromkeys(modes, float("inf"))
    for _ in range(repeats):
        for mode, extra in modes.items():
            best[mode] = min(best[mode], run(root, extra, tests, variables.get(mode)))
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
        compare(f"{args.tests} tiny tests", root, [], args.repeats, generated=True)
    if args.real:
        with tempfile.TemporaryDirectory() as directory:
            root, tests = real_suite(args.real, Path(directory))
            compare(
                f"{args.real}'s own tests ({root.name})", root, tests, args.repeats, generated=False
            )


if __name__ == "__main__":
    main()
