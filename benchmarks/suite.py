"""What measuring every test costs a whole suite: the same pytest run timed
side by side, in one run, without the plugin, with it idle, and measuring.

    python benchmarks/suite.py [--tests 2000] [--repeats 3]

Generates a suite of tiny tests (a 20-element list comprehension each) in a
temporary directory and times, interleaved so that the machine's noise hits
every mode alike, `pytest -p no:bytecount`, `pytest` (installed, idle) and
`pytest --bytecount` (every test measured). Prints the best wall time of
each and its ratio to the run without the plugin. Timings only: the tests
never assert on time.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def run(root: Path, extra: list[str], tests: int) -> float:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += ["-p", "no:randomly", *extra]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0 or f"{tests} passed" not in done.stdout:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        write_suite(root, args.tests)
        best = dict.fromkeys(MODES, float("inf"))
        for _ in range(args.repeats):
            for mode, extra in MODES.items():
                best[mode] = min(best[mode], run(root, extra, args.tests))
    version = ".".join(map(str, sys.version_info[:3]))
    print(f"Python {version}, {args.tests} tiny tests, best of {args.repeats}")
    print(f"{'mode':<16}{'wall s':>10}{'ratio':>10}")
    base = best["without plugin"]
    for mode, seconds in best.items():
        print(f"{mode:<16}{seconds:>10.2f}{seconds / base:>9.2f}x")


if __name__ == "__main__":
    main()
