"""Do counts repeat on real suites? Each suite run twice, every test measured.

    python benchmarks/repeatability.py [PACKAGE ...]   (default: more-itertools toolz)

Downloads each package's source distribution from PyPI (`pip download`, so
not a test), runs its own tests twice with `PYTHONHASHSEED=0` and
`--bytecount --bytecount-report`, and prints, per suite, the share of tests
whose count was identical, then every test whose count differed, its two
counts, and whether the plugin marked it unstable (and why). A test that
differs without being marked draws on something the plugin cannot see: say
what in the issue you file.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from suite import real_suite

DEFAULT = ("more-itertools", "toolz")


def run(root: Path, tests: list[str], report: Path) -> dict[str, dict[str, object]]:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
    command += ["--bytecount", f"--bytecount-report={report}", *tests]
    environment = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(
        command, cwd=root, env=environment, capture_output=True, text=True, check=False
    )
    if not report.exists():
        raise SystemExit(f"{' '.join(command)} wrote no report:\n{done.stdout}\n{done.stderr}")
    entries = json.loads(report.read_text())["tests"]
    return {entry["nodeid"]: entry for entry in entries}


def compare(package: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        root, tests = real_suite(package, Path(directory))
        first = run(root, tests, Path(directory) / "first.json")
        second = run(root, tests, Path(directory) / "second.json")
    both = sorted(first.keys() & second.keys())
    differ = [n for n in both if first[n]["instructions"] != second[n]["instructions"]]
    same = len(both) - len(differ)
    print(f"{root.name}: {same} of {len(both)} tests identical ({same / len(both):.1%})")
    for nodeid in differ:
        counts = f"{first[nodeid]['instructions']:,} / {second[nodeid]['instructions']:,}"
        reason = unstable(first[nodeid], second[nodeid])
        print(f"  {nodeid}  {counts}  {f'unstable: {reason}' if reason else 'NOT marked'}")
    marked = [n for n in both if n not in differ and unstable(first[n], second[n])]
    if marked:
        print(f"  marked unstable, identical this time: {len(marked)}")
        for nodeid in marked:
            print(f"    {nodeid}: {unstable(first[nodeid], second[nodeid])}")


def unstable(*entries: dict[str, object]) -> str | None:
    """The reason either run gave for the test's count being unstable."""
    return next((str(e["unstable"]) for e in entries if e.get("unstable")), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("packages", nargs="*", default=list(DEFAULT))
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}, PYTHONHASHSEED=0, every test measured, two runs")
    for package in args.packages:
        compare(package)


if __name__ == "__main__":
    main()
