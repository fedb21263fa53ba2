"""Complexity assertions (SPEC §13): `bytecount.complexity()` fits exact
counts to growth classes, through pytest as a user writes them, on known
algorithms; and the fit on its own, on counts made up to be hard."""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

import pytest
from helpers import TAG

from pytest_bytecount.complexity import Order, fit

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10
    import tomli as tomllib

ALGORITHMS = """
import bisect

def lookup(table):
    return table.get(7)

def binary_search(items):
    low, high = 0, len(items)
    target = items[-1]
    while low < high:
        middle = (low + high) // 2
        if items[middle] < target:
            low = middle + 1
        else:
            high = middle
    return low

def scan(items):
    total = 0
    for item in items:
        total += item
    return total

def merge_sort(items):
    if len(items) <= 1:
        return items
    middle = len(items) // 2
    left, right = merge_sort(items[:middle]), merge_sort(items[middle:])
    merged, i, j = [], 0, 0
    while i < len(left) and j < len(right):
        if left[i] <= right[j]:
            merged.append(left[i])
            i += 1
        else:
            merged.append(right[j])
            j += 1
    return merged + left[i:] + right[j:]

def insertion_sort(items):
    for k in range(1, len(items)):
        item, j = items[k], k - 1
        while j >= 0 and items[j] > item:
            items[j + 1] = items[j]
            j -= 1
        items[j + 1] = item
    return items

def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)
"""

KNOWN = """
import pytest
from algorithms import *

SIZES = [64, 128, 256, 512, 1024]

@pytest.mark.parametrize("fn, setup, sizes, order", [
    (lookup, lambda n: dict.fromkeys(range(n)), SIZES, "1"),
    (binary_search, lambda n: list(range(n)), SIZES, "log n"),
    (scan, lambda n: list(range(n)), SIZES, "n"),
    (merge_sort, lambda n: list(range(n, 0, -1)), SIZES, "n log n"),
    (insertion_sort, lambda n: list(range(n, 0, -1)), [16, 32, 64, 128, 256], "n^2"),
    (fib, None, [3, 6, 9, 12, 15, 18, 24], "2^n"),
], ids=["lookup", "binary_search", "scan", "merge_sort", "insertion_sort", "fib"])
def test_known(bytecount, fn, setup, sizes, order):
    found = bytecount.complexity(fn, sizes=sizes, setup=setup)
    print(found)
    assert found.order == order
    assert found.order <= order and not found.order < order
    assert len(found.counts) == len(sizes) and all(found.counts)
"""


def test_known_algorithms_fit_their_classes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(algorithms=ALGORITHMS, test_known=KNOWN)
    pytester.syspathinsert()
    result = pytester.runpytest("-p", "no:cacheprovider", "-s")
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(
        [
            "*O(1): *, exact on 5 sizes; the counts do not grow with n: work done inside C*",
            "*O(log n): *·log2(n) + *",
            "*O(n): *·n + *, exact on 5 sizes*",
            "*O(n log n): *·n·log2(n) *",
            "*O(n^2): *·n^2 *, exact on 5 sizes*",
            "*O(1.6*^n): *·1.6*^n *",
        ]
    )


DEDUPE = """
def dedupe(items):
    seen, kept = {container}, []
    for item in items:
        if {test}:
            {add}
            kept.append(item)
    return kept
"""

REGRESSION = (
    DEDUPE
    + """
def test_dedupe_stays_linear(bytecount):
    fit = bytecount.complexity(dedupe, sizes=[50, 100, 200, 400, 800],
                               setup=lambda n: [i % (n // 2) for i in range(n)])
    assert fit.order <= "n"
"""
)
AS_A_SET = {"container": "set()", "test": "item not in seen", "add": "seen.add(item)"}
# The regression: membership in a list, as a Python loop (an `in` on a list
# would be one instruction: C does the scan).
AS_A_LOOP = {
    "container": "[]",
    "test": "all(other != item for other in seen)",
    "add": "seen.append(item)",
}


def test_a_set_turned_into_a_list_loop_fails_the_linear_assertion(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_dedupe=REGRESSION.format(**AS_A_SET))
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    pytester.makepyfile(test_dedupe=REGRESSION.format(**AS_A_LOOP))
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*assert Order('n^2') <= 'n'*", "*<Fit O(n^2): *·n^2 *"])


@pytest.mark.parametrize(
    ("sizes", "message"),
    [
        ("[10, 20, 40]", "*sizes: a fit needs at least 4 different sizes*got [[]10, 20, 40]*"),
        ("[10, 12, 14, 16]", "*the largest at least 8 times the smallest*"),
        ("[1, 2, 'four', 8]", "*TypeError: sizes: 'four' is not a whole number*"),
        ("[0, 2, 4, 8]", "*sizes: 0 is not a positive size*"),
    ],
)
def test_bad_sizes_are_a_clear_error(pytester: pytest.Pytester, sizes: str, message: str) -> None:
    pytester.makepyfile(
        f"def test_it(bytecount):\n    bytecount.complexity(len, sizes={sizes}, setup=range)\n"
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([message])


def test_under_bytecount_disable_the_fit_says_nothing_was_counted(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        "def test_it(bytecount):\n"
        "    found = bytecount.complexity(sum, sizes=[1, 2, 4, 8], setup=range)\n"
        "    assert not found.order <= 'n^3'\n"
        "    assert 'counting is off' in str(found)\n"
    )
    pytester.runpytest("-p", "no:cacheprovider", "--bytecount-disable").assert_outcomes(passed=1)


SIZES = [100, 200, 400, 800, 1600]


@pytest.mark.parametrize(
    ("counts", "order"),
    [
        (lambda n: 310, "1"),
        (lambda n: 12 * math.ceil(math.log2(n)) + 40, "log n"),
        (lambda n: 7 * n + 31, "n"),
        (lambda n: 12 * n * math.log2(n) + 41 * n + 310, "n log n"),
        # A quadratic term small beside the linear one is still found.
        (lambda n: n * n // 100 + 50 * n, "n^2"),
        (lambda n: n**3 + n, "n^3"),
    ],
)
def test_the_simplest_class_with_its_lower_terms_wins(counts: object, order: str) -> None:
    assert callable(counts)
    found = fit(SIZES, [round(counts(n)) for n in SIZES])
    assert found.order == order
    best = found.best
    assert best is not None
    assert best.error is not None
    assert best.error < 0.001


def test_when_no_class_fits_the_fit_says_so_and_compares_false() -> None:
    found = fit(SIZES, [500, 90, 7000, 3, 40000])
    assert found.order == "?"
    assert not found.order <= "2^n"
    assert not found.order > "1"
    assert str(found).startswith("no growth class fits: the closest, O(")


def test_a_class_that_fits_noise_but_cannot_foretell_is_not_chosen() -> None:
    # A set-based dedupe of random input: linear work, whose counts depend
    # on the data. A cubic's four terms fit them to 0.42% by cancelling out,
    # but fitted to the four smaller sizes it misses the largest by 14%.
    counts = [710, 1320, 2580, 5320, 10630]
    found = fit([50, 100, 200, 400, 800], counts)
    cubic = next(c for c in found.candidates if c.order == "n^3")
    assert (cubic.error or 1.0) < 0.01
    assert (cubic.foretold or 0.0) > 0.1
    assert found.order == "?"
    assert "the work may depend on the data as well as on n" in str(found)


def test_orders_compare_by_growth_and_reject_unknown_names() -> None:
    assert Order("n log n") < "n^2" <= Order("n^2")
    assert Order("1") < "log n"
    assert sorted(map(Order, ["2^n", "n", "1", "n^3"])) == ["1", "n", "n^3", "2^n"]
    message = "unknown growth class 'n^4': expected one of 1, log n, n, n log n, n^2, n^3, 2^n"
    with pytest.raises(ValueError, match=re.escape(message)):
        assert Order("n") <= "n^4"


MARKED = """
import pytest
from algorithms import merge_sort, insertion_sort

@pytest.mark.max_complexity("n log n", over="n")
@pytest.mark.parametrize("n", [64, 128, 256, 512, 1024])
def test_merge(bytecount, n):
    bytecount(merge_sort, list(range(n, 0, -1)))

@pytest.mark.max_complexity("n", over="n")
@pytest.mark.parametrize("kind", ["reversed", "sorted"])
@pytest.mark.parametrize("n", [16, 32, 64, 128])
def test_insertion(bytecount, n, kind):
    items = list(range(n, 0, -1)) if kind == "reversed" else list(range(n))
    bytecount(insertion_sort, items)
"""


def marked_run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, str]:
    pytester.makepyfile(algorithms=ALGORITHMS, test_sorts=MARKED)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--junitxml=junit.xml", "-rA", *args
    )
    return result, (pytester.path / "junit.xml").read_text()


@pytest.mark.parametrize("args", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_the_marker_fits_each_group_and_reports_it_as_a_test(
    pytester: pytest.Pytester, args: tuple[str, ...]
) -> None:
    result, junit = marked_run(pytester, *args)
    # 13 cases, then one verdict per group: merge sort's and insertion
    # sort's on each kind of input (sorted input makes it linear).
    result.assert_outcomes(passed=15, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*_ test_insertion[[]n=*, kind='reversed'] _*",
            'max_complexity("n", over="n"): grows as O(n^2), faster than the limit O(n)',
            "*n  instructions",
            "*16 *",
            "*128 *",
            "fit: O(n^2): *·n^2 *, exact on 4 sizes",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "FAILED    test_sorts.py::test_insertion[[]n=*, kind='reversed']  grows as O(n^2)*",
            "PASSED    test_sorts.py::test_insertion[[]n=*, kind='sorted']  grows as O(n), within*",
            "PASSED    test_sorts.py::test_merge[[]n=*]  grows as O(n log n), within O(n log n)",
        ]
    )
    # The progress counts the groups among the tests: it stays within 100%.
    assert not re.search(r"\[(1\d[1-9]|1[1-9]\d)%\]", result.stdout.str())
    assert junit.count('name="test_merge[n=*]"') == 1
    assert junit.count("<failure") == 1
    assert "name=\"test_insertion[n=*, kind='reversed']\"" in junit


def test_a_case_without_a_count_leaves_its_group_unfitted(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.fixture
        def broken(n):
            if n == 32:
                raise RuntimeError("no input")

        @pytest.mark.max_complexity("n", over="n")
        @pytest.mark.parametrize("n", [8, 16, 32, 64, 128])
        def test_sum(broken, n):
            sum(i for i in range(n))
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(passed=4, errors=1, skipped=1)
    result.stdout.fnmatch_lines(
        ["*test_sum[[]n=*]*not fitted: 1 of its 5 cases was not run or measured*"]
    )


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ('"n^4", over="n"', "the growth class 'n^4' is not one of 1, log n, n, *"),
        ('"n", over="size"', "over='size': the test is not parametrized over 'size'"),
        ('"n"', "over='n': this case's n is 'big', not a positive whole number"),
    ],
)
def test_a_malformed_marker_fails_its_tests_in_one_line(
    pytester: pytest.Pytester, marker: str, message: str
) -> None:
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.max_complexity({marker})
        @pytest.mark.parametrize("n", ["big"])
        def test_it(n):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*@pytest.mark.max_complexity: {message}"])


def test_a_group_with_too_few_sizes_fails_saying_what_a_fit_needs(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.max_complexity("n", over="n")
        @pytest.mark.parametrize("n", [10, 20, 40])
        def test_sum(n):
            sum(range(n))
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*not fitted: sizes: a fit needs at least 4 different sizes*"])


DEDUPE_MARKED = (
    "import pytest\n"
    + DEDUPE
    + """
@pytest.mark.max_complexity("n^2", over="n")
@pytest.mark.parametrize("n", [50, 100, 200, 400, 800])
def test_dedupe(bytecount, n):
    bytecount(dedupe, [i % (n // 2) for i in range(n)])
"""
)


def test_update_records_the_class_and_a_later_run_fails_when_it_grows(
    pytester: pytest.Pytester,
) -> None:
    env = ("-p", "no:cacheprovider")
    pytester.makepyfile(test_dedupe=DEDUPE_MARKED.format(**AS_A_SET))
    pytester.runpytest(*env, "--bytecount-update").assert_outcomes(passed=6)
    budgets = tomllib.loads((pytester.path / "bytecount.toml").read_text())[TAG]
    assert budgets["test_dedupe.py::test_dedupe[n=*]"] == "n"
    # The group's class is the cases' limit, as a marker's count is: no budgets for them.
    assert list(budgets) == ["test_dedupe.py::test_dedupe[n=*]"]

    # Quadratic is within the marker's limit, but not within what was recorded.
    pytester.makepyfile(test_dedupe=DEDUPE_MARKED.format(**AS_A_LOOP))
    result = pytester.runpytest(*env, "-p", "no:randomly")
    result.assert_outcomes(passed=5, failed=1)
    result.stdout.fnmatch_lines(
        [
            'max_complexity("n^2", over="n"): grows as O(n^2), faster than O(n) as '
            "bytecount.toml records it",
            "*FAILED    test_dedupe.py::test_dedupe[[]n=*]  grows as O(n^2), faster than O(n)*",
        ]
    )
    # Updating accepts the new class, as it accepts new counts.
    pytester.runpytest(*env, "--bytecount-update").assert_outcomes(passed=6)
    budgets = tomllib.loads((pytester.path / "bytecount.toml").read_text())[TAG]
    assert budgets["test_dedupe.py::test_dedupe[n=*]"] == "n^2"

    # Back to a set: slower growth passes, with the hint to record it.
    pytester.makepyfile(test_dedupe=DEDUPE_MARKED.format(**AS_A_SET))
    result = pytester.runpytest(*env, "-rA")
    result.stdout.fnmatch_lines(
        ["*test_dedupe[[]n=*]  grows as O(n), slower than O(n^2) as bytecount.toml records it*"]
    )

    # A group whose test is gone is a stale entry, pruned by an update.
    pytester.makepyfile(test_dedupe="def test_other():\n    pass\n")
    result = pytester.runpytest(*env, "--bytecount-update")
    assert "test_dedupe[" not in (pytester.path / "bytecount.toml").read_text()


def test_a_bad_growth_class_in_the_budgets_file_is_a_usage_error(
    pytester: pytest.Pytester,
) -> None:
    pytester.makefile(".toml", bytecount=f'["{TAG}"]\n"t.py::test_x[n=*]" = "n^4"\n')
    pytester.makepyfile(t="def test_x():\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            '*bytecount.toml: [[]"cpython-*"[]] "t.py::test_x[[]n=*[]]": *a recorded growth class '
            "one of 1, log n, n, n log n, n^2, n^3, 2^n, got 'n^4' (string)"
        ]
    )


def test_the_report_carries_each_group_the_same_serially_and_under_xdist(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(algorithms=ALGORITHMS, test_sorts=MARKED)
    reports = []
    for args in ((), ("-n", "2")):
        pytester.runpytest_subprocess(
            "-p", "no:cacheprovider", "--bytecount-report=report.json", *args
        )
        reports.append(json.loads((pytester.path / "report.json").read_text()))
    serial, xdist = reports
    assert serial["complexity"] == xdist["complexity"]
    assert [t["instructions"] for t in serial["tests"]] == [
        t["instructions"] for t in xdist["tests"]
    ]
    merge, reversed_, sorted_ = (
        {entry["nodeid"]: entry for entry in serial["complexity"]}[f"test_sorts.py::{name}"]
        for name in (
            "test_merge[n=*]",
            "test_insertion[n=*, kind='reversed']",
            "test_insertion[n=*, kind='sorted']",
        )
    )
    assert merge["sizes"] == [64, 128, 256, 512, 1024]
    assert merge["counts"] == [
        next(t["instructions"] for t in serial["tests"] if t["nodeid"] == case)
        for case in merge["cases"]
    ]
    assert (merge["outcome"], merge["fit"]["order"], merge["limit"]) == (
        "passed",
        "n log n",
        "n log n",
    )
    assert merge["fit"]["terms"] == ["n·log2(n)", "n", ""]
    assert merge["fit"]["text"].startswith("O(n log n): ")
    assert (reversed_["outcome"], reversed_["fit"]["order"]) == ("failed", "n^2")
    assert "faster than the limit O(n)" in reversed_["message"]
    assert (sorted_["outcome"], sorted_["fit"]["order"]) == ("passed", "n")
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((Path(__file__).parent.parent / "docs" / "report.schema.json").read_text())
    jsonschema.validate(serial, schema)


def test_a_group_with_deselected_cases_is_skipped_not_fitted_on_the_rest(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(algorithms=ALGORITHMS, test_sorts=MARKED)
    result = pytester.runpytest("-p", "no:cacheprovider", "-rs", "-k", "test_merge and not 1024")
    result.assert_outcomes(passed=4, skipped=1, deselected=9)
    result.stdout.fnmatch_lines(
        ["*test_merge[[]n=*]*not fitted: 1 of its 5 cases was not run or measured*"]
    )


def test_explain_is_asked_for_the_largest_size_in_both_forms(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        algorithms=ALGORITHMS,
        test_sorts=MARKED,
        test_fixture_form="""
        from algorithms import insertion_sort

        def test_it(bytecount):
            # Measured smallest first, whatever the order given: `last` is the largest.
            fit = bytecount.complexity(insertion_sort, sizes=[64, 8, 16, 32],
                                       setup=lambda n: list(range(n, 0, -1)))
            assert fit.sizes == (8, 16, 32, 64)
            assert bytecount.last.instructions == fit.counts[-1]
            print(bytecount.last.explain(lines=2))
        """,
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-s", "--bytecount-explain")
    result.stdout.fnmatch_lines(["*instructions executed on * lines; the 2 hottest:"])
    # The failed group ends with where its largest case's instructions went.
    result.stdout.fnmatch_lines(
        [
            "*_ test_insertion[[]n=*, kind='reversed'] _*",
            "fit: O(n^2): *",
            "at n=128: * instructions executed on * lines; the * hottest:",
        ]
    )


def test_the_summary_holds_cases_under_their_group_not_as_tests_without_budget(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(algorithms=ALGORITHMS, test_sorts=MARKED)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["13 measured · 13 in max_complexity groups"])
    assert "NEW " not in result.stdout.str()
    verbose = pytester.runpytest("-p", "no:cacheprovider", "-v")
    verbose.stdout.fnmatch_lines(["NEW       test_sorts.py::test_merge[[]64]  *"])


def test_record_and_show_read_the_groups_from_a_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(algorithms=ALGORITHMS, test_sorts=MARKED)
    pytester.runpytest("-p", "no:cacheprovider", "--bytecount-report=report.json")
    shown = pytester.run(sys.executable, "-m", "pytest_bytecount", "show", "report.json")
    shown.stdout.fnmatch_lines(
        [
            "13 measured · 13 in max_complexity groups",
            "FAILED    test_sorts.py::test_insertion[[]n=*, kind='reversed']  grows as O(n^2)*",
            "PASSED    test_sorts.py::test_merge[[]n=*]  grows as O(n log n), within O(n log n)",
        ]
    )
    done = pytester.run(sys.executable, "-m", "pytest_bytecount", "record", "report.json")
    assert done.ret == 0
    done.stdout.fnmatch_lines(["recorded 0 budgets of * 0 pruned, and 2 growth classes"])
    budgets = tomllib.loads((pytester.path / "bytecount.toml").read_text())[TAG]
    # The passing groups' classes; the failed group's is not recorded, nor are the cases.
    assert budgets == {
        "test_sorts.py::test_insertion[n=*, kind='sorted']": "n",
        "test_sorts.py::test_merge[n=*]": "n log n",
    }
