"""GitHub Actions: workflow-command annotations and the job summary (pure,
no pytest).

Over-budget and regressed tests become `::error` annotations at their
definition, which GitHub shows on the pull request's diff; improvements
become `::notice` lines. GitHub shows only so many annotations a step, so
each kind is capped, with one notice counting the rest. The job summary gets
the run's table in `pytest-bytecount compare --format markdown`'s layout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from ..compare import Change
from ..records import TestRecord
from ..verdict import PROBLEMS, Status, change_percent
from .compare import MOST_MARKDOWN_BYTES, render_markdown
from .numbers import signed_percent
from .text import escape_controls

#: Annotations of one kind printed before the rest are only counted.
MOST_ANNOTATIONS: Final = 10
#: GitHub refuses a step summary over 1 MiB; the table is cut well under,
#: as `compare --format markdown` cuts it.
MOST_SUMMARY_BYTES: Final = MOST_MARKDOWN_BYTES
TITLE: Final = "bytecount"

#: Where a test is defined: file (as the annotation names it) and line.
Location = tuple[str, int]


def escape_data(text: str) -> str:
    """A workflow command's message, escaped as GitHub documents."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value (`file=`, `title=`), escaped."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(level: str, message: str, location: Location | None = None) -> str:
    """`::error file=F,line=N,title=bytecount::MESSAGE`."""
    properties = []
    if location is not None:
        properties += [f"file={escape_property(location[0])}", f"line={location[1]}"]
    properties.append(f"title={escape_property(TITLE)}")
    return f"::{level} {','.join(properties)}::{escape_data(message)}"


def annotation_lines(records: Sequence[TestRecord], locations: Mapping[str, Location]) -> list[str]:
    """Errors for tests over budget or regressed, notices for improvements,
    each kind capped at `MOST_ANNOTATIONS` and then counted in one notice."""
    problems = [r for r in records if r.status in PROBLEMS]
    improved = [r for r in records if r.status is Status.IMPROVED]
    lines = []
    for level, chosen, rest in (
        ("error", problems, "more tests over budget or regressed"),
        ("notice", improved, "more tests improved"),
    ):
        ordered = sorted(chosen, key=lambda r: r.nodeid)
        lines += [
            command(level, _message(r), locations.get(r.nodeid)) for r in ordered[:MOST_ANNOTATIONS]
        ]
        left = len(ordered) - MOST_ANNOTATIONS
        if left > 0:
            lines.append(command("notice", f"{left:,} {rest}: see the job summary"))
    return lines


def _message(record: TestRecord) -> str:
    count = record.instructions
    # Escaped as everywhere else; escape_data would keep a line break in it.
    nodeid = escape_controls(record.nodeid)
    if record.status is Status.REGRESSED and record.baseline is not None:
        return (
            f"{nodeid}: {count:,} instructions, up from {record.baseline:,} in the "
            f"baseline{_percent(count, record.baseline)}"
        )
    assert record.limit is not None, "over budget or improved without a limit"
    limit = record.limit.instructions
    if record.status is Status.IMPROVED:
        return (
            f"{nodeid}: {count:,} instructions, under its budget of {limit:,}"
            f"{_percent(count, limit)}: ratchet it down with --bytecount-update"
        )
    return f"{nodeid}: {count:,} instructions, over its limit of {limit:,}" + _percent(count, limit)


def _percent(count: int, reference: int) -> str:
    return f" ({signed_percent(change_percent(count, reference))})" if reference else ""


def job_summary(changes: Sequence[Change], *, old_label: str, tolerance: float) -> str:
    """The run's table for `$GITHUB_STEP_SUMMARY`, in `compare --format
    markdown`'s layout: `changes` against the baseline report where there is
    one (`old_label` names it), else each test against its limit
    (`records.against_limits`); cut, as that is, under `MOST_SUMMARY_BYTES`."""
    return render_markdown(changes, old_label=old_label, new_label="this run", tolerance=tolerance)
