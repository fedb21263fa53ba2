"""Reports of a suite split over several CI jobs, put back together (pure,
no pytest): `pytest-bytecount merge` makes one report of them as if one run
had written it, and `pytest-bytecount record` judges stale budgets over them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .complexity_verdict import rejudged
from .records import TestRecord
from .report import build_report
from .report_loader import LoadedReport


class MergeError(Exception):
    """The reports cannot be taken together; the message names the files and why."""


def one_interpreter(reports: Sequence[LoadedReport]) -> None:
    """`MergeError` unless every report holds counts of the first one's
    interpreter: counts of two are never taken together."""
    first = reports[0]
    for report in reports[1:]:
        if report.tag != first.tag:
            raise MergeError(
                f"{first.path} holds counts of {first.tag} and {report.path} of {report.tag}: "
                "reports of one interpreter only"
            )


def stale_over(reports: Sequence[LoadedReport]) -> list[str]:
    """Budgets stale over all the reports: stale in one of them (which could
    judge its file) and seen by none (run, measured, or collected by a shard
    that did not run it)."""
    stale = {nodeid for report in reports for nodeid in report.stale}
    seen = {record.nodeid for report in reports for record in report.records}
    for report in reports:
        seen.update(report.budgets_seen or ())
    return sorted(stale - seen)


def merge(reports: Sequence[LoadedReport], *, plugin_version: str) -> dict[str, Any]:
    """One report of shards of a suite: tests united, totals recomputed,
    stale budgets judged over all of them. `MergeError` for reports of two
    interpreters, or one test with two counts."""
    if not reports:
        raise MergeError("no reports to merge")
    one_interpreter(reports)
    first = reports[0]
    tests: dict[str, tuple[TestRecord, LoadedReport]] = {}
    for report in reports:
        for record in report.records:
            found = tests.get(record.nodeid)
            if found is None:
                tests[record.nodeid] = (record, report)
            elif found[0].instructions != record.instructions:
                raise MergeError(
                    f"{record.nodeid} counts {found[0].instructions:,} in {found[1].path} and "
                    f"{record.instructions:,} in {report.path}: shards must not share tests "
                    "(to record budgets from repeated runs, pass them to `record`)"
                )
    seeds = {report.hash_seed for report in reports}
    # A seed unknown (an older report) or different between shards cannot
    # be claimed for the whole: "random" says counts may differ for it.
    seed = seeds.pop() if len(seeds) == 1 else None
    seen = {nodeid for report in reports for nodeid in report.budgets_seen or ()}
    # A `max_complexity` group whose cases were split between shards was
    # skipped in each: judged here, on the cases of all of them.
    groups: dict[str, list[dict[str, Any]]] = {}
    for report in reports:
        for entry in report.complexity:
            groups.setdefault(entry["nodeid"], []).append(entry)
    return build_report(
        [record for record, _ in tests.values()],
        plugin_version=plugin_version,
        stale=stale_over(reports),
        tolerance=max(report.tolerance for report in reports),
        hash_seed=seed if seed is not None else "random",
        budgets_seen=seen,
        interpreter=(first.tag, first.version),
        complexity=[rejudged(entries) for entries in groups.values()],
    )
