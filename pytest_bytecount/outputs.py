"""Everything a run writes at its end: the budgets file (with
--bytecount-update), the JSON report, the profiles, the HTML page, the run
history and GitHub's job summary.

Each file is written whole or not at all (`files.py`); one that cannot be
written is a one-line error in the summary and exit status 4, and the
others are still written. A run stopped before any test ran leaves the
files as they were.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from . import __version__
from .budgets import Changes, Recording, recording, write_merged
from .complexity_verdict import recorded_classes
from .files import write_atomically
from .report import build_report, json_text, write_json
from .run import Run
from .verdict import PROBLEMS, Status


class Outputs:
    """Writes a run's files at its end, and says in the run what it wrote."""

    def __init__(self, run: Run) -> None:
        self.run = run

    def finish(self, session: pytest.Session) -> None:
        """Judge the run as a whole (stale budgets, the exit status), then
        write its files."""
        run = self.run
        settings = run.settings
        if not settings.disabled:
            run.stale = run.collection.stale(run.budget_table, run.budgets.growth_classes(run.tag))
        regressed = any(r.status is Status.REGRESSED for r in run.records.values())
        if regressed and session.exitstatus == pytest.ExitCode.OK:
            # Decided here, not in the summary hook, which does not always run.
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        interrupted = session.exitstatus == pytest.ExitCode.INTERRUPTED
        if settings.update and not settings.disabled and not interrupted:
            self._write(session, "budgets file", settings.budgets_path, self._update_budgets)
        # A run stopped before it measured anything (a collection error,
        # --collect-only) has no counts: an empty report would read as a
        # suite whose tests all went away, so its files are left as they are.
        nothing_ran = not run.records and (interrupted or run.config.option.collectonly)
        not_written = "no test ran" if nothing_ran else None
        outputs = (
            ("--bytecount-report", settings.report_path, self._write_report, not_written),
            ("--bytecount-profile", settings.profile_dir, self._write_profiles, not_written),
            ("--bytecount-html", settings.html_path, self._write_html, not_written),
            (
                "--bytecount-autosave",
                settings.history_dir if settings.autosave else None,
                self._autosave,
                _not_saved(run, interrupted),
            ),
        )
        for what, path, write, skipped in outputs:
            if path is None:
                continue
            if skipped is not None:
                verb = "save a run in" if what == "--bytecount-autosave" else "write"
                run.written.append(f"did not {verb} {run.shown_path(path)}: {skipped}")
            else:
                self._write(session, what, path, write)
        summary_file = os.environ.get("GITHUB_STEP_SUMMARY", "")
        if settings.github and summary_file and run.records:
            self._write(session, "GITHUB_STEP_SUMMARY", Path(summary_file), self._write_job_summary)

    def _write(
        self, session: pytest.Session, what: str, path: Path, write: Callable[[], str]
    ) -> None:
        """Write one file, and say so in the summary; a file that cannot be
        written is a one-line error (exit 4), and the others are still written."""
        try:
            done = write()
        except (OSError, UnicodeError, ValueError) as exc:
            session.exitstatus = pytest.ExitCode.USAGE_ERROR
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            # Printed by the summary, on a line of its own: here, it would be
            # glued to the end of pytest's progress line.
            self.run.write_errors.append(f"ERROR: {what}: cannot write {path}: {reason}")
        else:
            self.run.written.append(f"wrote {self.run.shown_path(path)}: {done}")

    def _update_budgets(self) -> str:
        run = self.run
        # A `max_complexity` case's limit is its group's growth class, as a
        # `max_instructions` marker's is its own: no budget is recorded for it.
        recorded = recording(r for r in run.records.values() if r.nodeid not in run.cases)
        prune = run.stale if run.collection.whole_suite_selected() else ()
        # This run's changes to what it read at its start, applied under the
        # file's lock to the file as it is now: runs writing at once (two
        # pytest processes, tox -p) keep each other's budgets.
        classes = recorded_classes(run.verdicts)
        changes = run.budgets.changes(
            run.tag,
            recorded.counts,
            remove=prune,
            tolerances=recorded.tolerances,
            classes=classes,
        )
        written = write_merged(run.settings.budgets_path, [changes])
        run.updated = (frozenset(recorded.counts) | frozenset(classes), changes.removed)
        return _update_text(recorded, classes, changes, written.written)

    @functools.cached_property
    def _report(self) -> dict[str, Any]:
        """The report of the run, built once at its end for each file it goes to."""
        run = self.run
        return build_report(
            list(run.records.values()),
            plugin_version=__version__,
            stale=run.stale,
            tolerance=run.settings.tolerance,
            hash_seed=run.hash_seed,
            budgets_seen=run.collection.seen(run.budget_table),
            complexity=[verdict.to_json() for verdict in run.verdicts],
        )

    def _write_report(self) -> str:
        assert self.run.settings.report_path is not None
        write_json(self.run.settings.report_path, self._report)
        return plural(len(self.run.records), "test")

    def _autosave(self) -> str:
        from . import history

        run = self.run
        saved, pruned = history.save(
            run.settings.history_dir,
            json_text(self._report),
            tag=run.tag,
            commit=history.git_commit(run.config.rootpath),
            keep=run.settings.autosave_keep,
        )
        removed = f"; {plural(pruned, 'older run')} of {run.tag} removed" if pruned else ""
        return f"saved run {saved.name}, {plural(len(run.records), 'test')}{removed}"

    def _write_profiles(self) -> str:
        from .render.profiles import SPEEDSCOPE_FILE, file_names, speedscope

        run = self.run
        directory = run.settings.profile_dir
        assert directory is not None
        profiles = run.extra("folded")
        names = file_names(list(profiles))
        for nodeid, folded in profiles.items():
            write_atomically(directory / names[nodeid], folded)
        diffs = _write_differences(run, directory, profiles, names)
        data = speedscope(
            profiles,
            name=f"pytest-bytecount ({run.tag}): instructions per call path",
            exporter=f"pytest-bytecount {__version__}",
        )
        write_json(directory / SPEEDSCOPE_FILE, data)
        against = f", {plural(diffs, 'diff')} against the baseline" if diffs else ""
        return f"{plural(len(profiles), 'folded-stacks file')}{against} and {SPEEDSCOPE_FILE}"

    def _write_html(self) -> str:
        from .render import html, summary

        run = self.run
        assert run.settings.html_path is not None
        records = list(run.records.values())
        budgets_file = run.shown_path(run.settings.budgets_path)
        update = summary.Update(*run.updated) if run.updated is not None else None
        headline = summary.render(
            records,
            stale=run.stale,
            budgets_file=budgets_file,
            update=update,
            grouped=frozenset(run.cases),
        )[0].text
        details = (
            f"{run.tag} (Python {sys.version.split()[0]}) · pytest-bytecount {__version__} · "
            f"tolerance {run.settings.tolerance:g}% · hash seed {run.hash_seed} · "
            f"rootdir {run.config.rootpath}"
        )
        page = html.render(
            records,
            title=f"pytest-bytecount: {run.config.rootpath.name}",
            headline=headline,
            details=details,
            profiles=run.extra("folded"),
            explanations=run.extra("explain"),
            budgets_file=budgets_file,
            recorded=update.recorded if update is not None else frozenset(),
            detailed=html.DETAILED,
            verdicts=run.verdicts,
            sources=run.extra("source"),
            root=str(run.config.rootpath),
            baseline_stacks=_baseline_stacks(run),
            baseline_name=(
                run.shown_path(run.settings.compare_path) if run.settings.compare_path else ""
            ),
        )
        write_atomically(run.settings.html_path, page)
        return plural(len(records), "test")

    def _write_job_summary(self) -> str:
        from .compare import compare
        from .records import against_limits
        from .render.github import job_summary

        run = self.run
        baseline = run.baseline
        tolerance = run.settings.tolerance
        if baseline is not None:
            counts = {nodeid: record.instructions for nodeid, record in run.records.items()}
            changes = compare(baseline.counts, counts, tolerance)
            old_label = baseline.path.name
        else:
            changes, old_label = against_limits(run.records.values()), "budgets"
        text = job_summary(changes, old_label=old_label, tolerance=tolerance)
        # Appended, as GitHub asks: other steps' tools write there too.
        with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as summary:
            summary.write(text + "\n")
        return "the table appended to the job summary"


def _not_saved(run: Run, interrupted: bool) -> str | None:
    """Why this run is not one to keep in the history, which a bare
    --bytecount-compare would then take as the latest: or None."""
    if run.settings.disabled:
        return "counting was disabled"
    if interrupted:
        return "the run was interrupted"
    if not run.records:
        return "no test was measured"
    return None


def _update_text(
    recorded: Recording, classes: Mapping[str, str], changes: Changes, written: bool
) -> str:
    """What --bytecount-update did to the budgets file, for the summary."""
    left_out = "".join(
        f"; not budgeted: {nodeid!r}: {why}" for nodeid, why in sorted(recorded.refused.items())
    )
    what = plural(len(recorded.counts), "budget")
    if classes:
        what += f" and {plural(len(classes), 'growth class', 'growth classes')}"
    if not written:
        return f"unchanged, {what} recorded as they were" + left_out
    counted = what if classes else f"{len(recorded.counts):,}"
    return (
        f"{counted} recorded, "
        f"{len(changes.counts) + len(changes.classes):,} new or changed, "
        f"{len(changes.removed):,} pruned" + left_out
    )


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    return f"{count:,} {noun if count == 1 else nouns or noun + 's'}"


def _baseline_stacks(run: Run) -> dict[str, tuple[tuple[str, int], ...]]:
    """The call paths the baseline report kept of each test that is a
    problem in this run: what its differential flame graph is drawn against."""
    baseline = run.baseline
    if baseline is None:
        return {}
    found = {}
    for nodeid, record in run.records.items():
        kept = baseline.by_nodeid.get(nodeid)
        if record.status in PROBLEMS and kept is not None and kept.stacks is not None:
            found[nodeid] = kept.stacks
    return found


def _write_differences(
    run: Run, directory: Path, profiles: Mapping[str, str], names: Mapping[str, str]
) -> int:
    """With a baseline that kept call paths: each test's against them,
    as `difffolded.pl` writes them (`flamegraph.pl` draws the pair), next
    to its folded stacks, `.difffolded` for `.folded`. Both sides are
    bounded the same way (`stack_diff.bounded`), as the report keeps them."""
    from . import stack_diff

    baseline = run.baseline
    if baseline is None:
        return 0
    written = 0
    for nodeid, folded in profiles.items():
        kept = baseline.by_nodeid.get(nodeid)
        if kept is None or kept.stacks is None:
            continue
        new = stack_diff.bounded(stack_diff.parse_folded(folded))
        name = names[nodeid].removesuffix(".folded") + ".difffolded"
        write_atomically(directory / name, stack_diff.difffolded(dict(kept.stacks), new))
        written += 1
    return written
