"""What a run prints: its header line, and its summary at the end (the
verdicts, GitHub annotations, warnings about single tests, explanations,
and what the run wrote).

The text itself is made by `render/`; this module decides what a run has
to say and hands it to pytest's terminal reporter.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from . import hypothesis_tests
from .determinism import hash_seed_warning
from .engine import CountingUnavailable
from .run import Run


def header_lines(run: Run) -> list[str]:
    """The lines under pytest's header: the engine, budgets, tolerance and
    seeding of this run, and which report it compares with."""
    settings = run.settings
    if settings.disabled:
        return ["bytecount: disabled (--bytecount-disable)"]
    try:
        engine = run.meter.engine
    except CountingUnavailable as exc:
        return [f"bytecount: unavailable: {exc}"]
    path = settings.budgets_path
    budgets = (
        f"{len(run.budget_table):,} budgets in {run.shown_path(path)}"
        if path.exists()
        else "no budgets file"
    )
    if run.seeds_random:
        seeding = "random seeded per test"
    elif run.randomly:
        seeding = "random seeded by pytest-randomly"
    else:
        seeding = "random not seeded (bytecount_seed_random = false)"
    if run.config.pluginmanager.has_plugin(hypothesis_tests.PYTEST_PLUGIN):
        seeding += (
            "; hypothesis examples repeatable"
            if settings.hypothesis == hypothesis_tests.REPEATABLE
            else f"; hypothesis left as it is ({hypothesis_tests.INI_KEY} = "
            f"{hypothesis_tests.LEAVE})"
        )
    lines = [
        f"bytecount: {run.tag}, counting with {engine.name} (core: {engine.core}); {budgets}, "
        f"tolerance {settings.tolerance:g}%; {seeding}"
    ]
    if run.baseline is not None and settings.compare_path is not None:
        # Which run a bare --bytecount-compare took, said before any verdict.
        shown = run.shown_path(settings.compare_path)
        lines.append(f"bytecount: comparing with {shown} ({len(run.baseline.records):,} tests)")
    if run.hash_seed == "random":
        lines.append(f"bytecount: {hash_seed_warning()}")
    return lines


def write_summary(run: Run, terminalreporter: pytest.TerminalReporter) -> None:
    """The run's part of pytest's terminal summary."""
    for error in run.write_errors:
        terminalreporter.write_line(error, red=True)
    _verdicts(run, terminalreporter)
    for wrote in run.written:
        terminalreporter.write_line(wrote)


def _verdicts(run: Run, terminalreporter: pytest.TerminalReporter) -> None:
    settings = run.settings
    if settings.disabled or not (run.records or run.stale or settings.measure_all):
        return
    ran = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")
    if not run.records and not any(terminalreporter.stats.get(key) for key in ran):
        return  # --collect-only, --fixtures, everything deselected: nothing to say
    from .render import summary  # here: a run that measured nothing prints nothing
    from .render.text import escape_controls

    records = list(run.records.values())
    terminalreporter.write_sep("-", f"bytecount ({run.tag})")
    lines = summary.render(
        records,
        stale=run.stale,
        verbosity=run.config.get_verbosity(),
        budgets_file=run.shown_path(settings.budgets_path),
        update=summary.Update(*run.updated) if run.updated is not None else None,
        grouped=frozenset(run.cases),
    )
    for line in lines:
        markup = {line.colour: True} if line.colour else {}
        terminalreporter.write_line(line.text, **markup)
    colours = {"passed": "green", "failed": "red", "skipped": "yellow"}
    for verdict in run.verdicts:  # a line per group of max_complexity cases
        terminalreporter.write_line(
            summary.group_line(verdict.outcome, verdict.group, verdict.headline),
            **{colours[verdict.outcome]: True},
        )
    if settings.github:
        from .render.github import annotation_lines

        for command in annotation_lines(records, _github_locations(run)):
            terminalreporter.write_line(command)
    for nodeid, reason in run.extra("paths_lost").items():
        terminalreporter.write_line(
            f"call paths not kept: {escape_controls(nodeid)}: {reason}", yellow=True
        )
    for nodeid, reason in run.extra("unrepeated").items():
        terminalreporter.write_line(
            f"--bytecount-repeat could not check {escape_controls(nodeid)}: {reason}",
            yellow=True,
        )
    explanations = run.extra("explain")
    if explanations and settings.explain:
        terminalreporter.write_sep("-", "bytecount explain")
        for nodeid, text in explanations.items():
            terminalreporter.write_line("")
            terminalreporter.write_line(escape_controls(nodeid), bold=True)
            for line_text in text.rstrip("\n").splitlines():
                terminalreporter.write_line(f"  {line_text}" if line_text else "")


def _github_locations(run: Run) -> dict[str, tuple[str, int]]:
    """Each test's file relative to GITHUB_WORKSPACE when under it (what
    GitHub matches to the diff), else to the rootdir."""
    workspace = os.environ.get("GITHUB_WORKSPACE", "")
    if not workspace:
        return dict(run.locations)
    root = Path(workspace).resolve()
    located = {}
    for nodeid, (file, line) in run.locations.items():
        path = (run.config.rootpath / file).resolve()
        # Outside the workspace: as the rootdir names it.
        located[nodeid] = (
            (path.relative_to(root).as_posix(), line) if path.is_relative_to(root) else (file, line)
        )
    return located
