"""`pytest-bytecount compare|show`: reports read back outside pytest.

Exit codes: 0 fine, 1 regressions found (`compare`), 2 bad input, which is
reported in one line on stderr, never with a traceback.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from . import __version__
from .compare import ChangeKind, compare, hash_seed_warning
from .render import summary
from .render.compare import render_json, render_markdown, render_text
from .report import ReportError, load_report
from .verdict import parse_tolerance

PROG: Final = "pytest-bytecount"
OK: Final = 0
REGRESSED: Final = 1
BAD_INPUT: Final = 2
FORMATS: Final = ("text", "markdown", "json")


class InputError(Exception):
    """Bad input that is not a report file, such as an option value."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the tool; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "compare":
            return _compare(args)
        return _show(args)
    except (ReportError, InputError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return BAD_INPUT


def _parser() -> argparse.ArgumentParser:
    # prog is fixed so that `python -m pytest_bytecount` names itself the same.
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Read the JSON reports that `pytest --bytecount-report=PATH` writes.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    compare_ = commands.add_parser(
        "compare",
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
    return parser


def _compare(args: argparse.Namespace) -> int:
    try:
        tolerance = parse_tolerance(args.tolerance)
    except ValueError as exc:
        raise InputError(f"--tolerance: {exc}") from None
    old, new = load_report(args.old), load_report(args.new)
    if old.tag != new.tag:
        raise InputError(
            f"{old.path} holds counts of {old.tag} and {new.path} of {new.tag}: "
            "counts compare only between reports of the same interpreter"
        )
    warning = hash_seed_warning(
        old.hash_seed, new.hash_seed, old_name=str(old.path), new_name=str(new.path)
    )
    if warning is not None:
        print(f"{PROG}: warning: {warning}", file=sys.stderr)
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


def _show(args: argparse.Namespace) -> int:
    report = load_report(args.report)
    verbosity: int = args.verbose - args.quiet
    lines = summary.render(report.records, stale=report.stale, verbosity=verbosity)
    print(_separator(f"bytecount ({report.tag})"))
    for line in lines:
        print(line.text)
    return OK


def _separator(title: str) -> str:
    """A title centred in dashes, as pytest's `write_sep` draws it."""
    width = shutil.get_terminal_size(fallback=(80, 24)).columns
    if width < 40:  # pytest's own floor for a usable terminal width
        width = 80
    fill = "-" * max((width - len(title) - 2) // 2, 1)
    line = f"{fill} {title} {fill}"
    return line + "-" if len(line) < width else line
