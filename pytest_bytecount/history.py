"""Run history: each run's report kept under `.bytecount/` and found again by
name (`--bytecount-autosave`, `--bytecount-compare` with no file, `pytest-
bytecount list`). No pytest here.

A saved run is a report like any other, named so that `ls` sorts it and a
person can tell runs apart:

    .bytecount/0007_cpython-312_20261202T014900Z_1a2b3c4d5e-dirty.json

its number in this directory's history, the interpreter whose counts it
holds, when it was saved (UTC), and the git commit it measured where the
rootdir is in a git work tree (`-dirty`: with uncommitted changes to tracked
files). A run is named by its file name with or without `.json`, by its
number (`7` or `0007`), or by any prefix of its name that only it has.

Only the newest `keep` runs of each interpreter stay: a tox matrix keeps a
history per interpreter. Saving takes the directory's lock, so runs saving at
once (tox -p) get numbers of their own. The directory gets a `.gitignore`
when it is created, as pytest's cache does: a history is the checkout's own.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Final, final

from .files import locked, write_atomically

#: Where runs are saved, under the rootdir.
DIRECTORY: Final = ".bytecount"
#: Runs of one interpreter kept by default.
KEEP: Final = 50
_NAME: Final = re.compile(
    r"(?P<number>[0-9]{4,})_(?P<tag>[^_]+)_(?P<time>[0-9]{8}T[0-9]{6}Z)(?:_(?P<commit>[^_]+))?"
)
_IGNORE: Final = "# Created by pytest-bytecount: the run history of this checkout.\n*\n"
#: Seconds git may take to name the commit before the run is saved without it.
GIT_TIMEOUT: Final = 10.0


class HistoryError(Exception):
    """A saved run that cannot be found: the message says which and why."""


@final
@dataclass(frozen=True)
class SavedRun:
    """One report in the history, as its name describes it."""

    path: Path
    number: int
    tag: str
    #: When it was saved, as in its name: `20261202T014900Z`.
    time: str
    #: The commit it measured (`-dirty` with uncommitted changes), if known.
    commit: str | None

    @property
    def name(self) -> str:
        return self.path.stem


def runs(directory: Path, tag: str | None = None) -> list[SavedRun]:
    """The saved runs in `directory` (of interpreter `tag`, if given), oldest
    first; files not named as saved runs are not runs."""
    if not directory.is_dir():
        return []
    found = []
    for path in directory.glob("*.json"):
        match = _NAME.fullmatch(path.stem)
        if match is None or (tag is not None and match["tag"] != tag):
            continue
        found.append(
            SavedRun(path, int(match["number"]), match["tag"], match["time"], match["commit"])
        )
    return sorted(found, key=lambda run: run.number)


def latest(directory: Path, tag: str) -> SavedRun | None:
    """The newest saved run of interpreter `tag`."""
    saved = runs(directory, tag)
    return saved[-1] if saved else None


def find(directory: Path, name: str) -> SavedRun:
    """The saved run `name` names: its file name (with or without `.json`),
    its number, or a prefix of its name that no other run has."""
    wanted = name.removesuffix(".json")
    saved = runs(directory)
    if wanted.isdigit():
        by_number = [run for run in saved if run.number == int(wanted)]
        if by_number:
            return by_number[0]
    matches = [run for run in saved if run.name.startswith(wanted)] if wanted else []
    exact = [run for run in matches if run.name == wanted]
    if exact or len(matches) == 1:
        return (exact or matches)[0]
    where = f"{directory}"
    if not matches:
        raise HistoryError(
            f"no saved run {name!r} in {where} ({len(saved)} saved; `pytest-bytecount list` "
            "shows them)"
        )
    names = ", ".join(run.name for run in matches[:3]) + (", ..." if len(matches) > 3 else "")
    raise HistoryError(f"{name!r} names {len(matches)} saved runs in {where}: {names}")


def save(
    directory: Path,
    text: str,
    *,
    tag: str,
    commit: str | None,
    keep: int = KEEP,
    now: datetime | None = None,
) -> tuple[SavedRun, int]:
    """Save the report `text` as the next run in `directory`, then prune the
    runs of `tag` past the newest `keep`. Returns the run saved and how many
    were pruned."""
    created = not directory.exists()
    directory.mkdir(parents=True, exist_ok=True)
    if created:
        write_atomically(directory / ".gitignore", _IGNORE)
    when = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    with locked(directory / "history"):
        saved = runs(directory)
        number = saved[-1].number + 1 if saved else 1
        name = f"{number:04d}_{tag}_{when}" + (f"_{commit}" if commit else "")
        path = directory / f"{name}.json"
        write_atomically(path, text)
        old = runs(directory, tag)[:-keep] if keep > 0 else []
        for run in old:
            run.path.unlink(missing_ok=True)
    return SavedRun(path, number, tag, when, commit), len(old)


def git_commit(root: Path) -> str | None:
    """The commit checked out at `root` (10 hex digits, `-dirty` when tracked
    files have changes), or None outside a git work tree or without git."""
    try:
        head = _git(root, "rev-parse", "--short=10", "HEAD")
        if head is None:
            return None
        # Without optional locks: a status that refreshes the index takes
        # index.lock, and the user's own git command would fail meanwhile.
        status = _git(root, "--no-optional-locks", "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("-dirty" if status else "")


def _git(root: Path, *arguments: str) -> str | None:
    done = subprocess.run(
        ["git", "-C", str(root), *arguments],
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT,
        check=False,
    )
    return done.stdout.strip() if done.returncode == 0 else None
