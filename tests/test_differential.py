"""Differential flame graphs (SPEC §14): a report made where call paths are
recorded keeps each test's (bounded); a later run with
`--bytecount-compare` draws, for a regressed or over-budget test, its call
paths coloured by change on the page, and `--bytecount-profile` writes the
pair in the format `difffolded.pl` writes, which `flamegraph.pl` draws."""

from __future__ import annotations

import html
import json
import re
import subprocess
from typing import Any

import pytest
from test_profiles import FLAMEGRAPH

from pytest_bytecount import stack_diff
from pytest_bytecount.report_loader import load_report

BEFORE = """\
def grows(n):
    return [i * 2 for i in range(n)]

def shrinks(n):
    total = 0
    for i in range(n):
        total += i
    return total

def work():
    return len(grows(5)) + shrinks(10)
"""

#: `grows` does more, `shrinks` less, and `work` calls a new function; no
#: line of the old functions moves, so their frames are the same.
AFTER = BEFORE.replace("range(n)]", "range(n * 3)]").replace("range(n):", "range(n // 2):")
AFTER = AFTER.replace("shrinks(10)\n", "shrinks(10) + added()\n") + "\ndef added():\n    return 1\n"

#: A run that records call paths, as the baseline's must.
WITH_PATHS = ("-p", "no:cacheprovider", "--bytecount", "--bytecount-html=old.html")

TESTS = "import shop\n\ndef test_work():\n    assert shop.work() > 0\n"


def two_runs(pytester: pytest.Pytester, *after: str) -> pytest.RunResult:
    """The baseline with call paths kept, then the changed code compared to it."""
    pytester.makepyfile(shop=BEFORE, test_shop=TESTS)
    first = pytester.runpytest(*WITH_PATHS, "--bytecount-report=old.json")
    first.assert_outcomes(passed=1)
    pytester.makepyfile(shop=AFTER)
    return pytester.runpytest(
        "-p", "no:cacheprovider", "--bytecount", "--bytecount-compare=old.json", *after
    )


def test_a_report_made_with_call_paths_keeps_them_and_a_plain_one_does_not(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(shop=BEFORE, test_shop=TESTS)
    pytester.runpytest(*WITH_PATHS, "--bytecount-report=a.json")
    report = json.loads((pytester.path / "a.json").read_text())
    (entry,) = report["tests"]
    frames = report["frames"]
    stacks = {";".join(frames[f] for f in path): count for count, *path in entry["stacks"]}
    assert sum(stacks.values()) == entry["instructions"]
    assert any(stack.endswith(";grows (shop.py:1)") for stack in stacks)
    # Read back, the record has them by name.
    (record,) = load_report(pytester.path / "a.json").records
    assert dict(record.stacks or ()) == stacks

    pytester.runpytest("-p", "no:cacheprovider", "--bytecount", "--bytecount-report=b.json")
    plain = json.loads((pytester.path / "b.json").read_text())
    assert "stacks" not in plain["tests"][0]
    assert plain["frames"] == []


def test_a_regressed_test_gets_a_differential_flame_graph_on_the_page(
    pytester: pytest.Pytester,
) -> None:
    result = two_runs(pytester, "--bytecount-html=new.html")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["REGRESSED test_shop.py::test_work *"])
    page = (pytester.path / "new.html").read_text()
    assert "What changed since old.json" in page
    drawn = re.findall(r'<g class="f (\w+)"[^>]*data-n="(\w+) \(shop\.py', page)
    assert {name: kind for kind, name in drawn} == {
        "work": "grew",
        "grows": "grew",
        "shrinks": "shrank",
        "added": "new",
    }
    # Beside it, the functions whose own counts moved most.
    changes = page.split('<table class="changes">')[1].split("</table>")[0]
    assert "<code>grows</code>" in changes
    assert "<code>shrinks</code>" in changes


def fill_hue(fill: str) -> int:
    found = re.fullmatch(r"hsl\((\d+), \d+%, \d+%\)", fill)
    assert found is not None, fill
    return int(found[1])


def test_in_chromium_a_grown_frame_is_red_and_a_shrunk_one_blue(
    pytester: pytest.Pytester, browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    two_runs(pytester, "--bytecount-html=new.html")
    browser.get((pytester.path / "new.html").as_uri())
    graph = browser.find_elements(By.CSS_SELECTOR, "details.test svg.flame")[1]

    def frame(name: str) -> Any:
        return graph.find_element(By.CSS_SELECTOR, f"g.f[data-n^='{name} (shop.py']")

    grown, shrunk, new = frame("grows"), frame("shrinks"), frame("added")
    # As drawn: the computed fill of each frame's rectangle.
    red, blue = (
        browser.execute_script(
            "return getComputedStyle(arguments[0].querySelector('rect')).fill", g
        )
        for g in (grown, shrunk)
    )
    r, g, b = map(int, re.findall(r"\d+", red)[:3])
    assert r > max(g, b)
    r, g, b = map(int, re.findall(r"\d+", blue)[:3])
    assert b > max(r, g)
    assert fill_hue(grown.find_element(By.TAG_NAME, "rect").get_attribute("fill")) == 0
    assert fill_hue(shrunk.find_element(By.TAG_NAME, "rect").get_attribute("fill")) == 215
    # A frame the baseline did not have is outlined, and says so.
    dash = browser.execute_script(
        "return getComputedStyle(arguments[0].querySelector('rect')).strokeDasharray", new
    )
    assert dash not in ("", "none")
    assert "new since the baseline" in new.find_element(By.TAG_NAME, "title").get_attribute(
        "textContent"
    )
    assert "since the baseline's" in grown.find_element(By.TAG_NAME, "title").get_attribute(
        "textContent"
    )
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []


def test_the_profile_directory_gets_the_pair_as_difffolded_pl_writes_it(
    pytester: pytest.Pytester,
) -> None:
    result = two_runs(pytester, "--bytecount-profile=prof")
    result.stdout.fnmatch_lines(["wrote prof: 1 folded-stacks file, 1 diff against the baseline*"])
    diff = (pytester.path / "prof" / "test_shop.py__test_work.difffolded").read_text()
    rows = {
        line.rsplit(" ", 2)[0].split(";")[-1]: line.rsplit(" ", 2)[1:] for line in diff.splitlines()
    }
    old, new = (int(n) for n in rows["grows (shop.py:1)"])
    assert new > old > 0
    old, new = (int(n) for n in rows["shrinks (shop.py:4)"])
    assert 0 < new < old
    assert rows["added (shop.py:13)"][0] == "0"


@pytest.mark.skipif(
    FLAMEGRAPH is None, reason="flamegraph.pl not found (Debian: libdevel-nytprof-perl)"
)
def test_flamegraph_pl_draws_the_diff_red_where_it_grew_and_blue_where_it_shrank(
    pytester: pytest.Pytester,
) -> None:
    two_runs(pytester, "--bytecount-profile=prof")
    assert FLAMEGRAPH is not None
    svg = subprocess.run(
        ["perl", FLAMEGRAPH, str(pytester.path / "prof" / "test_shop.py__test_work.difffolded")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    fills = dict(
        re.findall(r"<title>(\w+) \(shop\.py:\d+\).*?</title><rect [^>]*fill=\"([^\"]+)\"", svg)
    )
    r, _, b = map(int, re.findall(r"\d+", fills["grows"]))
    assert (r, b < 255) == (255, True)  # red
    r, _, b = map(int, re.findall(r"\d+", fills["shrinks"]))
    assert (b, r < 255) == (255, True)  # blue


def test_a_baseline_whose_stacks_name_a_frame_it_lacks_is_a_clear_error(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(shop=BEFORE, test_shop=TESTS)
    pytester.runpytest(*WITH_PATHS, "--bytecount-report=a.json")
    path = pytester.path / "a.json"
    report = json.loads(path.read_text())
    report["tests"][0]["stacks"][0].append(len(report["frames"]))
    path.write_text(json.dumps(report))
    result = pytester.runpytest("--bytecount", "--bytecount-compare=a.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--bytecount-compare: *tests[[]0[]]*.stacks[[]0[]][[]*: no frame * in a table of *"]
    )


def test_bounded_keeps_the_biggest_paths_and_every_kept_frame_whole() -> None:
    stacks = {f"t;a;b{n}": n + 1 for n in range(10)} | {"t;c;d": 100, "t;c;e": 1, "t;f": 2}
    # A stack that is a caller's path of a kept one keeps its own count.
    stacks |= {"t;a;b9;x": 50, "t;a;b9;x;y": 60}
    kept = stack_diff.bounded(stacks, most=4)
    assert sum(kept.values()) == sum(stacks.values())
    assert {"t;c;d", "t;a;b9;x;y", "t;a;b9;x", "t;a;b9"} <= kept.keys()
    # What was left out went to its deepest frame on a kept path.
    assert kept["t;a"] == sum(n + 1 for n in range(9))
    assert kept["t;c"] == 1
    assert kept["t"] == 2  # t;f: only its outermost frame is kept
    before, after = stack_diff.totals_by_path(stacks), stack_diff.totals_by_path(kept)
    assert all(after[path] == before[path] for path in after)
    assert stack_diff.bounded(stacks, most=100) == dict(sorted(stacks.items()))


def flame_frames(svg: str) -> dict[str, tuple[str, str, str]]:
    """Each frame of a drawn graph by its call path's last frame: its
    class, its fill and its tooltip."""
    found = re.findall(
        r'<g class="f ?(\w*)"[^>]*data-n="([^"]*)"><title>([^<]*)</title><rect [^>]*fill="([^"]*)"',
        svg,
    )
    return {name: (kind, fill, tip) for kind, name, tip, fill in found}


def test_a_frame_a_cut_baseline_did_not_keep_is_not_called_new() -> None:
    from pytest_bytecount.render.flame_graph import UNKNOWN, differential_flame_graph

    small = {f"t;f{n};leaf": 10 for n in range(stack_diff.TOP_STACKS - 1)}
    complete = small | {"t;g;leaf": 5}
    cut = stack_diff.bounded(small | {f"t;h{n}": 5 for n in range(50)})
    new = small | {"t;g;leaf": 20}
    # Against a complete baseline, g is known to be new: red.
    kind, fill, tip = flame_frames(differential_flame_graph(new, small, title="x"))["g"]
    assert (kind, fill_hue(fill), "new since the baseline" in tip) == ("new", 0, True)
    # Against one that kept all of g, g grew by 15, not 20.
    kind, _, tip = flame_frames(differential_flame_graph(new, complete, title="x"))["g"]
    assert kind == "grew"
    assert "+15 (+300.0%) since the baseline's 5" in html.unescape(tip)
    # Against one that was cut, g may have run, too little to keep: grey.
    assert len(cut) > stack_diff.TOP_STACKS
    kind, fill, tip = flame_frames(differential_flame_graph(new, cut, title="x"))["g"]
    assert (kind, fill) == ("new", "hsl(0, 0%, 93%)")
    assert html.unescape(UNKNOWN) in html.unescape(tip)


def test_difffolded_lists_every_stack_of_either_side() -> None:
    text = stack_diff.difffolded({"a;b": 3, "a": 1}, {"a;b": 5, "a;c": 2})
    assert text == "a 1 0\na;b 3 5\na;c 0 2\n"


def test_parse_folded_adds_up_equal_stacks() -> None:
    assert stack_diff.parse_folded("a;b 3\na 1\na;b 2\n") == {"a;b": 5, "a": 1}
