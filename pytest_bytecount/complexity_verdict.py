"""A `max_complexity` group's verdict (SPEC §13), pure, no pytest: the
cases of a test parametrized over a size, fitted together, held against the
marker's limit and the class recorded in the budgets file; and the verdict
as the JSON report carries it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, Final, Literal

from .complexity import Fit, Order, fit

MARKER: Final = "max_complexity"


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
    #: How many cases the group has in this run's collection, selected or
    #: not: a group with a case that did not run is not fitted.
    members: int = 0

    def to_text(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_text(cls, text: str) -> Case:
        return cls(**json.loads(text))


@dataclass(frozen=True)
class Verdict:
    """A group's fit against its limit and its recorded class: `outcome` is
    passed, failed or skipped (a case without a count); `headline` says why
    in a line, `text` in full."""

    group: str
    outcome: Literal["passed", "failed", "skipped"]
    headline: str
    text: str
    fit: Fit | None
    limit: str
    over: str
    #: The class the budgets file holds for the group, if any.
    recorded: str | None = None
    #: The group's cases, by size: node id, size, count (None if not measured).
    cases: tuple[tuple[str, int, int | None], ...] = ()
    #: How many cases the group has in the run's collection, run or not.
    members: int = 0

    @property
    def order(self) -> Order | None:
        """The fitted class, None when nothing was fitted or none fits."""
        return self.fit.order if self.fit is not None and self.fit.best is not None else None

    def to_json(self) -> dict[str, Any]:
        """The verdict as the report's `complexity` entries hold it."""
        best = self.fit.best if self.fit is not None else None
        fitted = None
        if self.fit is not None and best is not None:
            fitted = {
                "order": str(best.order),
                "text": str(self.fit),
                "terms": list(best.terms),
                # 12 significant digits: 10, not the 10.000000000000165 of a solve.
                "coefficients": [float(f"{c:.12g}") for c in best.coefficients],
                "base": float(f"{best.base:.12g}") if best.base is not None else None,
                "error": best.error,
            }
        return {
            "nodeid": self.group,
            "over": self.over,
            "limit": self.limit,
            "recorded": self.recorded,
            "outcome": self.outcome,
            "message": self.headline,
            "cases": [nodeid for nodeid, _, _ in self.cases],
            "sizes": [size for _, size, _ in self.cases],
            "counts": [count for _, _, count in self.cases],
            "members": self.members,
            "fit": fitted,
        }


def judge(
    cases: Mapping[str, Case],
    counts: Mapping[str, int],
    *,
    recorded: Mapping[str, str] = {},
    budgets_file: str = "bytecount.toml",
    updating: bool = False,
) -> list[Verdict]:
    """Each group's verdict, from its cases (by node id), the counts of
    those that were measured, and the classes the budgets file `recorded`.
    While `updating` (--bytecount-update), growth past a recorded class is
    forgiven, as budgets are: the new class is what gets recorded."""
    groups: dict[str, list[tuple[str, Case]]] = {}
    for nodeid, case in cases.items():
        groups.setdefault(case.group, []).append((nodeid, case))
    verdicts = []
    # By name: the same order however the cases arrived (pytest-xdist).
    for group, members in sorted(groups.items()):
        members.sort(key=lambda member: (member[1].size, member[0]))
        first = members[0][1]
        shown = tuple((nodeid, case.size, counts.get(nodeid)) for nodeid, case in members)
        found = Verdict(
            group,
            "skipped",
            "",
            "",
            None,
            first.limit,
            first.over,
            recorded.get(group),
            shown,
            max(first.members, len(members)),
        )
        if len(members) < first.members:
            missing = first.members - len(members)
            were = "was" if missing == 1 else "were"
            text = f"not fitted: {missing} of its {first.members} cases {were} not run or measured"
            verdicts.append(_with(found, "skipped", text, text))
            continue
        try:
            fitted = fit([case.size for _, case in members], [count or 0 for _, _, count in shown])
        except ValueError as exc:
            text = f"not fitted: {exc}"
            verdicts.append(_with(found, "failed", text, f"{MARKER}: {text}"))
            continue
        verdicts.append(_judged(found, fitted, budgets_file, updating))
    return verdicts


def _with(
    verdict: Verdict, outcome: Any, headline: str, text: str, fitted: Fit | None = None
) -> Verdict:
    return replace(verdict, outcome=outcome, headline=headline, text=text, fit=fitted)


def _judged(verdict: Verdict, found: Fit, budgets_file: str, updating: bool) -> Verdict:
    limit, order = Order(verdict.limit), found.order
    recorded = Order(verdict.recorded) if verdict.recorded is not None else None
    outcome: Literal["passed", "failed"] = "failed"
    if order == "?":
        head = f"no growth class fits the counts, so none is within O({limit})"
    elif order > limit:
        head = f"grows as O({order}), faster than the limit O({limit})"
    elif recorded is not None and order > recorded and not updating:
        head = f"grows as O({order}), faster than O({recorded}) as {budgets_file} records it"
    elif recorded is not None and order < recorded:
        head = (
            f"grows as O({order}), slower than O({recorded}) as {budgets_file} records it "
            "(record it with --bytecount-update)"
        )
        outcome = "passed"
    else:
        head = f"grows as O({order}), within O({limit})"
        outcome = "passed"
    rows = zip(found.sizes, found.counts, strict=True)
    table = [f"  {verdict.over:>10}  instructions"]
    table += [f"  {size:>10,}  {count:>12,}" for size, count in rows]
    text = "\n".join(
        [f'{MARKER}("{limit}", over="{verdict.over}"): {head}', *table, f"fit: {found}"]
    )
    return _with(verdict, outcome, head, text, found)


def recorded_classes(verdicts: Sequence[Verdict]) -> dict[str, str]:
    """What --bytecount-update records: the class of each group that passed."""
    return {
        verdict.group: str(verdict.order)
        for verdict in verdicts
        if verdict.outcome == "passed" and verdict.order is not None
    }


def rejudged(entries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One group's report entry from several reports' (shards of a suite):
    the first that was judged, else the group judged again on every case
    the entries measured, if together they measured them all."""
    judged = next((entry for entry in entries if entry["outcome"] != "skipped"), None)
    if judged is not None:
        return dict(judged)
    first = entries[0]
    members = max(int(entry.get("members", 0)) for entry in entries)
    counts: dict[str, int] = {}
    cases: dict[str, Case] = {}
    for entry in entries:
        for nodeid, size, count in zip(
            entry["cases"], entry["sizes"], entry["counts"], strict=True
        ):
            if count is not None:
                counts[nodeid] = count
                cases[nodeid] = Case(
                    first["nodeid"], size, first["limit"], first["over"], "", 0, "", members
                )
    if not cases or len(cases) < members:
        return dict(first)
    recorded = {first["nodeid"]: first["recorded"]} if first.get("recorded") else {}
    return judge(cases, counts, recorded=recorded)[0].to_json()


def growth_classes(entries: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """What `pytest-bytecount record` records from reports' `complexity`
    entries: the class of each group that passed, the fastest-growing where
    reports disagree."""
    found: dict[str, str] = {}
    for entry in entries:
        fitted = entry["fit"]
        if entry["outcome"] == "passed" and fitted is not None:
            kept = found.get(entry["nodeid"])
            if kept is None or Order(fitted["order"]) > kept:
                found[entry["nodeid"]] = fitted["order"]
    return found
