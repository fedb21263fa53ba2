"""Writing files so that readers see the old content or the new, never half,
and locking a file against other writers.

Every file the plugin writes (budgets, reports, HTML pages, profiles) goes
through `write_atomically`: the text is written to a temporary file beside
the target, which then replaces it with `os.replace`. What that promises:

- A symlink is written through: its target is replaced, the link stays.
- A file that exists keeps its permission bits; a new one gets those of any
  new file (0o666 less the umask, applied by the system when the temporary
  file is created, so the process-wide umask is never read or changed).
- A temporary file is named `.<name>.pytest-bytecount-<pid>.tmp`. A writer
  killed between creating and renaming it (SIGKILL, power loss) leaves it
  behind; the next write into that directory by another process removes
  such leftovers whose process is gone, or which are older than a minute.

`locked` serializes writers of one file (the budgets file, which writers
merge into rather than overwrite) across processes: `fcntl.flock` on a
sidecar lock file where there is `fcntl`, else a lock file created with
`O_EXCL`.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final, TextIO

#: What marks a temporary or lock file as this plugin's, after `.<name>.`.
MARK: Final = "pytest-bytecount"

#: A leftover temporary file older than this (seconds) is removed whoever
#: made it; no write takes that long.
STALE_AFTER: Final = 60.0

#: How long (seconds) a writer waits for another to let go of a lock before
#: giving up with an error (`flock`), or before it takes the lock file as
#: left by a writer that died, and breaks it (where there is no `flock`).
LOCK_TIMEOUT: Final = 60.0

_LEFTOVER: Final = re.compile(rf"\..+\.{MARK}-(?P<pid>[0-9]{{1,10}})(?:-[0-9]+)?\.tmp")

#: Directories this process has already cleaned of leftovers: a directory of
#: 50,000 profiles is listed once, not once per file written there.
_cleaned: Final[set[str]] = set()


def write_atomically(
    path: Path, text: str | Callable[[TextIO], None], *, durable: bool = False
) -> None:
    """Write `text` (UTF-8, `\\n` line ends, a lone surrogate as its escape)
    to `path` through a temporary file and `os.replace`, or let `text` write
    to the file's stream (a text too big to hold whole): readers see the old
    file or the new one. A symlink at `path` is written through to its
    target; an existing file keeps its mode. `durable` also flushes the text to disk before the
    rename, so that a crash of the machine cannot leave an empty file."""
    target = resolved(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(target.parent)
    try:
        mode: int | None = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = None
    temporary, handle = _create_temporary(target)
    try:
        if mode is not None:
            _set_mode(handle, temporary, mode)
        # backslashreplace: a node id from a file name that is not UTF-8
        # holds lone surrogates; a page or a profile shows them as `\udcff`.
        with os.fdopen(
            handle, "w", encoding="utf-8", errors="backslashreplace", newline="\n"
        ) as stream:
            handle = -1  # the stream owns it now
            if isinstance(text, str):
                stream.write(text)
            else:
                text(stream)
            if durable:
                stream.flush()
                os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        if handle >= 0:
            os.close(handle)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def resolved(path: Path) -> Path:
    """The file a write to `path` changes: the final target of a chain of
    symlinks (which may not exist yet), else `path` itself."""
    return Path(os.path.realpath(path))


def _create_temporary(target: Path) -> tuple[Path, int]:
    """A new file beside `target`, named as ours and by our pid, open for
    writing; created with 0o666 so that the system applies the umask."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    base = f".{target.name}.{MARK}-{os.getpid()}"
    for attempt in range(100):
        # A second name only where this pid's name is taken: another thread
        # of this process writing the same file, or a leftover of a process
        # that had this pid before.
        name = f"{base}.tmp" if attempt == 0 else f"{base}-{attempt}.tmp"
        temporary = target.with_name(name)
        try:
            return temporary, os.open(temporary, flags, 0o666)
        except FileExistsError:
            continue
    raise FileExistsError(f"{target.parent}: too many temporary files named {base}-*.tmp")


def _set_mode(handle: int, temporary: Path, mode: int) -> None:
    if os.chmod in os.supports_fd:
        os.chmod(handle, mode)
    else:  # pragma: no cover - Windows
        os.chmod(temporary, mode)


def _remove_leftovers(directory: Path) -> None:
    """Remove the temporary files that writers which died left in
    `directory`: those of a process that no longer runs, or older than
    `STALE_AFTER`. Never another live writer's fresh one."""
    key = str(directory)
    if key in _cleaned:
        return
    _cleaned.add(key)
    now = time.time()
    try:
        with os.scandir(directory) as listing:
            entries = list(listing)
    except OSError:
        return  # the write itself says what is wrong with the directory
    for entry in entries:
        found = _LEFTOVER.fullmatch(entry.name)
        if found is None:
            continue
        pid = int(found["pid"])
        try:
            age = now - entry.stat(follow_symlinks=False).st_mtime
            if age > STALE_AFTER or (pid != os.getpid() and not _running(pid)):
                os.unlink(entry.path)
        except OSError:
            continue  # gone already, or not ours to remove: leave it


def _running(pid: int) -> bool:
    """Whether process `pid` exists (as far as this platform can tell)."""
    if os.name != "posix":
        return True  # os.kill would end it: leftovers go by age alone there
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except OSError:
        return True  # it exists, and is someone else's
    return True


def lock_path(path: Path) -> Path:
    """The lock file of `path` (the target of a symlink): `.<name>.pytest-bytecount.lock`."""
    target = resolved(path)
    return target.with_name(f".{target.name}.{MARK}.lock")


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold the lock of the file `path` (its symlink target): other
    processes' `locked(path)` wait until this one's is left. The lock file
    beside it is removed on leaving. Waiting longer than `LOCK_TIMEOUT` is a
    `TimeoutError` naming the lock file."""
    lock = lock_path(path)
    lock.parent.mkdir(parents=True, exist_ok=True)
    if sys.platform == "win32":  # pragma: no cover - no fcntl there
        release = _lock_with_a_file(lock)
    else:
        release = _lock_with_flock(lock)
    try:
        yield
    finally:
        release()


def _lock_with_flock(lock: Path) -> _Release:
    """`flock` on the lock file. The holder removes the file before it lets
    go, so a waiter that then gets the lock of the removed file tries again
    on the file now there: whoever holds the lock of the file at that path
    holds the lock."""
    import fcntl

    deadline = time.monotonic() + LOCK_TIMEOUT
    pause = 0.001
    while True:
        # Read-only: another user's writer can lock a file made by this one.
        handle = os.open(lock, os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW, 0o666)
        try:
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise _timed_out(lock) from None
                    time.sleep(pause)
                    pause = min(pause * 2, 0.05)
            held = os.fstat(handle)
            try:
                there = os.stat(lock)
            except FileNotFoundError:
                there = None
        except BaseException:
            os.close(handle)
            raise
        if there is not None and (there.st_dev, there.st_ino) == (held.st_dev, held.st_ino):
            return _Release(lock, handle)
        os.close(handle)  # the lock of a file since removed: try the new one


def _lock_with_a_file(lock: Path) -> _Release:
    """Where there is no `flock`: whoever creates the lock file holds the
    lock. A lock file older than `LOCK_TIMEOUT` was left by a writer that
    died (no write takes that long), and is broken."""
    pause = 0.001
    while True:
        try:
            handle = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            try:
                if time.time() - os.stat(lock).st_mtime > LOCK_TIMEOUT:
                    os.unlink(lock)
                    continue
            except FileNotFoundError:
                continue  # let go meanwhile
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
            continue
        os.write(handle, f"{os.getpid()}\n".encode())
        os.close(handle)
        return _Release(lock, None)


def _timed_out(lock: Path) -> TimeoutError:
    return TimeoutError(
        f"{lock}: another process has held this lock for over {LOCK_TIMEOUT:g} s; "
        "remove the file if no other pytest-bytecount is writing"
    )


class _Release:
    """Lets go of a lock: removes the lock file, then closes it (which ends
    an `flock`), in that order, so that no one locks a file being removed."""

    __slots__ = ("handle", "lock")

    def __init__(self, lock: Path, handle: int | None) -> None:
        self.lock = lock
        self.handle = handle

    def __call__(self) -> None:
        try:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.lock)
        finally:
            if self.handle is not None:
                os.close(self.handle)
