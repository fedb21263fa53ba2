"""A suite of tens of thousands of tests, fully measured: what it costs in
memory, and how big and how quick its report and its HTML page are.

    python benchmarks/scale.py [--tests 50000] [--workers 2] [--no-browser]

Generates a suite of tiny tests (as benchmarks/suite.py does) and runs it
once each way, each in a process of its own:

- without the plugin, and with `--bytecount`: the peak RSS of each, and the
  difference per measured test;
- with `--bytecount-report` and `--bytecount-html`, serial and with
  pytest-xdist (`-n WORKERS`): wall time, peak RSS, the report's and the
  page's sizes;
- the report written again from the records it holds, timed in this
  process: what writing it costs at the end of a run;
- the page opened in headless Chromium (through selenium, where installed):
  the time to its first contentful paint and to its load event, and the time
  a click on a column header takes to sort the table.

Timings only: the tests never assert on time.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pytest_bytecount.report import build_report, write_json
from pytest_bytecount.report_loader import load_report

PER_FILE = 100
TEST = """
def test_{index:05d}():
    assert len([i * i for i in range(20)]) == 20
"""
#: Runs the command given as its arguments and prints the peak RSS of it
#: (the largest of its processes, in KiB) after its own output.
PEAK_RSS = (
    "import resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:])\n"
    "print('peak-rss-kib', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(done.returncode)\n"
)


def write_suite(root: Path, tests: int) -> None:
    for first in range(0, tests, PER_FILE):
        body = "".join(TEST.format(index=i) for i in range(first, min(first + PER_FILE, tests)))
        (root / f"test_tiny_{first // PER_FILE:04d}.py").write_text(body)
    (root / "pytest.ini").write_text("[pytest]\n")


def run(root: Path, extra: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one pytest run of the suite."""
    command = [sys.executable, "-c", PEAK_RSS, sys.executable, "-m", "pytest", "-q"]
    command += ["-p", "no:cacheprovider", "-p", "no:randomly", *extra]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0 or " passed" not in done.stdout:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout[-3000:]}\n{done.stderr}")
    peak = int(done.stdout.rsplit("peak-rss-kib", 1)[1].split()[0])
    return elapsed, peak


def rewrite_report(path: Path) -> float:
    """Seconds to build and write the report again from its records."""
    loaded = load_report(path)
    start = time.perf_counter()
    data = build_report(loaded.records, plugin_version="bench", stale=loaded.stale)
    write_json(path.with_name("again.json"), data)
    return time.perf_counter() - start


def open_page(page: Path) -> dict[str, float] | None:
    """Milliseconds to the page's first contentful paint and load event, and
    for a click on a column header to sort it; None without a browser."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.common.by import By
    except ImportError:
        return None
    if browser is None or driver_path is None:
        return None
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        driver.set_page_load_timeout(600)
        driver.get(page.as_uri())
        timing = driver.execute_script(
            "const nav = performance.getEntriesByType('navigation')[0];"
            "const paint = performance.getEntriesByName('first-contentful-paint')[0];"
            "return [paint ? paint.startTime : -1, nav.loadEventEnd];"
        )
        header = driver.find_elements(By.CSS_SELECTOR, "th")[0]
        start = time.perf_counter()
        header.click()
        driver.execute_script("return document.body.offsetHeight")  # the sort laid out
        sorted_ms = (time.perf_counter() - start) * 1000
    finally:
        driver.quit()
    return {"first paint": timing[0], "load event": timing[1], "sort": sorted_ms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=50_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    version = ".".join(map(str, sys.version_info[:3]))
    print(f"Python {version}, {args.tests:,} tiny tests, one run each")
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        write_suite(root, args.tests)
        plain_s, plain_rss = run(root, ["-p", "no:bytecount"])
        measured_s, measured_rss = run(root, ["--bytecount"])
        outputs = ["--bytecount-report=r.json", "--bytecount-html=r.html"]
        serial_s, serial_rss = run(root, ["--bytecount", *outputs])
        xdist_s, xdist_rss = run(root, ["--bytecount", *outputs, "-n", str(args.workers)])
        report, page = root / "r.json", root / "r.html"
        print(f"  {'run':<44}{'wall s':>9}{'peak RSS MiB':>14}")
        for name, seconds, rss in (
            ("without plugin", plain_s, plain_rss),
            ("--bytecount", measured_s, measured_rss),
            ("--bytecount, report and page", serial_s, serial_rss),
            (f"--bytecount, report and page, -n {args.workers}", xdist_s, xdist_rss),
        ):
            print(f"  {name:<44}{seconds:>9.1f}{rss / 1024:>14.1f}")
        per_test = (measured_rss - plain_rss) * 1024 / args.tests
        print(f"  memory per measured test: {per_test:,.0f} bytes (--bytecount over plain)")
        tests = len(json.loads(report.read_text())["tests"])
        print(f"  report: {report.stat().st_size / 2**20:.1f} MiB for {tests:,} tests, ", end="")
        print(f"written again in {rewrite_report(report):.2f} s")
        print(f"  page: {page.stat().st_size / 2**20:.1f} MiB")
        opened = None if args.no_browser else open_page(page)
        if opened is None:
            print("  page not opened (no headless Chromium and chromedriver, or no selenium)")
        else:
            print(
                f"  page in headless Chromium: first paint {opened['first paint']:,.0f} ms, "
                f"load event {opened['load event']:,.0f} ms, "
                f"a click to sort {opened['sort']:,.0f} ms"
            )


if __name__ == "__main__":
    main()
