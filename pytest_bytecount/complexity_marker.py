"""The `max_complexity` marker (SPEC §13): the cases of a test parametrized
over a size, fitted together once they have all run.

Each case is measured as any test is. Its report carries which group it is
in (the test, and every parameter but the size), the size and the limit, so
that the process that holds every record, the xdist controller included,
judges each group once the tests have run (`complexity_verdict.py`). A
group's verdict is a test report of its own (`test_sort[n=*]`), through
pytest's hooks: the terminal, the JUnit XML and the exit code see it as
they see any test.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Final, NoReturn

import pytest

from .complexity import ORDERS
from .complexity_verdict import MARKER, Case, Verdict
from .escaping import one_line
from .marker import shown

MARKER_HELP: Final = (
    f'{MARKER}(order, over="n"): on a test parametrized over the size `over`, fit the '
    "counts of the cases that share every other parameter to a growth class, and fail "
    f"when it grows faster than `order` ({', '.join(ORDERS)})"
)


_GROUPS: Final = pytest.StashKey[dict[str, int]]()
_DESELECTED: Final = pytest.StashKey[list[pytest.Item]]()


def deselected(items: Sequence[pytest.Item]) -> None:
    """Note tests deselected (`-k`, `--deselect`, a shard plugin): a group
    with a case among them is not fitted on the cases that are left."""
    for item in items:
        item.session.stash.setdefault(_DESELECTED, []).append(item)


def case_of(item: pytest.Item) -> Case | None:
    """The case a marked test is, or None for an unmarked one; fails the
    test, in one line, where the marker or the parametrization is wrong."""
    found = _case(item)
    if found is None:
        return None
    stash = item.session.stash
    if _GROUPS not in stash:  # counted once, over every collected test
        groups: dict[str, int] = {}
        for other in [*item.session.items, *stash.get(_DESELECTED, [])]:
            try:
                case = _case(other)
            except pytest.fail.Exception:
                continue
            if case is not None:
                groups[case.group] = groups.get(case.group, 0) + 1
        stash[_GROUPS] = groups
    return replace(found, members=stash[_GROUPS].get(found.group, 1))


def _case(item: pytest.Item) -> Case | None:
    marker = item.get_closest_marker(MARKER)
    if marker is None:
        return None
    kwargs = dict(marker.kwargs)
    over = kwargs.pop("over", "n")
    if len(marker.args) != 1 or kwargs or not isinstance(over, str):
        _fail(f"takes one growth class and over=, got {shown(marker.args)} {shown(kwargs)}")
    limit = marker.args[0]
    if not isinstance(limit, str) or limit not in ORDERS:
        _fail(f"the growth class {shown(limit)} is not one of {', '.join(ORDERS)}")
    callspec = getattr(item, "callspec", None)
    params: Mapping[str, object] = callspec.params if callspec is not None else {}
    if over not in params:
        _fail(f"over={over!r}: the test is not parametrized over {over!r}")
    size = params[over]
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        _fail(f"over={over!r}: this case's {over} is {shown(size)}, not a positive whole number")
    others = ", ".join(f"{name}={shown(value)}" for name, value in params.items() if name != over)
    base = item.nodeid.split("[", 1)[0]
    group = f"{base}[{over}=*{', ' + others if others else ''}]"
    file, line, name = item.location
    return Case(group, size, limit, over, file, (line or 0) + 1, name.split("[", 1)[0])


def _fail(message: str) -> NoReturn:
    pytest.fail(f"@pytest.mark.{MARKER}: {one_line(message)}", pytrace=False)


def report_verdicts(
    config: pytest.Config,
    verdicts: Iterable[Verdict],
    cases: Iterable[Case],
    explanations: Mapping[str, str] = {},
) -> None:
    """Each verdict as a test's reports, through pytest's hooks. A failed
    group's text ends with where its largest case's instructions went,
    where that case was explained (`--bytecount-explain`)."""
    where = {case.group: case for case in cases}
    for verdict in verdicts:
        case = where[verdict.group]
        if verdict.outcome == "failed" and verdict.cases:
            largest, size, _ = verdict.cases[-1]
            if largest in explanations:
                text = f"{verdict.text}\nat {verdict.over}={size:,}: {explanations[largest]}"
                verdict = replace(verdict, text=text)
        location = (case.file, case.line - 1, case.name + verdict.group[verdict.group.index("[") :])
        config.hook.pytest_runtest_logstart(nodeid=verdict.group, location=location)
        for when in ("setup", "call", "teardown"):
            outcome = verdict.outcome if when == "call" else "passed"
            longrepr: str | tuple[str, int, str] | None = None
            if outcome == "failed":
                longrepr = verdict.text
            elif outcome == "skipped":
                longrepr = (case.file, case.line, f"Skipped: {verdict.text}")
            report = pytest.TestReport(
                verdict.group, location, {}, outcome, longrepr, when, duration=0.0
            )
            config.hook.pytest_runtest_logreport(report=report)
        config.hook.pytest_runtest_logfinish(nodeid=verdict.group, location=location)
