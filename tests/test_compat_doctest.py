"""pytest-bytecount with doctests (`--doctest-modules`): SPEC §1-§3 and §10.
A small suite runs with `--bytecount` and recorded budgets.
"""

from __future__ import annotations

import pytest
from helpers import assert_budgets_exceeded_by_one, budgets, counts, lower_budgets, run

DOCTESTS = '''
def double(x):
    """
    >>> double(21)
    42
    >>> [double(i) for i in range(3)]
    [0, 2, 4]
    """
    return 2 * x


class Counter:
    """
    >>> c = Counter()
    >>> c.add(5).add(6).total
    11
    """

    def __init__(self):
        self.total = 0

    def add(self, n):
        self.total += n
        return self
'''


def test_doctests_are_measured_by_option_and_budgets_deterministically(
    pytester: pytest.Pytester,
) -> None:
    # A doctest has no test function: its span is DoctestItem.runtest(), so
    # its count includes the doctest runner's own work (parsing the examples,
    # compiling them, patching pdb and linecache), a few hundred instructions
    # that depend on the interpreter and the environment (~/.pdbrc, say).
    # Subprocesses, so that both runs start from a fresh interpreter.
    pytester.makepyfile(doctested=DOCTESTS)
    _, first = run(pytester, "--doctest-modules", "--bytecount", subprocess=True, passed=2)
    assert set(counts(first)) == {
        "doctested.py::doctested.double",
        "doctested.py::doctested.Counter",
    }
    assert all(count > 0 for count in counts(first).values())
    # Not measured without the option, a marker or a budget.
    _, unmeasured = run(pytester, "--doctest-modules", report="none.json", passed=2)
    assert unmeasured["tests"] == []

    pytester.runpytest_subprocess("--doctest-modules", "--bytecount-update").assert_outcomes(
        passed=2
    )
    assert set(budgets(pytester)) == set(counts(first))
    # With every budget one lower, both fail by exactly one instruction.
    lower_budgets(pytester)
    result, second = run(
        pytester, "--doctest-modules", subprocess=True, report="enforced.json", failed=2
    )
    assert counts(second) == counts(first)
    assert_budgets_exceeded_by_one(second, {"doctested.double", "doctested.Counter"})
    result.stdout.fnmatch_lines(["*over the limit of * recorded in bytecount.toml: +1 (+*%)*"])
