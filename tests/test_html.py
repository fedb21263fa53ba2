"""`--bytecount-html=PATH` (SPEC §8): one self-contained page, opened in
headless Chromium (Debian's chromium and chromium-driver, through selenium)
with the network cut off: it renders its table and flame graphs, sorts,
zooms, and logs no console error."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import counts, read_report

SUITE = """
import pytest

def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)

def words(text):
    return sorted({w.strip(".,") for w in text.split()}, key=lambda w: (-len(w), w))

@pytest.mark.max_instructions(100)
def test_fib_over_budget():
    assert fib(10) == 55

@pytest.mark.max_instructions(100_000)
def test_words():
    assert words("a bb, ccc. a")[0] == "ccc"

def test_new(bytecount):
    bytecount(fib, 6)
"""


def write_page(pytester: pytest.Pytester, *args: str) -> tuple[Path, dict[str, int]]:
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest(
        "-p",
        "no:cacheprovider",
        "--bytecount-html=out/report.html",
        "--bytecount-report=r.json",
        *args,
    )
    result.assert_outcomes(passed=2, failed=1)
    return pytester.path / "out" / "report.html", counts(read_report(pytester.path / "r.json"))


def test_the_page_is_self_contained(pytester: pytest.Pytester) -> None:
    page, measured = write_page(pytester)
    html = page.read_text()
    # Nothing to fetch: no external script, style, image or font.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "@import" not in html
    assert "url(" not in html
    assert html.count("<script>") == 1
    assert all(f"{count:,}" in html for count in measured.values())
    for nodeid in measured:
        assert nodeid in html


def test_under_xdist_the_controller_writes_the_page_with_every_test(
    pytester: pytest.Pytester,
) -> None:
    page, measured = write_page(pytester, "-n", "2")
    html = page.read_text()
    assert html.count('<tr class="') == len(measured) == 3
    assert html.count('<svg class="flame"') == 3


def test_a_page_that_cannot_be_written_is_a_clear_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_it="def test_it(): pass")
    (pytester.path / "taken").write_text("a file, not a directory")
    result = pytester.runpytest("--bytecount", "--bytecount-html=taken/report.html")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines(["ERROR: --bytecount-html: cannot write *taken*"])


def test_the_page_renders_sorts_and_zooms_in_chromium_with_no_console_error(
    pytester: pytest.Pytester, browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    page, measured = write_page(pytester)
    browser.get(page.as_uri())
    rows = browser.find_elements(By.CSS_SELECTOR, "#tests tbody tr")
    assert len(rows) == len(measured)
    # Problems first: the over-budget test leads, and its section is open.
    assert rows[0].text.startswith("test_suite.py::test_fib_over_budget")
    over = browser.find_element(By.CSS_SELECTOR, "details.test.over")
    assert over.get_attribute("open") is not None
    frames = over.find_elements(By.CSS_SELECTOR, "svg.flame g.f")
    assert frames
    assert all(frame.find_element(By.TAG_NAME, "rect").size["width"] > 0 for frame in frames)
    assert "fib (test_suite.py:3)" in {frame.get_attribute("data-n") for frame in frames}

    # The calls into C of test_words, as a table in its section (3.11+).
    if sys.version_info >= (3, 11):
        (words,) = (
            section
            for section in browser.find_elements(By.CSS_SELECTOR, "details.test")
            if "test_words" in section.get_attribute("textContent")
        )
        table = words.find_element(By.CSS_SELECTOR, "table.c-calls")
        cells = [
            cell.get_attribute("textContent") for cell in table.find_elements(By.TAG_NAME, "td")
        ]
        assert {"str.strip", "str.split", "sorted"} <= set(cells)

    # Sorting by instructions, ascending.
    browser.find_element(By.XPATH, "//th[text()='Instructions']").click()
    shown = [
        int(row.find_elements(By.TAG_NAME, "td")[1].text.replace(",", ""))
        for row in browser.find_elements(By.CSS_SELECTOR, "#tests tbody tr")
    ]
    assert shown == sorted(measured.values())

    # Zooming on a narrow frame makes it the full width; the top row undoes it.
    narrow = min(frames, key=lambda f: float(f.get_attribute("data-w")))
    rect = narrow.find_element(By.TAG_NAME, "rect")
    browser.execute_script(
        "arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))", rect
    )
    assert float(rect.get_attribute("width")) == pytest.approx(1200)
    root = frames[0].find_element(By.TAG_NAME, "rect")
    browser.execute_script(
        "arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))", root
    )
    assert float(rect.get_attribute("width")) < 1200

    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []


def test_the_browser_check_would_see_a_console_error(
    pytester: pytest.Pytester, browser: Any
) -> None:
    page, _ = write_page(pytester)
    broken = page.with_name("broken.html")
    broken.write_text(page.read_text().replace('"use strict";', '"use strict"; missing();'))
    browser.get(broken.as_uri())
    assert [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def test_after_an_update_run_the_page_says_what_it_recorded(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_suite="def test_a():\n    sum(range(3))\n\ndef test_b():\n    sorted([2, 1])\n"
    )
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--bytecount-update", "--bytecount-html=page.html"
    )
    result.assert_outcomes(passed=2)
    html = (pytester.path / "page.html").read_text()
    # As the summary says it: recorded, not "new", which the update made them not be.
    assert html.count('<tr class="recorded">') == 2
    assert '<tr class="new">' not in html
    assert "2 measured · 2 recorded" in html


def test_a_large_suite_gets_sections_for_its_problems_and_highest_counts_only(
    tmp_path: Path, browser: Any
) -> None:
    """A page of many tests gives a section (flame graph, hottest lines) to
    a bounded number, every problem and then the highest counts, and draws
    its table a bounded number of rows at a time, as the server would have,
    sorting every row."""
    from selenium.webdriver.common.by import By

    from pytest_bytecount.records import TestRecord
    from pytest_bytecount.render import html
    from pytest_bytecount.verdict import Limit, LimitSource, Status

    records = [
        TestRecord(f"test_many.py::test_{n:03d}", 1000 + (n * 37) % 500, None, Status.NEW, "passed")
        for n in range(300)
    ]
    over = TestRecord(
        "test_many.py::test_over<b>",
        10,
        Limit(5, LimitSource.FILE),
        Status.OVER,
        "failed",
        baseline=8,
        unstable="another thread ran",
    )
    records.append(over)
    folded = {r.nodeid: f"test_many.py::{r.nodeid[15:]} {r.instructions}\n" for r in records}
    page = tmp_path / "page.html"
    page.write_text(
        html.render(
            records,
            title="many",
            headline="301 measured",
            details="",
            profiles=folded,
            explanations={},
            budgets_file="bytecount.toml",
            detailed=10,
            rows_shown=50,
        )
    )
    text = page.read_text()
    assert text.count('<details id="t') == 10
    highest = sorted(records[:-1], key=lambda r: (-r.instructions, r.nodeid))[:9]
    sectioned = set(re.findall(r"<summary>.*?<code>(.*?)</code>", text))
    assert sectioned == {"test_many.py::test_over&lt;b&gt;"} | {r.nodeid for r in highest}
    assert "Flame graphs and hottest lines of 10 of the 301 tests" in text
    assert text.count('<tr class="') == 50

    def table() -> list[tuple[str, list[tuple[str, str]], int]]:
        """Each row drawn: its class, its cells' text and sort keys, its links."""
        return [
            (
                row.get_attribute("class"),
                [
                    (cell.text, cell.get_attribute("data-v"))
                    for cell in row.find_elements(By.TAG_NAME, "td")
                ],
                len(row.find_elements(By.TAG_NAME, "a")),
            )
            for row in browser.find_elements(By.CSS_SELECTOR, "#tests tbody tr")
        ]

    browser.get(page.as_uri())
    from_server = table()
    assert len(from_server) == 50
    assert from_server[0][1][0][0] == "test_many.py::test_over<b> unstable"
    # Sorted by status, the rows keep their order: drawn by the page's script
    # now, each is as the server wrote it.
    browser.find_element(By.XPATH, "//th[text()='Status']").click()
    assert table() == from_server

    browser.find_element(By.XPATH, "//th[text()='Instructions']").click()
    shown = [int(cells[1][1]) for _, cells, _ in table()]
    assert shown == sorted(r.instructions for r in records)[:50]
    browser.find_element(By.CSS_SELECTOR, "#pager button").click()
    assert len(table()) == 100
    assert browser.find_element(By.ID, "drawn").text == "100"
    browser.find_element(By.XPATH, "//th[text()='Test']").click()
    browser.find_element(By.XPATH, "//th[text()='Test']").click()
    names = [cells[0][1] for _, cells, _ in table()]
    assert names == sorted((r.nodeid for r in records), reverse=True)[:100]
    # A drawn row's link opens its test's section.
    browser.find_element(By.XPATH, "//th[text()='Instructions']").click()
    browser.find_element(By.XPATH, "//th[text()='Instructions']").click()
    link = browser.find_element(By.CSS_SELECTOR, "#tests tbody tr a")
    section = browser.find_element(By.CSS_SELECTOR, link.get_attribute("hash"))
    assert section.get_attribute("open") is None
    browser.execute_script("arguments[0].click()", link)  # under the sticky header
    assert section.get_attribute("open") is not None
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []


def test_a_page_only_run_keeps_call_paths_for_the_tests_the_page_shows(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With only the page reading them, the call paths of tests the page
    cannot show are let go as the run goes; those it shows are all there."""
    from pytest_bytecount.render import html

    monkeypatch.setattr(html, "DETAILED", 3)
    tests = "".join(
        f"def test_{n:02d}():\n    assert sum(i for i in range({n * 7 % 12 + 1})) >= 0\n\n"
        for n in range(12)
    )
    pytester.makepyfile(test_many="import pytest\n\n" + tests)
    pytester.makepyfile(
        test_over="import pytest\n\n@pytest.mark.max_instructions(1)\n"
        "def test_over():\n    assert sum(range(3)) == 3\n"
    )
    # How many tests' call paths the run still holds as it ends.
    pytester.makeconftest(
        "import pytest\n"
        "from pytest_bytecount.plugin import PLUGIN_KEY\n\n"
        "@pytest.hookimpl(trylast=True)\n"
        "def pytest_sessionfinish(session):\n"
        "    run = session.config.stash[PLUGIN_KEY].run\n"
        "    held = len(run.extra('folded'))\n"
        "    (session.config.rootpath / 'held').write_text(str(held))\n"
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--bytecount", "--bytecount-html=p.html")
    result.assert_outcomes(passed=12, failed=1)
    assert 3 <= int((pytester.path / "held").read_text()) <= 6
    text = (pytester.path / "p.html").read_text()
    sections = re.findall(r'<details id="t\d+".*?</details>', text, re.S)
    assert len(sections) == 3
    assert all('<svg class="flame"' in section for section in sections)
    assert all("instructions executed on" in section for section in sections)  # explain()
    shown = {re.search(r"<code>(.*?)</code>", section)[1] for section in sections}  # type: ignore[index]
    # The problem, then the two highest counts: n * 7 % 12 is 11 for n = 5, 10 for n = 10.
    assert shown == {"test_over.py::test_over", "test_many.py::test_05", "test_many.py::test_10"}
    assert "Flame graphs and hottest lines of 3 of the 13 tests" in text


def test_the_page_draws_each_complexity_group_as_a_chart_in_chromium(
    pytester: pytest.Pytester, browser: Any
) -> None:
    from selenium.webdriver.common.by import By
    from test_complexity import ALGORITHMS, MARKED

    pytester.makepyfile(algorithms=ALGORITHMS, test_sorts=MARKED)
    pytester.runpytest("-p", "no:cacheprovider", "--bytecount-html=page.html").assert_outcomes(
        passed=15, failed=1
    )
    browser.get((pytester.path / "page.html").as_uri())
    figures = browser.find_elements(By.CSS_SELECTOR, "#growth figure.growth")
    # Failed groups first, then by name.
    assert [f.find_element(By.TAG_NAME, "code").text for f in figures] == [
        "test_sorts.py::test_insertion[n=*, kind='reversed']",
        "test_sorts.py::test_insertion[n=*, kind='sorted']",
        "test_sorts.py::test_merge[n=*]",
    ]
    failed, linear, merge = figures
    assert "failed" in failed.get_attribute("class")
    assert "grows as O(n^2), faster than the limit O(n)" in failed.text
    for figure, sizes in ((failed, 4), (linear, 4), (merge, 5)):
        points = figure.find_elements(By.CSS_SELECTOR, "svg.growth circle.count")
        assert len(points) == sizes
        assert all(point.size["width"] > 0 for point in points)

    def ends(figure: Any) -> dict[str, tuple[float, float]]:
        """Each curve's last point, and the largest size's point."""
        found = {}
        for name in ("fit", "limit"):
            line = figure.find_element(By.CSS_SELECTOR, f"svg.growth polyline.{name}")
            x, y = line.get_attribute("points").split()[-1].split(",")
            found[name] = (float(x), float(y))
        last = figure.find_elements(By.CSS_SELECTOR, "circle.count")[-1]
        found["count"] = (float(last.get_attribute("cx")), float(last.get_attribute("cy")))
        return found

    # The fitted curve goes through the largest count; the limit's (a line
    # fitted to quadratic counts) passes far below it, and through it for
    # counts within the limit.
    quadratic, within = ends(failed), ends(linear)
    assert quadratic["fit"] == pytest.approx(quadratic["count"], abs=1)
    assert quadratic["limit"][1] - quadratic["count"][1] > 40
    assert within["limit"] == pytest.approx(within["count"], abs=1)
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []
