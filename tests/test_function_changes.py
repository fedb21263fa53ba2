"""What a regressed or over-budget test says changed since the baseline
(SPEC §8), on a suite shaped like the real one where it went wrong: a test
of a few hundred thousand instructions over some forty functions, one small
helper, called from many of them, made a little dearer."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from helpers import functions_by_test, read_report

from pytest_bytecount.measurement import FunctionCount
from pytest_bytecount.report_loader import load_report

HELPERS = """
def is_blank(ch):
    return ch == " " or ch == "\\n"


def unquote(text):
    if text[:1] == "'" and text[-1:] == "'":
        return text[1:-1]
    return text
"""

#: `unquote` with one more statement: two or three instructions a call.
DEARER_HELPERS = HELPERS.replace("def unquote(text):\n", "def unquote(text):\n    text = text\n")

LEXER = """
from .helpers import is_blank


class Token:
    def __init__(self, text):
        self.text = text
        self.upper = text.upper()
        self.quoted = text[:1] == "'"


def tokenize(text):
    tokens, start = [], 0
    for i, ch in enumerate(text):
        if is_blank(ch):
            if i > start:
                tokens.append(Token(text[start:i]))
            start = i + 1
    if start < len(text):
        tokens.append(Token(text[start:]))
    return tokens
"""

RULE = """

def rule_{k}(tokens):
    found = 0
    for token in tokens[::{k}]:
        if token.quoted:
            found += len(unquote(token.text))
        elif token.upper == "SELECT":
            found += 1
    return found
"""

#: Forty rules, each reading every k-th token: functions of every size, most
#: of them under 1% of the test, as in a real parser's suite.
RULES = (
    "from .helpers import unquote\n"
    + "".join(RULE.format(k=k) for k in range(1, 41))
    + "\n\nRULES = ["
    + ", ".join(f"rule_{k}" for k in range(1, 41))
    + "]\n\n\ndef check(tokens):\n    return [rule(tokens) for rule in RULES]\n"
)

TESTS = """
from textkit.lexer import tokenize
from textkit.rules import check

SENTENCE = "select a , b from t where c = d and e = f"
QUOTED = "select a from t where c = 'x'"
TEXT = " ".join(([SENTENCE] * 14 + [QUOTED]) * 10)


def test_check_a_long_text():
    assert sum(check(tokenize(TEXT))) > 0


def test_check_a_page():
    assert sum(check(tokenize(TEXT[:2000]))) > 0


def test_tokenize_only():
    assert len(tokenize(TEXT)) > 100
"""

FAILING = ("test_textkit.py::test_check_a_long_text", "test_textkit.py::test_check_a_page")
HEADER = "functions whose own counts changed most since base.json:"
HELPER_LINE = re.compile(r"^ +\+\d+  unquote  \(textkit/helpers\.py:6\)$")
#: A line of the list of changes: a delta (or `?`), a function, where it is.
CHANGE_LINE = re.compile(r"^ +(?P<delta>[-+][\d,]+|\?)  (?P<function>\S+)  \(")


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    """The suite with its budgets recorded and a baseline report written."""
    package = pytester.mkpydir("textkit")
    package.joinpath("helpers.py").write_text(HELPERS)
    package.joinpath("lexer.py").write_text(LEXER)
    package.joinpath("rules.py").write_text(RULES)
    pytester.makepyfile(test_textkit=TESTS)
    pytester.syspathinsert()
    recorded = pytester.runpytest("--bytecount-update", "--bytecount-report=base.json")
    recorded.assert_outcomes(passed=3)
    return pytester


def make_the_helper_dearer(pytester: pytest.Pytester) -> None:
    pytester.path.joinpath("textkit", "helpers.py").write_text(DEARER_HELPERS)


def failure_sections(lines: list[str]) -> dict[str, list[str]]:
    """Test name to the lines of its failure, as pytest prints them."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines:
        title = re.fullmatch(r"_{3,} (\S+) _{3,}", line)
        if title:
            current = sections.setdefault(title.group(1), [])
        elif line.startswith("=") or line.startswith("-" * 10):
            current = None
        elif current is not None:
            current.append(line)
    return sections


def changes_listed(section: list[str]) -> list[str]:
    """The lines under the list of changes' header, up to the opcodes."""
    if HEADER not in section:
        return []
    start = section.index(HEADER) + 1
    end = next(i for i, line in enumerate(section) if line.startswith("top opcodes:"))
    return section[start:end]


def percent_of(headline: str) -> tuple[str, int, int]:
    """The percentage a failure's first line shows, its count and its limit."""
    found = re.search(
        r"bytecount: ([\d,]+) instructions executed, over the limit of ([\d,]+) .*"
        r": \+[\d,]+ \(\+(?P<percent>[\d.]+)%\)$",
        headline,
    )
    assert found, headline
    count, limit = (int(found.group(i).replace(",", "")) for i in (1, 2))
    return found.group("percent"), count, limit


def assert_a_small_non_zero_percentage(headline: str) -> None:
    percent, count, limit = percent_of(headline)
    exact = (count - limit) * 100 / limit
    assert 0 < exact < 0.1  # the premise: dearer by a tiny amount
    assert float(percent) > 0, headline
    assert float(percent) == pytest.approx(exact, rel=0.5), headline


def test_a_helper_made_a_little_dearer_is_named_first_and_alone(
    suite: pytest.Pytester,
) -> None:
    make_the_helper_dearer(suite)
    result = suite.runpytest("--bytecount-compare=base.json", "--bytecount-report=new.json")
    result.assert_outcomes(passed=1, failed=2)
    lines = result.stdout.lines
    sections = failure_sections(lines)
    assert set(sections) == {nodeid.split("::")[1] for nodeid in FAILING}
    for name, section in sections.items():
        headline = next(line for line in section if line.startswith("bytecount:"))
        assert_a_small_non_zero_percentage(headline)
        listed = changes_listed(section)
        # Only the helper changed: it is named, and nothing else is.
        assert len(listed) == 1, (name, listed)
        assert HELPER_LINE.match(listed[0]), (name, listed)
    # Under the summary's rows, the same, and the same non-zero percentages.
    for nodeid in FAILING:
        row = next(i for i, line in enumerate(lines) if line.startswith(f"OVER      {nodeid} "))
        assert re.search(r" \+0\.0\d*[1-9]%  \(bytecount\.toml\)$", lines[row]), lines[row]
        assert HELPER_LINE.match(lines[row + 1]), lines[row : row + 3]
        assert not CHANGE_LINE.match(lines[row + 2]), lines[row : row + 3]
    tests = {t["nodeid"]: t for t in read_report(suite.path / "new.json")["tests"]}
    for nodeid in FAILING:
        ((change),) = tests[nodeid]["function_changes"]
        assert change["function"] == "unquote"
        assert 0 < change["before"] < change["after"]
        assert change["after"] - change["before"] == (
            tests[nodeid]["instructions"] - tests[nodeid]["limit"]
        )
    assert tests["test_textkit.py::test_tokenize_only"]["status"] == "ok"


def old_format(report: dict[str, Any]) -> dict[str, Any]:
    """The report as pytest-bytecount wrote it before every function's count
    was kept: in each entry, `functions`, those with 1% of the test's count
    or among its 20 highest."""
    if "function_counts" not in report["tests"][0]:
        return report  # written so already
    functions = functions_by_test(report)
    del report["functions"]
    for test in report["tests"]:
        del test["function_counts"]
        floor = test["instructions"] / 100
        test["functions"] = [
            f
            for rank, f in enumerate(functions[test["nodeid"]])
            if rank < 20 or f["instructions"] >= floor
        ]
    return report


def test_against_an_old_report_no_change_is_made_up(suite: pytest.Pytester) -> None:
    base = suite.path / "base.json"
    old = old_format(read_report(base))
    base.write_text(json.dumps(old))
    listed_then = {test["nodeid"]: test["functions"] for test in old["tests"]}
    # The premise: the helper is among the functions the old report left out.
    assert all("unquote" not in {f["function"] for f in listed_then[n]} for n in FAILING)

    make_the_helper_dearer(suite)
    result = suite.runpytest("--bytecount-compare=base.json", "--bytecount-report=new.json")
    result.assert_outcomes(passed=1, failed=2)
    for name, section in failure_sections(result.stdout.lines).items():
        headline = next(line for line in section if line.startswith("bytecount:"))
        assert_a_small_non_zero_percentage(headline)
        known = {f["function"] for f in listed_then[f"test_textkit.py::{name}"]}
        for line in changes_listed(section):
            change = CHANGE_LINE.match(line)
            if change is None:
                continue  # the line that says why some changes are unknown
            # A count is given only for a function the old report listed.
            assert change["delta"] == "?" or change["function"] in known, line
    # What the baseline says of each failing test: the whole change is among
    # the functions it does not list, which ones it cannot say.
    baseline = load_report(base)
    new = read_report(suite.path / "new.json")
    now = functions_by_test(new)
    counts = {test["nodeid"]: test["instructions"] for test in new["tests"]}
    for nodeid in FAILING:
        after = [FunctionCount(**function) for function in now[nodeid]]
        (change,) = baseline.function_changes(nodeid, after)
        assert change.unlisted
        assert change.delta == counts[nodeid] - baseline.counts[nodeid]


def test_reports_of_every_function_stay_smaller_than_the_old_partial_ones(
    suite: pytest.Pytester,
) -> None:
    base = suite.path / "base.json"
    old = json.dumps(old_format(read_report(base)), indent=2)
    new = base.read_text()
    # Every function of every test, in fewer bytes than the old format's
    # biggest few: one table of names, and pairs of numbers on one line.
    assert sum(len(tests) for tests in functions_by_test(read_report(base)).values()) > 90
    assert len(new) < len(old)
