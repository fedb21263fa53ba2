"""Bad input to every loader, generated: the budgets file, the JSON report and
the marker's arguments (issue 18).

Whatever is wrong, the answer is one line naming the file (for the marker, the
test) and what is wrong, the documented exit status, nothing written and no
traceback. The generated cases call the loaders directly, which is fast; a
handful of representative ones go end to end, through the command line tool
in process and through pytest.
"""

from __future__ import annotations

import codecs
import copy
import json
import math
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import tomli_w
from helpers import TAG
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_bytecount.budgets import Budgets
from pytest_bytecount.budgets_toml import BudgetsError
from pytest_bytecount.cli import main
from pytest_bytecount.compare import FunctionChange
from pytest_bytecount.marker import marker_limit
from pytest_bytecount.measurement import FunctionCount, LineCount
from pytest_bytecount.records import CCallCount, TestRecord
from pytest_bytecount.report import build_report
from pytest_bytecount.report_loader import ReportError, load_report
from pytest_bytecount.verdict import Limit, LimitSource, Status, parse_tolerance


def fuzz(examples: int) -> settings:
    """`examples` cases, the same every run: never flaky, never slow for a
    loaded CI machine, nothing kept between runs."""
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


BIG = 2**63
ERROR = "pytest-bytecount: error: "


#: Bytes no UTF-8 text holds: one never used, a lead byte without its
#: continuation, a surrogate encoded.
not_utf8 = st.sampled_from([b"\xff", b"\xc3(", b"\xed\xa0\x80"])


def one_line(message: str) -> None:
    assert len(message.splitlines()) == 1, message
    assert "Traceback" not in message, message


# -- the JSON report ------------------------------------------------------------


def valid_report() -> dict[str, Any]:
    """A report with every kind of key: two tests, one of them over a budget
    of the file with a tolerance of its own, a baseline and changed functions."""
    f, g = FunctionCount("f", "a.py", 1, 600), FunctionCount("g", "a.py", 9, 85)
    over = TestRecord(
        "t.py::test_over",
        685,
        Limit(500, LimitSource.FILE, 2.5),
        Status.OVER,
        "passed",
        top_functions=(f, g),
        baseline=400,
        top_lines=(LineCount("a.py", 2, 600), LineCount("a.py", 10, 85)),
        functions=(f, g),
        function_changes=(FunctionChange("f", "a.py", 1, 315, 600),),
        failed_by_budget=True,
        c_calls=(CCallCount("sorted", "a.py", 2, 15),),
        stacks=(("test_over (t.py:1)", 85), ("test_over (t.py:1);f (a.py:1)", 600)),
    )
    new = TestRecord("t.py::test_new", 85, None, Status.NEW, "passed", (g,), functions=(g,))
    data = build_report(
        [over, new],
        plugin_version="0",
        stale=["t.py::test_gone"],
        tolerance=1.0,
        hash_seed="0",
        budgets_seen=["t.py::test_over"],
        interpreter=(TAG, "3.12.1"),
    )
    document: dict[str, Any] = json.loads(json.dumps(data))
    return document


VALID = valid_report()
#: In `VALID`, sorted by node id: tests[0] is test_new, tests[1] test_over.
NODEIDS = [test["nodeid"] for test in VALID["tests"]]
KNOWN_KEYS = {
    (): set(VALID) | {"functions", "hash_seed", "budgets_seen"},
    ("interpreter",): {"tag", "version"},
    ("totals",): set(VALID["totals"]),
    ("tests", 1): set(VALID["tests"][1]) | {"functions"},
    ("tests", 1, "top_functions", 0): {"function", "file", "line", "instructions"},
    ("tests", 1, "top_lines", 0): {"file", "line", "instructions"},
    ("tests", 1, "c_calls", 0): {"name", "file", "line", "calls"},
    ("tests", 1, "function_changes", 0): {"function", "file", "line", "before", "after"},
}

# What each checked place holds, and values that are wrong there, whatever
# else the document holds.
not_json_numbers = st.floats(allow_nan=False, allow_infinity=False)
others = st.one_of(
    st.none(),
    st.booleans(),
    not_json_numbers,
    st.text(max_size=8),
    st.just([]),
    st.just([1, "x"]),
    st.just({}),
    st.just({"a": 1}),
)
non_strings = others.filter(lambda value: not isinstance(value, str))
huge = st.sampled_from([BIG, BIG + 1, 10**20, 10**400, 10**4000]) | st.integers(min_value=BIG)
counts_bad = st.one_of(
    st.integers(max_value=-1),
    huge,
    st.booleans(),
    not_json_numbers,
    st.sampled_from([1.0, 0.0, 1e300]),
    others.filter(lambda value: value is not None),
)
BAD: dict[str, st.SearchStrategy[Any]] = {
    "count": counts_bad | st.none(),
    "count or null": counts_bad,
    "limit": st.one_of(st.just(0), counts_bad),
    "percent": st.one_of(
        st.floats(max_value=-1e-300, allow_nan=False, allow_infinity=False),
        st.floats(min_value=100, allow_nan=False, allow_infinity=False),
        st.integers(min_value=100) | huge,
        st.booleans(),
        st.text(max_size=5),
        st.none(),
        st.just([2]),
    ),
    "string": others.filter(lambda value: not isinstance(value, str)) | huge,
    "string or null": others.filter(lambda value: not isinstance(value, (str, type(None)))),
    "object": others.filter(lambda value: not isinstance(value, dict)),
    "object or null": others.filter(lambda value: not isinstance(value, (dict, type(None)))),
    "array": others.filter(lambda value: not isinstance(value, list)),
    "array or null": others.filter(lambda value: not isinstance(value, (list, type(None)))),
    "row": st.one_of(
        others.filter(lambda value: value != [1, "x"] and not isinstance(value, list)),
        st.lists(st.text(max_size=3), max_size=2),
        st.lists(st.integers(), min_size=4, max_size=5),
    ),
    "bool": others.filter(lambda value: not isinstance(value, bool)),
    "status": st.text(max_size=10).filter(lambda s: s not in {x.value for x in Status})
    | non_strings,
    "outcome": st.text(max_size=10).filter(lambda s: s not in ("passed", "failed", "skipped"))
    | non_strings,
    "source": st.text(max_size=10).filter(lambda s: s not in ("marker", "file")) | st.just(1),
    "tag": st.sampled_from(["", "a\nb", "cpython\u2028312", "x\x00", "\x85"]) | non_strings,
    "version": st.text(max_size=12).filter(lambda s: not re.fullmatch(r"[0-9]+\.[0-9]+\.[0-9]+", s))
    | st.just("3.12.1\n")
    | non_strings,
    "seed": st.sampled_from(["", "0\n", "\u2028", "1\x85"])
    | non_strings.filter(lambda value: value is not None),
}
#: Every place the loader checks: its path and what it holds.
PLACES: list[tuple[tuple[str | int, ...], str]] = [
    (("interpreter",), "object"),
    (("interpreter", "tag"), "tag"),
    (("interpreter", "version"), "version"),
    (("tolerance",), "percent"),
    (("hash_seed",), "seed"),
    (("tests",), "array"),
    (("functions",), "array or null"),
    (("functions", 1), "row"),
    (("functions", 1, 0), "string"),
    (("functions", 1, 1), "string"),
    (("functions", 1, 2), "count"),
    (("frames",), "array"),
    (("frames", 1), "string"),
    (("stale",), "array"),
    (("stale", 0), "string"),
    (("budgets_seen",), "array or null"),
    (("budgets_seen", 0), "string"),
    (("totals",), "object or null"),
    *((("totals", key), "count") for key in VALID["totals"]),
    (("tests", 0), "object"),
    (("tests", 0, "nodeid"), "string"),
    (("tests", 0, "instructions"), "count"),
    (("tests", 1, "instructions"), "count"),
    (("tests", 1, "limit"), "limit"),
    (("tests", 1, "budget_source"), "source"),
    (("tests", 1, "status"), "status"),
    (("tests", 1, "outcome"), "outcome"),
    (("tests", 1, "baseline"), "count or null"),
    (("tests", 1, "tolerance"), "percent"),
    (("tests", 1, "unstable"), "string or null"),
    (("tests", 1, "failed_by_budget"), "bool"),
    (("tests", 1, "top_functions"), "array"),
    (("tests", 1, "top_functions", 1), "object"),
    (("tests", 1, "top_functions", 1, "function"), "string"),
    (("tests", 1, "top_functions", 1, "file"), "string"),
    (("tests", 1, "top_functions", 1, "line"), "count"),
    (("tests", 1, "top_functions", 1, "instructions"), "count"),
    (("tests", 1, "top_lines"), "array"),
    (("tests", 1, "top_lines", 0, "file"), "string"),
    (("tests", 1, "top_lines", 0, "line"), "count"),
    (("tests", 1, "top_lines", 0, "instructions"), "count"),
    (("tests", 1, "c_calls"), "array"),
    (("tests", 1, "c_calls", 0), "object"),
    (("tests", 1, "c_calls", 0, "name"), "string"),
    (("tests", 1, "c_calls", 0, "file"), "string"),
    (("tests", 1, "c_calls", 0, "line"), "count"),
    (("tests", 1, "c_calls", 0, "calls"), "count"),
    (("tests", 1, "stacks"), "array"),
    (("tests", 1, "stacks", 1, 0), "count"),
    (("tests", 1, "stacks", 1, 2), "count"),
    (("tests", 1, "function_counts"), "array"),
    (("tests", 1, "function_counts", 0), "count"),
    (("tests", 1, "function_counts", 3), "count"),
    (("tests", 1, "function_changes"), "array"),
    (("tests", 1, "function_changes", 0), "object"),
    (("tests", 1, "function_changes", 0, "function"), "string"),
    (("tests", 1, "function_changes", 0, "line"), "count"),
    (("tests", 1, "function_changes", 0, "before"), "count or null"),
    (("tests", 1, "function_changes", 0, "after"), "count"),
]
#: The keys a report cannot do without.
REQUIRED: list[tuple[str | int, ...]] = [
    ("schema",),
    ("interpreter",),
    ("interpreter", "tag"),
    ("interpreter", "version"),
    ("tests",),
    ("tolerance",),
    *(("tests", 1, key) for key in ("nodeid", "instructions", "limit", "budget_source")),
    *(("tests", 1, key) for key in ("status", "outcome")),
    *(("tests", 1, "top_functions", 0, key) for key in ("function", "file", "line")),
    ("tests", 1, "top_functions", 0, "instructions"),
    *(("tests", 1, "top_lines", 0, key) for key in ("file", "line", "instructions")),
    *(("tests", 1, "c_calls", 0, key) for key in ("name", "file", "line", "calls")),
    *(("tests", 1, "function_changes", 0, k) for k in ("function", "file", "before", "after")),
]


def where(path: tuple[str | int, ...]) -> str:
    """The place as the loader names it: `tests[1] ("t.py::test_over").limit`."""
    text = ""
    for number, step in enumerate(path):
        text += f"[{step}]" if isinstance(step, int) else f".{step}" if text else step
        if path[:2] == ("tests", step) and number == 1 and len(path) > 2 and path[2] != "nodeid":
            text += f" ({json.dumps(NODEIDS[step])})"
    return text


def parent(document: dict[str, Any], path: tuple[str | int, ...]) -> Any:
    for step in path[:-1]:
        document = document[step]  # type: ignore[index]
    return document


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("reports")


def refused(path: Path, text: str | bytes) -> str:
    """The one line `load_report` refuses `text` with, written to `path`."""
    if isinstance(text, str):
        text = text.encode("utf-8")
    path.write_bytes(text)
    with pytest.raises(ReportError) as excinfo:
        load_report(path)
    message = str(excinfo.value)
    one_line(message)
    assert message.startswith(f"{path}: "), message
    return message.removeprefix(f"{path}: ")


def test_the_valid_report_loads(report_dir: Path) -> None:
    path = report_dir / "valid.json"
    path.write_text(json.dumps(VALID))
    loaded = load_report(path)
    assert [record.nodeid for record in loaded.records] == NODEIDS
    assert loaded.records[1].function_changes[0].before == 315
    assert loaded.records[1].stacks == (
        ("test_over (t.py:1)", 85),
        ("test_over (t.py:1);f (a.py:1)", 600),
    )


@fuzz(200)
@given(st.data())
def test_a_bad_value_anywhere_in_a_report_is_named_in_one_line(
    report_dir: Path, data: st.DataObject
) -> None:
    place, kind = data.draw(st.sampled_from(PLACES), label="place")
    value = data.draw(BAD[kind], label="value")
    document = copy.deepcopy(VALID)
    parent(document, place)[place[-1]] = value
    message = refused(report_dir / "bad.json", json.dumps(document))
    assert message.startswith(f"{where(place)}: "), (message, where(place))
    assert "expected" in message


@fuzz(40)
@given(st.sampled_from(REQUIRED))
def test_a_missing_key_is_named_in_one_line(report_dir: Path, place: tuple[str | int, ...]) -> None:
    document = copy.deepcopy(VALID)
    del parent(document, place)[place[-1]]
    message = refused(report_dir / "missing.json", json.dumps(document))
    if place == ("schema",):
        assert message.startswith("no schema, expected "), message
    else:
        assert message == f"{where(place)}: missing", message


def test_a_function_index_past_the_table_is_named(report_dir: Path) -> None:
    document = copy.deepcopy(VALID)
    document["tests"][1]["function_counts"][2] = len(document["functions"])
    message = refused(report_dir / "index.json", json.dumps(document))
    assert message == f"{where(('tests', 1, 'function_counts', 2))}: no function 2 in a table of 2"


def test_a_frame_index_past_the_table_or_a_stack_without_frames_is_named(
    report_dir: Path,
) -> None:
    document = copy.deepcopy(VALID)
    document["tests"][1]["stacks"][1][2] = len(document["frames"])
    message = refused(report_dir / "frame.json", json.dumps(document))
    assert message == f"{where(('tests', 1, 'stacks', 1, 2))}: no frame 2 in a table of 2"
    document["tests"][1]["stacks"][1] = [600]
    message = refused(report_dir / "frame.json", json.dumps(document))
    assert (
        message
        == f"{where(('tests', 1, 'stacks', 1))}: expected [instructions, frame, ...], got an array"
    )


@fuzz(40)
@given(
    st.sampled_from(sorted(KNOWN_KEYS, key=str)),
    st.text(min_size=1, max_size=6),
    st.none() | st.integers() | st.text(max_size=4) | st.just({"deep": [[[]]]}),
)
def test_keys_the_loader_does_not_know_are_ignored(
    report_dir: Path, place: tuple[str | int, ...], key: str, value: Any
) -> None:
    """Keys are only added within schema 1: an older reader ignores new ones."""
    if key in KNOWN_KEYS[place]:
        return
    document = copy.deepcopy(VALID)
    target = document
    for step in place:
        target = target[step]  # type: ignore[index]
    target[key] = value
    path = report_dir / "extra.json"
    path.write_text(json.dumps(document))
    assert load_report(path).records == load_report_of(VALID, report_dir).records


def load_report_of(document: dict[str, Any], directory: Path) -> Any:
    path = directory / "plain.json"
    path.write_text(json.dumps(document))
    return load_report(path)


def test_counts_up_to_2_63_minus_1_are_read(report_dir: Path) -> None:
    document = copy.deepcopy(VALID)
    document["tests"][1]["instructions"] = BIG - 1
    document["tests"][1]["limit"] = BIG - 1
    document["totals"]["instructions"] = BIG - 1
    assert load_report_of(document, report_dir).records[1].instructions == BIG - 1


def number_tokens(text: str) -> list[re.Match[str]]:
    return list(re.finditer(r"(?<=: )-?[0-9][0-9.eE+-]*", text))


@fuzz(200)
@given(st.data())
def test_a_corrupt_report_file_is_one_line(report_dir: Path, data: st.DataObject) -> None:
    text = json.dumps(VALID, indent=2)
    how = data.draw(
        st.sampled_from(
            [
                "truncated",
                "not utf-8",
                "other encoding",
                "two byte order marks",
                "nan",
                "duplicate key",
                "long number",
                "not an object",
                "blank",
            ]
        ),
        label="how",
    )
    if how == "truncated":
        cut = data.draw(st.integers(0, text.rindex("}") - 1), label="cut")
        expected = "not a JSON report: "
        corrupt: str | bytes = text[:cut]
    elif how == "not utf-8":
        at = data.draw(st.integers(0, len(text)), label="at")
        raw = text.encode()
        corrupt = raw[:at] + data.draw(not_utf8) + raw[at:]
        expected = "not a JSON report: the file is not UTF-8 text"
    elif how == "other encoding":
        codec = data.draw(st.sampled_from(["utf-16", "utf-32", "utf-16-be", "cp1252"]))
        corrupt = json.dumps(VALID | {"x": "\u00e9\u00e8"}, ensure_ascii=False).encode(codec)
        expected = "not a JSON report: "
    elif how == "two byte order marks":
        corrupt = codecs.BOM_UTF8 * 2 + text.encode()
        expected = "not a JSON report: Unexpected UTF-8 BOM"
    elif how == "nan":
        token = data.draw(st.sampled_from(number_tokens(text)), label="number")
        constant = data.draw(st.sampled_from(["NaN", "Infinity", "-Infinity"]), label="constant")
        corrupt = text[: token.start()] + constant + text[token.end() :]
        expected = f"not a JSON report: {constant} is not a JSON number"
    elif how == "duplicate key":
        braces = [match.end() for match in re.finditer(r"\{\n", text)]
        at = data.draw(st.sampled_from(braces), label="object")
        key = re.match(r'\s*("[^"]*")', text[at:])
        assert key is not None
        corrupt = f"{text[:at]}{key.group(1)}: 1,\n{text[at:]}"
        expected = f"not a JSON report: the key {key.group(1)} twice in one object"
    elif how == "long number":
        token = data.draw(st.sampled_from(number_tokens(text)), label="number")
        corrupt = text[: token.start()] + "7" * 5_000 + text[token.end() :]
        expected = "not a JSON report: a number too long to read"
    elif how == "not an object":
        value = data.draw(st.sampled_from(["[]", "[1]", '"x"', "1", "null", "true"]))
        corrupt = value
        expected = "not a JSON report: expected an object, got "
    else:
        corrupt = data.draw(st.sampled_from(["", "\n", "   ", "\ufeff", "\x00"]))
        expected = "not a JSON report: "
    message = refused(report_dir / "corrupt.json", corrupt)
    assert message.startswith(expected), (message, expected)


@pytest.mark.parametrize("key", ["tests", "a key no one reads"])
@pytest.mark.parametrize("brackets", ["[]", '{"a":}'])
def test_a_report_nested_too_deeply_is_one_line(report_dir: Path, key: str, brackets: str) -> None:
    # Deeper than any interpreter's C stack allows (3.14 measures the stack).
    depth = 200_000
    inner = "1" if brackets == "[]" else '{"a":1}'
    nested = brackets[:-1] * depth + inner + brackets[-1] * depth
    text = json.dumps(VALID | {key: 0}).replace(f'"{key}": 0', f'"{key}": {nested}')
    message = refused(report_dir / "deep.json", text)
    assert message == "not a JSON report: arrays or objects nested too deeply"


def test_a_report_with_a_utf8_byte_order_mark_is_read(report_dir: Path) -> None:
    path = report_dir / "bom.json"
    path.write_bytes(codecs.BOM_UTF8 + json.dumps(VALID).encode())
    assert len(load_report(path).records) == 2


# -- the budgets file -----------------------------------------------------------


def toml_value(value: Any) -> str:
    """`value` as TOML writes it on the right of `=`."""
    return tomli_w.dumps({"v": value}).removeprefix("v = ").rstrip("\n")


bad_budgets = st.one_of(
    st.integers(max_value=0).map(str),
    huge.filter(lambda n: n < 10**4000).map(str),
    st.floats(allow_nan=True).map(toml_value),
    st.sampled_from(["true", "false", "1979-05-27", "07:32:00", "[1]", "[]", "0x0", "-0"]),
    st.text(max_size=10).map(toml_value),
)
bad_entries = st.one_of(
    st.sampled_from(
        [
            "{}",
            '{ tolerance = "2%" }',
            "{ budget = 5, extra = 1 }",
            '{ budget = 5, tolerance = "100%" }',
            '{ budget = 5, tolerance = "nan" }',
            '{ budget = 5, tolerance = "-1%" }',
            "{ budget = 5, tolerance = 2 }",
            "{ budget = 5, tolerance = { a = 1 } }",
            "{ budget = { budget = 5 } }",
        ]
    ),
    bad_budgets.map(lambda value: f"{{ budget = {value} }}"),
    st.text(max_size=12)
    .filter(lambda text: not _tolerance(text))
    .map(lambda text: f"{{ budget = 5, tolerance = {toml_value(text)} }}"),
)


def _tolerance(text: str) -> bool:
    try:
        parse_tolerance(text)
    except ValueError:
        return False
    return True


@pytest.fixture(scope="module")
def budgets_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("budgets")


def budgets_refused(directory: Path, text: str | bytes) -> str:
    """The one line `Budgets.load` refuses `text` with; nothing written."""
    path = directory / "bytecount.toml"
    if isinstance(text, str):
        text = text.encode("utf-8")
    path.write_bytes(text)
    before = sorted(directory.iterdir())
    with pytest.raises(BudgetsError) as excinfo:
        Budgets.load(path)
    assert sorted(directory.iterdir()) == before
    assert path.read_bytes() == text
    message = str(excinfo.value)
    one_line(message)
    assert message.startswith(f"{path}: "), message
    return message.removeprefix(f"{path}: ")


GOOD_LINES = ['"t.py::test_a" = 100', '"t.py::test_b" = { budget = 7, tolerance = "2%" }']


@fuzz(200)
@given(st.data())
def test_a_bad_budget_is_named_in_one_line(budgets_dir: Path, data: st.DataObject) -> None:
    value = data.draw(bad_budgets | bad_entries, label="value")
    at = data.draw(st.integers(0, len(GOOD_LINES)), label="at")
    lines = [*GOOD_LINES[:at], f'"t.py::test_bad" = {value}', *GOOD_LINES[at:]]
    text = f'# budgets\n\n["{TAG}"]\n' + "\n".join(lines) + "\n"
    message = budgets_refused(budgets_dir, text)
    assert message.startswith(f'["{TAG}"] "t.py::test_bad": '), message


@fuzz(100)
@given(st.data())
def test_a_corrupt_budgets_file_is_one_line(budgets_dir: Path, data: st.DataObject) -> None:
    good = f'["{TAG}"]\n' + "\n".join(GOOD_LINES) + "\n"
    how = data.draw(
        st.sampled_from(
            [
                "top-level value",
                "truncated key",
                "not utf-8",
                "other encoding",
                "duplicate key",
                "duplicate table",
                "deep",
                "long number",
                "control character",
            ]
        ),
        label="how",
    )
    if how == "top-level value":
        value = data.draw(bad_budgets, label="value")
        text: str | bytes = f"x = {value}\n{good}"
        expected = '"x" must be a table of budgets for one interpreter'
    elif how == "truncated key":
        start = good.index('"t.py')
        text = good[: data.draw(st.integers(start + 1, good.index('"', start + 1)), label="cut")]
        expected = "not valid TOML: "
    elif how == "not utf-8":
        at = data.draw(st.integers(0, len(good)), label="at")
        raw = good.encode()
        text = raw[:at] + data.draw(not_utf8) + raw[at:]
        expected = "not UTF-8 text"
    elif how == "other encoding":
        codec = data.draw(st.sampled_from(["utf-16", "utf-32"]), label="codec")
        text = good.encode(codec)
        expected = "not UTF-8 text"
    elif how == "duplicate key":
        text = good + GOOD_LINES[0].replace("100", "200") + "\n"
        expected = "not valid TOML: "
    elif how == "duplicate table":
        text = good + good
        expected = "not valid TOML: "
    elif how == "deep":
        depth = data.draw(st.sampled_from([1_000, 50_000]), label="depth")
        text = good + '"t.py::test_c" = ' + "[" * depth + "]" * depth + "\n"
        expected = "not valid TOML: "
    elif how == "long number":
        text = good + '"t.py::test_c" = ' + "7" * 5_000 + "\n"
        expected = "not valid TOML: a number too long to read"
    else:
        char = data.draw(st.sampled_from(["\x00", "\x7f", "\x1b", "\x0b"]), label="char")
        text = good.replace("test_a", f"test{char}a")
        expected = "not valid TOML: "
    message = budgets_refused(budgets_dir, text)
    assert message.startswith(expected), (message, expected)


# -- the marker -----------------------------------------------------------------


class BrokenRepr:
    def __repr__(self) -> str:
        raise RuntimeError("repr fails")


class LongRepr:
    def __repr__(self) -> str:
        return "line one\nline two\u2028three " + "x" * 500


class MarkedItem:
    """What `marker_limit` reads of a test: its closest marker."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.mark = pytest.mark.max_instructions.with_args(*args, **kwargs).mark

    def get_closest_marker(self, name: str) -> pytest.Mark | None:
        return self.mark if name == "max_instructions" else None


def limit_of(*args: Any, **kwargs: Any) -> Limit | None:
    return marker_limit(cast(pytest.Item, MarkedItem(*args, **kwargs)))


anything = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(),
    st.text(max_size=12),
    st.binary(max_size=4),
    st.lists(st.integers(), max_size=3),
    st.tuples(st.integers()),
    st.integers(max_value=0),
    huge,
    st.just(10**5000),
    st.builds(BrokenRepr),
    st.builds(LongRepr),
)
bad_limits = anything.filter(
    lambda value: isinstance(value, bool) or not isinstance(value, int) or not 0 < value < BIG
)
bad_tolerances = st.one_of(
    st.text(max_size=12).filter(lambda text: not _tolerance(text)),
    st.floats().filter(lambda number: not 0 <= number < 100),
    st.integers().filter(lambda number: not 0 <= number < 100),
    st.just(10**5000),
    st.booleans(),
    st.just("x" * 500),
    st.builds(BrokenRepr),
    st.builds(LongRepr),
    st.lists(st.integers(), max_size=2),
)


@st.composite
def bad_markers(draw: st.DrawFn) -> tuple[tuple[Any, ...], dict[str, Any]]:
    shape = draw(st.sampled_from(["limit", "tolerance", "arity", "keyword"]))
    if shape == "limit":
        return (draw(bad_limits),), {}
    if shape == "tolerance":
        return (draw(st.integers(1, BIG - 1)),), {"tolerance": draw(bad_tolerances)}
    if shape == "arity":
        return tuple(draw(st.lists(anything, min_size=2, max_size=3))), {}
    keyword = draw(st.sampled_from(["limit", "tol", "budget", "x"]))
    return (draw(st.integers(1, 100)),), {keyword: draw(anything)}


@fuzz(200)
@given(bad_markers())
def test_a_bad_marker_fails_its_test_in_one_line(
    marker: tuple[tuple[Any, ...], dict[str, Any]],
) -> None:
    args, kwargs = marker
    with pytest.raises(pytest.fail.Exception) as excinfo:
        limit_of(*args, **kwargs)
    failed = excinfo.value
    message = str(failed)
    one_line(message)
    assert message.startswith("@pytest.mark.max_instructions"), message
    assert len(message) < 400, message
    assert failed.pytrace is False
    # pytest would print an exception the failure was raised in the handling of.
    assert failed.__context__ is None


@pytest.mark.parametrize(
    ("args", "kwargs", "expected"),
    [
        ((1,), {}, Limit(1, LimitSource.MARKER)),
        ((BIG - 1,), {"tolerance": "2%"}, Limit(BIG - 1, LimitSource.MARKER, 2.0)),
        ((7,), {"tolerance": 0.5}, Limit(7, LimitSource.MARKER, 0.5)),
        ((7,), {"tolerance": 0}, Limit(7, LimitSource.MARKER, 0.0)),
        ((7,), {"tolerance": None}, Limit(7, LimitSource.MARKER)),
    ],
)
def test_a_good_marker_gives_its_limit(
    args: tuple[Any, ...], kwargs: dict[str, Any], expected: Limit
) -> None:
    assert limit_of(*args, **kwargs) == expected


@pytest.mark.parametrize(
    ("args", "kwargs", "shown"),
    [
        ((BIG,), {}, f"got {BIG}, above the largest limit, 2**63 - 1"),
        ((10**400,), {}, "got an int of 401 digits"),
        ((10**5000,), {"tolerance": "2%"}, "got an int of 5,001 digits"),
        ((BrokenRepr(),), {}, "got <BrokenRepr object, its repr failed> (BrokenRepr)"),
        ((LongRepr(),), {}, "got line one\\u000aline two\\u2028three xxx"),
        ((5,), {"tolerance": 10**5000}, "got an int of 5,001 digits"),
        ((5,), {"tolerance": "y" * 500}, "got 'yyyyy"),
        ((5,), {"tolerance": math.nan}, "got nan"),
    ],
)
def test_a_bad_marker_shows_its_value_in_short(
    args: tuple[Any, ...], kwargs: dict[str, Any], shown: str
) -> None:
    with pytest.raises(pytest.fail.Exception, match=re.escape(shown)):
        limit_of(*args, **kwargs)


# -- end to end: the command line tool ------------------------------------------


def bad_reports() -> Iterator[tuple[str, str | bytes, str]]:
    """Reports as a user may hand them over: name, content, the problem."""
    huge_count = copy.deepcopy(VALID)
    huge_count["tests"][1]["instructions"] = 10**400
    yield (
        "huge.json",
        json.dumps(huge_count),
        'tests[1] ("t.py::test_over").instructions: expected a non-negative integer below '
        "2**63, got an integer of 401 digits",
    )
    at_2_63 = copy.deepcopy(VALID)
    at_2_63["tests"][0]["instructions"] = BIG
    yield (
        "2_63.json",
        json.dumps(at_2_63),
        f'tests[0] ("t.py::test_new").instructions: expected a non-negative integer below '
        f"2**63, got {BIG}",
    )
    yield (
        "nan.json",
        json.dumps(VALID | {"tolerance": math.nan}),
        "not a JSON report: NaN is not a JSON number",
    )
    yield ("cut.json", json.dumps(VALID)[:100], "not a JSON report: ")
    yield ("latin1.json", json.dumps(VALID).encode() + b"\xe9", "not a JSON report: the file ")


BAD_REPORTS = list(bad_reports())


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def good_report(tmp_path: Path) -> Path:
    path = tmp_path / "good.json"
    path.write_text(json.dumps(VALID))
    return path


COMMANDS: dict[str, Callable[[Path, Path], list[str]]] = {
    "compare": lambda good, bad: ["compare", str(good), str(bad)],
    "show": lambda good, bad: ["show", str(bad)],
    "merge": lambda good, bad: ["merge", "-o", str(good.parent / "out.json"), str(good), str(bad)],
    "record": lambda good, bad: ["record", str(bad), "--budgets", str(good.parent / "b.toml")],
}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    ("name", "content", "problem"), BAD_REPORTS, ids=[r[0] for r in BAD_REPORTS]
)
def test_every_command_refuses_a_bad_report_in_one_line_and_writes_nothing(
    good_report: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
    name: str,
    content: str | bytes,
    problem: str,
) -> None:
    directory = good_report.parent
    bad = directory / name
    bad.write_bytes(content.encode() if isinstance(content, str) else content)
    budgets = directory / "b.toml"
    budgets.write_text(f'["{TAG}"]\n"t.py::test_new" = 3\n')
    before = {path.name: path.read_bytes() for path in directory.iterdir()}
    code, out, err = run_cli(COMMANDS[command](good_report, bad), capsys)
    assert (code, out) == (2, "")
    one_line(err)
    assert err.startswith(f"{ERROR}{bad}: {problem}"), err
    assert {path.name: path.read_bytes() for path in directory.iterdir()} == before


def test_record_refuses_a_bad_budgets_file_and_leaves_it(
    good_report: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    budgets = good_report.parent / "b.toml"
    budgets.write_bytes(f'["{TAG}"]\n"t.py::test_new" = {10**400}\n'.encode())
    before = {path.name: path.read_bytes() for path in good_report.parent.iterdir()}
    code, out, err = run_cli(["record", str(good_report), "--budgets", str(budgets)], capsys)
    assert (code, out) == (2, "")
    one_line(err)
    assert err.startswith(f'{ERROR}{budgets}: ["{TAG}"] "t.py::test_new": a budget must be below')
    assert {path.name: path.read_bytes() for path in good_report.parent.iterdir()} == before


def test_record_writes_the_largest_count_a_report_holds_as_a_budget_it_reads_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = copy.deepcopy(VALID)
    document["tests"][0]["instructions"] = BIG - 1
    report, budgets = tmp_path / "r.json", tmp_path / "b.toml"
    report.write_text(json.dumps(document))
    code, _, err = run_cli(["record", str(report), "--budgets", str(budgets)], capsys)
    assert (code, err) == (0, "")
    assert Budgets.load(budgets).table(TAG) == {"t.py::test_new": BIG - 1, "t.py::test_over": 685}


# -- end to end: pytest ---------------------------------------------------------


def test_pytest_refuses_a_bad_budgets_file_and_leaves_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_a():\n    pass\n")
    path = pytester.path / "bytecount.toml"
    content = f'["{TAG}"]\n"test_a.py::test_a" = {{ budget = 1, tolerance = "{"9" * 400}" }}\n'
    path.write_text(content)
    before = sorted(pytester.path.iterdir())
    result = pytester.runpytest_inprocess("--bytecount-update", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if line.startswith("ERROR: ")]
    assert len(errors) == 1, result.stderr.lines
    assert errors[0].startswith(f'ERROR: {path}: ["{TAG}"] "test_a.py::test_a": tolerance: ')
    assert "Traceback" not in result.stderr.str() + result.stdout.str()
    assert path.read_text() == content
    assert sorted(pytester.path.iterdir()) == before


def test_pytest_refuses_a_bad_baseline_with_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_a():\n    pass\n")
    name, content, problem = BAD_REPORTS[0]
    (pytester.path / name).write_text(str(content))
    result = pytester.runpytest_inprocess(f"--bytecount-compare={name}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if line.startswith("ERROR: ")]
    assert errors == [f"ERROR: --bytecount-compare: {pytester.path / name}: {problem}"]
    assert "Traceback" not in result.stderr.str() + result.stdout.str()


BAD_MARKERS = {
    "limit_2_63": "max_instructions(2**63)",
    "limit_huge_with_tolerance": 'max_instructions(10**400, tolerance="2%")',
    "limit_too_long_to_print": "max_instructions(10**5000)",
    "limit_broken_repr": "max_instructions(BrokenRepr())",
    "tolerance_too_long_to_print": "max_instructions(5, tolerance=10**5000)",
    "tolerance_string": 'max_instructions(5, tolerance="two percent")',
    "tolerance_nan": 'max_instructions(5, tolerance=float("nan"))',
}


def test_pytest_errors_each_badly_marked_test_in_one_line(pytester: pytest.Pytester) -> None:
    tests = "\n".join(
        f"@pytest.mark.{marker}\ndef test_{name}():\n    pass\n"
        for name, marker in BAD_MARKERS.items()
    )
    pytester.makepyfile(
        "import pytest\n\n"
        "class BrokenRepr:\n    def __repr__(self):\n        raise RuntimeError('repr fails')\n\n"
        f"{tests}\n"
        "@pytest.mark.max_instructions(2**63 - 1, tolerance='1%')\ndef test_largest():\n    pass\n"
    )
    report = pytester.path / "r.json"
    result = pytester.runpytest_inprocess(f"--bytecount-report={report}", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=len(BAD_MARKERS))
    output = result.stdout.str()
    assert "Traceback" not in output
    assert "INTERNALERROR" not in output + result.stderr.str()
    # Each error is its header and one line: no traceback, no exception
    # "during the handling of" another.
    lines = result.stdout.lines
    section = lines[lines.index(next(line for line in lines if " ERRORS " in line)) + 1 :]
    for name in BAD_MARKERS:
        header = section.index(next(line for line in section if f" test_{name} " in line))
        assert section[header + 1].startswith("@pytest.mark.max_instructions"), section
        assert section[header + 2].startswith(("_", "-")), section
    # The report holds what was measured, and reads back.
    assert [record.nodeid.split("::")[1] for record in load_report(report).records] == [
        "test_largest"
    ]
