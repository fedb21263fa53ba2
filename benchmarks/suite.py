"""What measuring every test costs a whole suite: the same pytest run timed
side by side, in one run, without the plugin, with it idle, and measuring.

    python benchmarks/suite.py [--tests 2000] [--repeats 3] [--real more-itertools]

Generates a suite of tiny tests (a 20-element list comprehension each) in a
temporary directory and times, interleaved so that the machine's noise hits
every mode alike, `pytest -p no:bytecount`, `pytest` (installed, idle) and
`pytest --bytecount` (every test measured). Prints the best wall time of
each and its ratio to the run without the plugin. With `--real PACKAGE`, it
also downloads that package's source distribution from PyPI (`pip
download`) and times its own test suite the same way. Timings only: the
tests never assert on time.
"""

from __future__ import annotations

import argparse
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


def write_suite(root: Path, tests: int) -> None:
    for first in range(0, tests, PER_FILE):
        body = "".join(TEST.format(index=i) for i in range(first, min(first + PER_FILE, tests)))
        (root / f"test_tiny_{first // PER_FILE:03d}.py").write_text(body)
    (root / "pytest.ini").write_text("[pytest]\n")


def run(root: Path, extra: list[str], tests: list[str]) -> float:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += ["-p", "no:randomly", *extra, *tests]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0 or " passed" not in done.stdout:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return elapsed


def real_suite(package: str, directory: Path) -> tuple[Path, list[str]]:
    """The unpacked source distribution of `package` and its test paths."""
    download = ("download", "--no-deps", "--no-binary", ":all:", "--quiet")
    subprocess.run([*PIP, *download, "-d", str(directory), package], check=True)
    (archive,) = directory.glob("*.tar.gz")
    with tarfile.open(archive) as sdist:
        sdist.extractall(directory, filter="data")
    (root,) = (path for path in directory.iterdir() if path.is_dir())
    tests = [str(path.relative_to(root)) for path in root.glob("**/tests") if path.is_dir()]
    if not tests:
        raise SystemExit(f"{package}: no tests directory in its source distribution")
    return root, tests


def compare(title: str, root: Path, tests: list[str], repeats: int) -> None:
    best = dict.fromkeys(MODES, float("inf"))
    for _ in range(repeats):
        for mode, extra in MODES.items():
            best[mode] = min(best[mode], run(root, extra, tests))
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
        compare(f"{args.tests} tiny tests", root, [], args.repeats)
    if args.real:
        with tempfile.TemporaryDirectory() as directory:
            root, tests = real_suite(args.real, Path(directory))
            compare(f"{args.real}'s own tests ({root.name})", root, tests, args.repeats)


if __name__ == "__main__":
    main()
