"""The `max_complexity` marker (SPEC §13): the cases of a test parametrized
over a size, fitted together once they have all run.

Each case is measured as any test is. Its report carries which group it is
in (the test, and every parameter but the size), the size and the limit, so
that the process that holds every record, the xdist controller included,
judges each group once the tests have run. A group's verdict is a test
report of its own (`test_sort[n=*]`), through pytest's hooks: the terminal,
the JUnit XML and the exit code see it as they see any test.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Final, Literal, NoReturn

import pytest

from .complexity import ORDERS, Fit, Order, fit
from .escaping import one_line
from .marker import shown

MARKER: Final = "max_complexity"
MARKER_HELP: Final = (
    f'{MARKER}(order, over="n"): on a test parametrized over the size `over`, fit the '
    "counts of the cases that share every other parameter to a growth class, and fail "
    f"when it grows faster than `order` ({', '.join(ORDERS)})"
)


@dataclass(frozen=True)
class Case:
    """One case of a marked test: its group's node id (the size shown as
    `*`), the size, the limit and the test's location."""

    group: str
    size: int
    limit: str
    over: str
    file: str
    line: int
    name: str
    #: How many cases the group has in this run's selection.
    members: int = 0

    def to_text(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_text(cls, text: str) -> Case:
        return cls(**json.loads(text))


_GROUPS: Final = pytest.StashKey[dict[str, int]]()


def case_of(item: pytest.Item) -> Case | None:
    """The case a marked test is, or None for an unmarked one; fails the
    test, in one line, where the marker or the parametrization is wrong."""
    found = _case(item)
    if found is None:
        return None
    stash = item.session.stash
    if _GROUPS not in stash:  # counted once, over every selected test
        groups: dict[str, int] = {}
        for other in item.session.items:
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


@dataclass(frozen=True)
class Verdict:
    """A group's fit against its limit: `outcome` is passed, failed or
    skipped (a case without a count); `headline` says why in a line, `text`
    in full."""

    group: str
    outcome: Literal["passed", "failed", "skipped"]
    headline: str
    text: str
    fit: Fit | None
    limit: str


def judge(cases: Mapping[str, Case], counts: Mapping[str, int]) -> list[Verdict]:
    """Each group's verdict, from its cases (by node id) and the counts of
    those that were measured."""
    groups: dict[str, list[tuple[str, Case]]] = {}
    for nodeid, case in cases.items():
        groups.setdefault(case.group, []).append((nodeid, case))
    verdicts = []
    # By name: the same order however the cases arrived (pytest-xdist).
    for group, members in sorted(groups.items()):
        limit = members[0][1].limit
        expected = members[0][1].members
        if len(members) < expected:
            text = f"not fitted: {expected - len(members)} of its {expected} cases have no count"
            verdicts.append(Verdict(group, "skipped", text, text, None, limit))
            continue
        members.sort(key=lambda member: member[1].size)
        sizes = [case.size for _, case in members]
        try:
            found = fit(sizes, [counts[nodeid] for nodeid, _ in members])
        except ValueError as exc:
            text = f"not fitted: {exc}"
            verdicts.append(Verdict(group, "failed", text, f"{MARKER}: {text}", None, limit))
            continue
        verdicts.append(_verdict(group, members[0][1], found))
    return verdicts


def _verdict(group: str, case: Case, found: Fit) -> Verdict:
    limit = Order(case.limit)
    outcome: Literal["passed", "failed"]
    table = [f"  {case.over:>10}  instructions"] + [
        f"  {size:>10,}  {count:>12,}"
        for size, count in zip(found.sizes, found.counts, strict=True)
    ]
    if found.order <= limit:
        head = f"grows as O({found.order}), within O({limit})"
        outcome = "passed"
    elif found.order == "?":
        head = f"no growth class fits the counts, so none is within O({limit})"
        outcome = "failed"
    else:
        head = f"grows as O({found.order}), faster than the limit O({limit})"
        outcome = "failed"
    text = "\n".join([f'{MARKER}("{limit}", over="{case.over}"): {head}', *table, f"fit: {found}"])
    return Verdict(group, outcome, head, text, found, case.limit)


def report_verdicts(
    config: pytest.Config, verdicts: Iterable[Verdict], cases: Iterable[Case]
) -> None:
    """Each verdict as a test's reports, through pytest's hooks."""
    where = {case.group: case for case in cases}
    for verdict in verdicts:
        case = where[verdict.group]
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
