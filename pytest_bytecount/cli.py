"""`pytest-bytecount compare|show|merge|record|list`: reports read back
outside pytest. A report is named by its file, or by the name of a run
saved with `--bytecount-autosave` (`history.py`).

Exit codes: 0 fine, 1 regressions found (`compare`), 2 bad input, which is
reported in one line on stderr, never with a traceback.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final, TypeVar

from . import __version__, history
from .budgets import Budgets, recording, write_merged
from .budgets_toml import BudgetsError
from .compare import ChangeKind, compare, hash_seed_mismatch
from .complexity_verdict import growth_classes
from .render import summary
from .render.compare import render_json, render_markdown, render_text
from .render.text import escape_controls, natural_key
from .report import write_json
from .report_loader import LoadedReport, ReportError, load_report
from .shards import MergeError, merge, one_interpreter, stale_over
from .verdict import parse_tolerance

PROG: Final = "pytest-bytecount"
OK: Final = 0
REGRESSED: Final = 1
BAD_INPUT: Final = 2
FORMATS: Final = ("text", "markdown", "json")

T = TypeVar("T")


class InputError(Exception):
    """Bad input that is not a report file, such as an option value."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the tool; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "compare":
            return _compare(args)
        if args.command == "merge":
            return _merge(args)
        if args.command == "record":
            return _record(args)
        if args.command == "list":
            return _list(args)
        return _show(args)
    except (ReportError, InputError, MergeError, BudgetsError) as exc:
        # A node id or path in the message is shown on the one line.
        print(f"{PROG}: error: {escape_controls(str(exc))}", file=sys.stderr)
        return BAD_INPUT


def _parser() -> argparse.ArgumentParser:
    # prog is fixed so that `python -m pytest_bytecount` names itself the same.
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Read the JSON reports that `pytest --bytecount-report=PATH` writes.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # Every command that reads reports takes saved runs' names as well.
    saved = argparse.ArgumentParser(add_help=False)
    saved.add_argument(
        "--history",
        metavar="DIR",
        type=Path,
        default=Path(history.DIRECTORY),
        help=(
            "where runs saved by --bytecount-autosave are, to name them instead of files "
            f"(default: {history.DIRECTORY} in the current directory)"
        ),
    )

    compare_ = commands.add_parser(
        "compare",
        parents=[saved],
        help="per-test changes between two reports; exit 1 on regressions",
        description=(
            "Compare the counts of two reports of the same interpreter, regressions first. "
            "Exits 1 when a test got dearer beyond the tolerance, 2 on bad input."
        ),
    )
    compare_.add_argument("old", metavar="OLD.json", type=Path, help="the baseline report")
    compare_.add_argument("new", metavar="NEW.json", type=Path, help="the report to judge")
    compare_.add_argument(
        "--tolerance",
        metavar="PCT",
        default="0%",
        help="how far a count may grow before it is a regression (e.g. 2%%, 0.5); default 0%%",
    )
    compare_.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="text for a terminal, markdown for a CI job summary or PR comment, json for tools",
    )
    compare_.add_argument(
        "-v", "--verbose", action="store_true", help="text: list unchanged tests as well"
    )

    show = commands.add_parser(
        "show",
        parents=[saved],
        help="print a report as the terminal summary would",
        description="Print a report as pytest's terminal summary shows it.",
    )
    show.add_argument("report", metavar="REPORT.json", type=Path, help="the report")
    verbosity = show.add_mutually_exclusive_group()
    verbosity.add_argument(
        "-v", "--verbose", action="count", default=0, help="list every measured test"
    )
    verbosity.add_argument(
        "-q", "--quiet", action="count", default=0, help="list only over budget and regressed"
    )

    merge_ = commands.add_parser(
        "merge",
        parents=[saved],
        help="combine the reports of a suite's shards into one",
        description=(
            "Combine the reports of shards of one suite (CI jobs of a matrix, pytest-split, "
            "pytest-shard) into one report, as if one run had written it. Exits 2, writing "
            "nothing, for reports of two interpreters or one test with two counts."
        ),
    )
    merge_.add_argument(
        "-o", "--output", metavar="OUT.json", type=Path, required=True, help="the merged report"
    )
    merge_.add_argument("reports", metavar="IN.json", type=Path, nargs="+", help="shard reports")

    record = commands.add_parser(
        "record",
        parents=[saved],
        help="write budgets from reports, as --bytecount-update would",
        description=(
            "Write the budgets of the reports' interpreter into the budgets file, as "
            "`pytest --bytecount-update` would have after one run of the same tests. "
            "A test in several reports (repeated runs) gets its highest count and a "
            "tolerance covering how much it varied. Exits 2, writing nothing, on bad input."
        ),
    )
    record.add_argument("reports", metavar="REPORT.json", type=Path, nargs="+", help="reports")
    record.add_argument(
        "--budgets",
        metavar="PATH",
        type=Path,
        default=Path("bytecount.toml"),
        help="the budgets file (default: bytecount.toml in the current directory)",
    )
    record.add_argument(
        "--prune",
        action="store_true",
        help="drop the budgets the reports judge stale (their tests no longer exist)",
    )
    commands.add_parser(
        "list",
        parents=[saved],
        help="the runs saved by --bytecount-autosave",
        description=(
            "List the runs that pytest --bytecount-autosave saved, oldest first: the name "
            "by which compare, show, merge and record take each, its tests and instructions."
        ),
    )
    return parser


def _compare(args: argparse.Namespace) -> int:
    try:
        tolerance = parse_tolerance(args.tolerance)
    except ValueError as exc:
        raise InputError(f"--tolerance: {exc}") from None
    old, new = _load(args.old, args), _load(args.new, args)
    if old.tag != new.tag:
        raise InputError(
            f"{old.path} holds counts of {old.tag} and {new.path} of {new.tag}: "
            "counts compare only between reports of the same interpreter"
        )
    warning = hash_seed_mismatch(
        old.hash_seed, new.hash_seed, old_name=str(old.path), new_name=str(new.path)
    )
    if warning is not None:
        print(f"{PROG}: warning: {escape_controls(warning)}", file=sys.stderr)
    changes = compare(old.counts, new.counts, tolerance)
    if args.format == "markdown":
        output = render_markdown(
            changes, old_label=str(old.path), new_label=str(new.path), tolerance=tolerance
        )
    elif args.format == "json":
        output = render_json(changes, tolerance)
    else:
        output = render_text(changes, verbose=args.verbose)
    sys.stdout.write(output)
    regressed = any(change.kind is ChangeKind.REGRESSED for change in changes)
    return REGRESSED if regressed else OK


def _loaded(paths: Sequence[Path], args: argparse.Namespace) -> list[LoadedReport]:
    """Every report read and checked, all of one interpreter."""
    reports = [_load(path, args) for path in paths]
    one_interpreter(reports)
    first = reports[0]
    for report in reports[1:]:
        if report.version != first.version:
            warning = (
                f"{first.path} was made with Python {first.version} and "
                f"{report.path} with {report.version}: counts may differ between them"
            )
            print(f"{PROG}: warning: {escape_controls(warning)}", file=sys.stderr)
    return reports


def _written(path: Path, write: Callable[[], T]) -> T:
    """Run `write`; a file that cannot be written is bad input, not a traceback."""
    try:
        return write()
    except OSError as exc:
        raise InputError(f"{path}: cannot write it: {exc.strerror or exc}") from None


def _merge(args: argparse.Namespace) -> int:
    reports = _loaded(args.reports, args)
    data = merge(reports, plugin_version=__version__)
    _written(args.output, lambda: write_json(args.output, data))
    tests, stale = data["totals"]["measured"], len(data["stale"])
    print(
        f"merged {len(reports)} reports of {escape_controls(data['interpreter']['tag'])} "
        f"into {args.output}: "
        f"{tests:,} test{'' if tests == 1 else 's'}, "
        f"{stale:,} stale budget{'' if stale == 1 else 's'}"
    )
    return OK


def _record(args: argparse.Namespace) -> int:
    reports = _loaded(args.reports, args)
    tag = reports[0].tag
    budgets = Budgets.load(args.budgets)  # a bad file is refused before anything is written
    # A `max_complexity` case's limit is its group's class, as in an update run.
    cases = {case for report in reports for entry in report.complexity for case in entry["cases"]}
    recorded = recording(
        record for report in reports for record in report.records if record.nodeid not in cases
    )
    classes = growth_classes(entry for report in reports for entry in report.complexity)
    prune = stale_over(reports) if args.prune else []
    changes = budgets.changes(
        tag, recorded.counts, remove=prune, tolerances=recorded.tolerances, classes=classes
    )
    # Applied under the file's lock to the file as it is then: a pytest
    # --bytecount-update or another record writing meanwhile keeps its budgets.
    written = _written(args.budgets, lambda: write_merged(args.budgets, [changes]))
    changed = written.written
    before = written.before.table(tag)
    new = sum(1 for nodeid in recorded.counts if nodeid not in before)
    moved = sum(
        1
        for nodeid, count in recorded.counts.items()
        if nodeid in before and before[nodeid] != count
    )
    pruned = sum(1 for nodeid in prune if nodeid in before)
    count = len(recorded.counts)
    print(
        f"recorded {count:,} budget{'' if count == 1 else 's'} of {escape_controls(tag)} "
        f"in {args.budgets}: "
        f"{new:,} new, {moved:,} changed, {pruned:,} pruned"
        + (
            f", and {len(classes):,} growth class{'' if len(classes) == 1 else 'es'}"
            if classes
            else ""
        )
        + ("" if changed else " (file unchanged)")
    )
    for nodeid, (low, high) in sorted(recorded.spreads.items()):
        print(
            f"  varied between runs: {escape_controls(nodeid)}  {low:,} to {high:,}, "
            f"budget {high:,} with tolerance {recorded.tolerances[nodeid]}"
        )
    for nodeid, reason in sorted(recorded.refused.items()):
        # A node id UTF-8 cannot encode is one reason: escaped, it prints.
        print(f"  not budgeted: {escape_controls(nodeid)}: {reason}")
    return OK


def _show(args: argparse.Namespace) -> int:
    report = _load(args.report, args)
    verbosity: int = args.verbose - args.quiet
    # The report lists its tests by node id as strings: `[100]` after `[1000]`.
    records = sorted(report.records, key=lambda record: natural_key(record.nodeid))
    grouped = frozenset(case for entry in report.complexity for case in entry["cases"])
    lines = summary.render(records, stale=report.stale, verbosity=verbosity, grouped=grouped)
    print(_separator(f"bytecount ({escape_controls(report.tag)})"))
    for line in lines:
        print(line.text)
    for entry in report.complexity:  # as the run's summary shows each group
        print(summary.group_line(entry["outcome"], entry["nodeid"], entry["message"]))
    return OK


def _load(path: Path, args: argparse.Namespace) -> LoadedReport:
    """The report at `path`; else the saved run that `path` names."""
    directory: Path = args.history
    if not path.exists() and history.runs(directory):
        try:
            path = history.find(directory, str(path)).path
        except history.HistoryError as exc:
            raise InputError(f"no file {path}, and {exc}") from None
    return load_report(path)


def _list(args: argparse.Namespace) -> int:
    """The saved runs, oldest first: name, tests and instructions."""
    directory: Path = args.history
    saved = history.runs(directory)
    if not saved:
        print(f"no saved runs in {directory} (pytest --bytecount-autosave saves them)")
        return OK
    width = max(len(run.name) for run in saved)
    print(f"{'run':<{width}}  {'tests':>7}  {'instructions':>15}")
    for run in saved:
        try:
            report = load_report(run.path)
        except ReportError as exc:
            print(f"{run.name:<{width}}  unreadable: {exc}")
            continue
        total = sum(record.instructions for record in report.records)
        print(f"{run.name:<{width}}  {len(report.records):>7,}  {total:>15,}")
    return OK


def _separator(title: str) -> str:
    """A title centred in dashes, as pytest's `write_sep` draws it."""
    width = shutil.get_terminal_size(fallback=(80, 24)).columns
    if width < 40:  # pytest's own floor for a usable terminal width
        width = 80
    fill = "-" * max((width - len(title) - 2) // 2, 1)
    line = f"{fill} {title} {fill}"
    return line + "-" if len(line) < width else line
