"""The HTML page's annotated source (SPEC §14): each project file the tests
ran, every line with its count, read as the tokenizer reads it and
escaped; in headless Chromium, counts per test, lines that never ran apart
from lines that ran in other tests, a clicked line's instructions, and
links from the hottest lines and the flame graph to the source."""

from __future__ import annotations

import html
import importlib.util
import json
import py_compile
import re
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
from helpers import counts, read_report

#: Latin-1, declared by its cookie; a form feed before a function, which
#: `str.splitlines()` would take for a line end; markup in a string.
MODULE = (
    b"# -*- coding: latin-1 -*-\n"
    b'"""Caf\xe9 arithmetic."""\n'
    b"\x0c\n"
    b"def tax(price):\n"
    b'    label = "<b>&amp;</b>"\n'
    b"    return price * 1.2 if price > 10 else price\n"
    b"\n"
    b"\n"
    b"def unused(x):\n"
    b"    return x + 1\n"
    b"\n"
    b"\n"
    b"def total(prices):\n"
    b"    return sum(tax(p) for p in prices)\n"
    b"\n"
    b"\n"
    b"def one_liner(): return 2\n"
    b"\n"
    b"RATES = [\n"
    b"    rate / 100\n"
    b"    for rate in (5, 10)\n"
    b"]\n"
)

TESTS = """
import json

from shop import tax, total

def test_total():
    assert total([5, 20, 30]) > 0

def test_tax():
    assert tax(30) == 36.0

def test_json():
    assert json.dumps([tax(5)]) == "[5]"
"""


def write_page(pytester: pytest.Pytester, *args: str) -> tuple[Path, str]:
    pytester.path.joinpath("shop.py").write_bytes(MODULE)
    pytester.makepyfile(test_shop=TESTS)
    result = pytester.runpytest(
        "-p",
        "no:cacheprovider",
        "--bytecount",
        "--bytecount-html=page.html",
        "--bytecount-report=r.json",
        *args,
    )
    result.assert_outcomes(passed=3)
    page = pytester.path / "page.html"
    return page, page.read_text(encoding="utf-8")


def page_data(text: str) -> Any:
    found = re.search(r'<script type="application/json" id="source-data">(.*?)</script>', text)
    assert found is not None
    return json.loads(found[1])


def line_counts(data: Any, test: str, file: str) -> dict[int, int]:
    (t,) = (t for t in data["tests"] if t["id"].endswith(test))
    lines = t["l"].get(str(data["files"].index(file)), {})
    return {int(n): sum(pairs[1::2]) for n, pairs in lines.items()}


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_each_project_file_is_shown_with_the_count_of_each_line(
    pytester: pytest.Pytester, workers: tuple[str, ...]
) -> None:
    _, text = write_page(pytester, *workers)
    data = page_data(text)
    # Only the project's files: json's own lines are not shown.
    assert sorted(data["files"]) == ["shop.py", "test_shop.py"]
    measured = counts(read_report(pytester.path / "r.json"))
    for nodeid, count in measured.items():
        test = nodeid.split("::")[1]
        # What each test ran of the project, line by line.
        shown = sum(sum(line_counts(data, test, file).values()) for file in data["files"])
        assert 0 < shown <= count
        if test != "test_json":  # calls nothing outside the project
            assert shown == count
    # Lines 5 and 6 are `tax`'s body, run by every test.
    assert line_counts(data, "test_tax", "shop.py").keys() == {5, 6}
    assert {6, 14} <= line_counts(data, "test_total", "shop.py").keys()
    # Lines a test can run, as compiling the file says; not `unused`'s
    # `def`, which ran on import.
    code = set(data["code"][data["files"].index("shop.py")])
    assert {5, 6, 10, 14} <= code
    # A function's only line is code; a comprehension of the module's is
    # not, nor is a `def` line: they ran on import.
    assert 17 in code
    assert not {9, 19, 20, 21, 22} & code


def test_the_source_is_read_as_the_tokenizer_reads_it_and_escaped(
    pytester: pytest.Pytester,
) -> None:
    _, text = write_page(pytester)
    data = page_data(text)
    f = data["files"].index("shop.py")
    rows = dict(re.findall(rf'<tr id="L{f}-(\d+)">.*?<td class="txt">(.*?)</td></tr>', text))
    assert html.unescape(rows["2"]) == '"""Café arithmetic."""'
    # The form feed is no line end: `def tax` is line 4, as the counts say.
    assert html.unescape(rows["4"]) == "def tax(price):"
    assert rows["5"] == "    label = &quot;&lt;b&gt;&amp;amp;&lt;/b&gt;&quot;"
    assert html.unescape(rows["14"]) == "    return sum(tax(p) for p in prices)"
    # In the page's data too, no `<` closes the script early.
    assert "</b>" not in text.split('id="source-data">')[1].split("</script>")[0]


def test_a_file_python_warns_of_when_compiling_it_is_read_without_the_warning(
    pytester: pytest.Pytester,
) -> None:
    """Python warns of `assert (x, "why")` when it compiles the file, on
    import; compiling it again for the page must neither repeat the warning
    nor, where warnings are errors, lose the file's lines."""
    pytester.makepyfile(
        warned="def check(x):\n    assert (x, 'always true')\n    return x\n",
        test_warned="from warned import check\n\ndef test_check():\n    assert check(1)\n",
    )
    source = str(pytester.path / "warned.py")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        py_compile.compile(source, importlib.util.cache_from_source(source), doraise=True)
    # Imported from its cached bytecode: only the page compiles it.
    args = ("-p", "no:cacheprovider", "--bytecount", "--bytecount-html=p.html")
    result = pytester.runpytest(*args, "-W", "error::SyntaxWarning")
    result.assert_outcomes(passed=1)
    data = page_data((pytester.path / "p.html").read_text(encoding="utf-8"))
    assert set(data["code"][data["files"].index("warned.py")]) == {2, 3}


def test_the_hottest_lines_link_to_the_source(pytester: pytest.Pytester) -> None:
    _, text = write_page(pytester)
    f = page_data(text)["files"].index("shop.py")
    assert f'<a class="src-link" href="#L{f}-6">shop.py:6</a>' in text


def rows_of(browser: Any, f: int) -> dict[int, tuple[str, str]]:
    """Each line of file `f` as drawn: its class and its count's text."""
    from selenium.webdriver.common.by import By

    drawn = {}
    for row in browser.find_elements(By.CSS_SELECTOR, f"#src{f} tr[id]"):
        line = int(row.get_attribute("id").split("-")[1])
        count = row.find_element(By.CSS_SELECTOR, "td").get_attribute("textContent")
        drawn[line] = (row.get_attribute("class"), count)
    return drawn


def choose(browser: Any, picker: str, value: int) -> None:
    browser.execute_script(
        "const s = document.getElementById(arguments[0]); s.value = arguments[1];"
        "s.dispatchEvent(new Event('change'));",
        picker,
        str(value),
    )


def click(browser: Any, element: Any) -> None:
    browser.execute_script(
        "arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))", element
    )


def test_in_chromium_a_clicked_line_shows_its_instructions_and_counts_follow_the_test(
    pytester: pytest.Pytester,
    browser: Any,
) -> None:
    from selenium.webdriver.common.by import By

    page, text = write_page(pytester)
    data = page_data(text)
    f = data["files"].index("shop.py")
    browser.get(page.as_uri())
    choose(browser, "src-file", f)
    # All tests: line 6 ran 5 times (3 + 1 + 1 calls of tax); `unused` never.
    everyone = rows_of(browser, f)
    six = sum(line_counts(data, test, "shop.py")[6] for test in ("total", "tax", "json"))
    assert everyone[6][1] == f"{six:,}"
    assert re.fullmatch(r"code h[1-8]", everyone[6][0])
    # The file's hottest line is at the top of the heat scale.
    summed: dict[int, int] = {}
    for test in ("total", "tax", "json"):
        for line, count in line_counts(data, test, "shop.py").items():
            summed[line] = summed.get(line, 0) + count
    assert everyone[max(summed, key=summed.__getitem__)][0] == "code h8"
    assert everyone[10][0] == "code never"
    assert everyone[1] == ("", "")  # a comment: not code
    assert everyone[9] == ("", "")  # `def unused`: ran on import, not in a test

    # One test: its own counts; a line others ran is 0, not "never".
    (tax,) = (k for k, t in enumerate(data["tests"]) if t["id"].endswith("test_tax"))
    choose(browser, "src-test", tax)
    alone = rows_of(browser, f)
    assert alone[6][1] == f"{line_counts(data, 'test_tax', 'shop.py')[6]:,}"
    assert alone[14] == ("code zero", "0")
    assert alone[10][0] == "code never"

    # A click on line 6 lists its instructions, with counts, as explain() does.
    click(browser, browser.find_element(By.ID, f"L{f}-6"))
    listed = browser.find_element(By.CSS_SELECTOR, f"#src{f} tr.ins pre").text.splitlines()
    assert any(re.fullmatch(r"1\s+RETURN_VALUE", row) for row in listed)
    opnames = {row.split()[1] for row in listed if row.split()[0].isdigit()}
    assert "COMPARE_OP" in opnames
    # A second click closes it.
    click(browser, browser.find_element(By.ID, f"L{f}-6"))
    assert not browser.find_elements(By.CSS_SELECTOR, f"#src{f} tr.ins")

    # A hottest line's link shows that line for its test, instructions open.
    choose(browser, "src-test", -1)
    link = browser.find_element(By.CSS_SELECTOR, "details.test a.src-link[href$='-14']")
    section = link.find_element(By.XPATH, "./ancestor::details")
    click(browser, link)
    shown = browser.find_element(By.ID, "src-test").get_attribute("value")
    assert data["tests"][int(shown)]["id"] == section.get_attribute("data-id")
    target = browser.find_element(By.CSS_SELECTOR, "tr.target")
    assert target.get_attribute("id") == f"L{f}-14"
    assert browser.find_element(By.CSS_SELECTOR, f"#src{f} tr.ins pre").text

    # A flame-graph frame names its function's place, linked to the source.
    frame = section.find_element(By.CSS_SELECTOR, "svg.flame g.f[data-n^='total ']")
    click(browser, frame.find_element(By.TAG_NAME, "rect"))
    note = section.find_element(By.CSS_SELECTOR, "p.frame-source a.src-link")
    assert note.get_attribute("textContent") == "shop.py:13"
    click(browser, note)
    assert browser.find_element(By.CSS_SELECTOR, "tr.target").get_attribute("id") == f"L{f}-13"

    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []


@pytest.mark.skipif(sys.version_info < (3, 11), reason="3.10 counts no calls into C")
def test_a_clicked_line_names_its_calls_into_c(
    pytester: pytest.Pytester,
    browser: Any,
) -> None:
    from selenium.webdriver.common.by import By

    page, text = write_page(pytester)
    f = page_data(text)["files"].index("shop.py")
    browser.get(page.as_uri())
    choose(browser, "src-file", f)
    click(browser, browser.find_element(By.ID, f"L{f}-14"))
    listed = browser.find_element(By.CSS_SELECTOR, f"#src{f} tr.ins pre").text
    assert "calls into C here: sum 1" in listed


def test_the_page_of_a_generated_suite_of_2000_tests_renders_with_no_console_error(
    pytester: pytest.Pytester, browser: Any
) -> None:
    """The page's largest common case: every test has a section and counts
    in the source view (the page's limits), drawn and clicked in Chromium."""
    from selenium.webdriver.common.by import By

    pytester.makepyfile(
        lib="def work(n):\n    total = 0\n    for i in range(n):\n"
        "        total += i * i if i % 3 else i\n    return total\n"
    )
    for module in range(20):
        tests = "".join(
            f"def test_{n:03d}():\n    assert lib.work({(module * 100 + n) % 23}) >= 0\n\n"
            for n in range(100)
        )
        pytester.makepyfile(**{f"test_many_{module:02d}": "import lib\n\n" + tests})
    result = pytester.runpytest("-p", "no:cacheprovider", "--bytecount", "--bytecount-html=p.html")
    result.assert_outcomes(passed=2000)
    page = pytester.path / "p.html"
    data = page_data(page.read_text(encoding="utf-8"))
    assert len(data["tests"]) == 1000  # as many as have a section (html.DETAILED)
    f = data["files"].index("lib.py")
    browser.get(page.as_uri())
    choose(browser, "src-file", f)
    drawn = rows_of(browser, f)
    assert drawn[4][0].startswith("code h")
    summed = sum(line_counts(data, t["id"], "lib.py").get(4, 0) for t in data["tests"])
    assert drawn[4][1] == f"{summed:,}"
    click(browser, browser.find_element(By.ID, f"L{f}-4"))
    assert "STORE_FAST" in browser.find_element(By.CSS_SELECTOR, f"#src{f} tr.ins pre").text
    # The last test alone: its own count of line 4, or 0 where it did not run it.
    choose(browser, "src-test", 999)
    alone = line_counts(data, data["tests"][999]["id"], "lib.py").get(4, 0)
    kind, count = rows_of(browser, f)[4]
    assert count == f"{alone:,}"
    assert (kind == "code zero") == (alone == 0)
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []


def test_a_project_under_the_interpreters_prefix_is_the_projects(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Debian's Python has prefix /usr, and projects live in /usr/src: only
    the interpreter's library directories are not the project's."""
    from pytest_bytecount import source_counts

    places = ("/usr/lib/python3.12/", "/usr/local/lib/python3.12/dist-packages/")
    monkeypatch.setattr(source_counts, "_interpreter_places", lambda: places)
    assert source_counts.is_project_file("/usr/src/app/mod.py", "/usr/src/app")
    assert source_counts.is_project_file("/usr/src/app/sub/mod.py", "/usr/src/app/")
    assert not source_counts.is_project_file("/usr/src/other/mod.py", "/usr/src/app")
    assert not source_counts.is_project_file("/usr/lib/python3.12/json/decoder.py", "/usr")
    assert not source_counts.is_project_file(
        "/usr/src/app/.venv/lib/site-packages/x.py", "/usr/src/app"
    )
    assert not source_counts.is_project_file("<string>", "/usr/src/app")
