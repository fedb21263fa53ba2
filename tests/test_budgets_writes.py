"""What writing the budgets file (and every other file) guarantees (SPEC §4):
writers running at once merge, a symlink is written through, a file keeps
its mode, a writer that dies leaves a temporary file named as ours, which
the next write removes, and the umask is never touched."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import TAG

from pytest_bytecount import files
from pytest_bytecount.budgets import Budgets, Changes, write_merged
from pytest_bytecount.files import lock_path, locked, write_atomically
from pytest_bytecount.records import TestRecord
from pytest_bytecount.report import build_report, write_json
from pytest_bytecount.verdict import Status

posix_only = pytest.mark.skipif(os.name != "posix", reason="symlinks, modes and signals")

OTHER = "cpython-299"

#: Each run's tests wait, before they run, until the test lets them go: by
#: then both runs have read the budgets file, which each writes at its end.
MEET = """
import time
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def meet(request):
    Path(f"{request.node.path.stem}.started").touch()
    deadline = time.monotonic() + 60
    while not Path("go").exists():
        assert time.monotonic() < deadline, "never let go"
        time.sleep(0.01)
"""

BEFORE = f"""# Shared by every run.

["{TAG}"]
"test_a.py::test_one" = 1
"test_b.py::test_two" = 1
"test_c.py::test_kept" = 7

["{OTHER}"]
"test_a.py::test_one" = 5
"""


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_two_updates_and_a_record_at_once_keep_each_others_budgets(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini("[pytest]\n")
    pytester.makeconftest(MEET)
    pytester.makepyfile(
        test_a="def test_one():\n    sum(range(10))\n",
        test_b="def test_two():\n    sorted(range(10))\n",
    )
    path = pytester.path / "bytecount.toml"
    path.write_text(BEFORE)
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--bytecount-update", name],
            cwd=pytester.path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            encoding="utf-8",
        )
        for name in ("test_a.py", "test_b.py")
    ]
    try:
        for name in ("test_a", "test_b"):
            wait_for((pytester.path / f"{name}.started").exists, f"{name} to start")
        # Meanwhile, another interpreter's budgets are recorded (`tox -p`).
        report = pytester.path / "other.json"
        records = [TestRecord("test_x.py::test_new", 42, None, Status.NEW, "passed")]
        write_json(report, build_report(records, plugin_version="0", interpreter=(OTHER, "2.99.0")))
        recorded = subprocess.run(
            [sys.executable, "-m", "pytest_bytecount", "record", str(report)],
            cwd=pytester.path,
            capture_output=True,
            encoding="utf-8",
            check=False,
        )
        assert recorded.returncode == 0, recorded.stderr
        (pytester.path / "go").touch()
        outputs = [run.communicate(timeout=120)[0] for run in runs]
    finally:
        for run in runs:
            run.kill()
            run.wait()
    assert [run.returncode for run in runs] == [0, 0], outputs
    budgets = Budgets.load(path)
    table = budgets.table(TAG)
    assert set(table) == {"test_a.py::test_one", "test_b.py::test_two", "test_c.py::test_kept"}
    # Both runs' counts (not the 1 each of them read at its start), and the
    # entry neither touched.
    assert table["test_a.py::test_one"] > 1
    assert table["test_b.py::test_two"] > 1
    assert table["test_c.py::test_kept"] == 7
    assert budgets.table(OTHER) == {"test_a.py::test_one": 5, "test_x.py::test_new": 42}
    assert path.read_text().startswith("# Shared by every run.\n")
    assert sorted(p.name for p in pytester.path.glob(".bytecount*")) == []


WRITER = """
import sys
from pathlib import Path

from pytest_bytecount.budgets import Changes, write_merged

path, name = Path(sys.argv[1]), sys.argv[2]
for number in range(25):
    write_merged(path, [Changes(name, {f"{name}::test_{number}": number + 1})])
"""


def test_many_writers_at_once_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "bytecount.toml"
    names = ["cpython-310", "cpython-311", "cpython-312", "cpython-313"]
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), name]) for name in names]
    assert [writer.wait(timeout=120) for writer in writers] == [0] * len(names)
    budgets = Budgets.load(path)
    assert sorted(budgets.tables) == names
    for name in names:
        assert budgets.table(name) == {f"{name}::test_{n}": n + 1 for n in range(25)}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bytecount.toml"]


def test_an_update_keeps_what_another_writer_wrote_since_the_file_was_read(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bytecount.toml"
    path.write_text(f'["{TAG}"]\n"a" = 1\n"b" = 2\n"gone" = 3\n')
    ours = Budgets.load(path)
    Budgets.load(path).updated(TAG, {"b": 20, "c": 30}).write()  # another writer
    ours.updated(TAG, {"a": 10, "d": 40}, remove=["gone"]).write()
    assert Budgets.load(path).table(TAG) == {"a": 10, "b": 20, "c": 30, "d": 40}


def test_a_budgets_file_spoilt_during_the_run_is_not_overwritten(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_spoil="""
        from pathlib import Path

        def test_spoil():
            Path("bytecount.toml").write_text("not toml [")
        """
    )
    result = pytester.runpytest("--bytecount-update")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.fnmatch_lines(["ERROR: *bytecount.toml*: not valid TOML: *"])
    assert (pytester.path / "bytecount.toml").read_text() == "not toml ["


def test_a_change_the_loader_would_refuse_is_never_written(tmp_path: Path) -> None:
    path = tmp_path / "bytecount.toml"
    path.write_text(f'["{TAG}"]\n"a" = 1\n')
    for bad in (
        Changes(TAG, {"b": 2**63}),
        Changes(TAG, {"b": 0}),
        Changes(TAG, {"b\udcff": 1}),
        Changes(TAG, {"b": 1}, {"b": "100%"}),
    ):
        with pytest.raises(ValueError, match=r"^'b"):
            write_merged(path, [bad])
    assert path.read_text() == f'["{TAG}"]\n"a" = 1\n'


# -- symlinks and modes ----------------------------------------------------


@posix_only
@pytest.mark.parametrize("exists", [True, False], ids=["target exists", "dangling link"])
def test_an_update_writes_through_a_symlink_and_keeps_the_mode(
    pytester: pytest.Pytester, exists: bool
) -> None:
    pytester.makepyfile(test_suite="def test_one():\n    sum(range(10))\n")
    shared = pytester.path / "shared"
    shared.mkdir()
    target = shared / "budgets.toml"
    if exists:
        target.write_text(f'["{OTHER}"]\n"test_suite.py::test_one" = 5\n')
        target.chmod(0o600)
    link = pytester.path / "bytecount.toml"
    link.symlink_to(Path("shared", "budgets.toml"))
    pytester.runpytest("--bytecount-update").assert_outcomes(passed=1)
    assert link.is_symlink()
    assert os.readlink(link) == os.path.join("shared", "budgets.toml")
    budgets = Budgets.load(target)
    assert list(budgets.table(TAG)) == ["test_suite.py::test_one"]
    if exists:
        assert budgets.table(OTHER) == {"test_suite.py::test_one": 5}
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in shared.iterdir()) == ["budgets.toml"]
    assert sorted(p.name for p in pytester.path.glob(".bytecount*")) == []


@posix_only
def test_a_report_and_a_page_are_written_through_symlinks_and_keep_their_mode(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_suite="def test_one():\n    sum(range(10))\n")
    out = pytester.path / "out"
    out.mkdir()
    for name, mode in (("r.json", 0o640), ("page.html", 0o604)):
        (out / name).write_text("old")
        (out / name).chmod(mode)
        (pytester.path / name).symlink_to(out / name)
    pytester.runpytest(
        "--bytecount", "--bytecount-report=r.json", "--bytecount-html=page.html"
    ).assert_outcomes(passed=1)
    for name, mode in (("r.json", 0o640), ("page.html", 0o604)):
        assert (pytester.path / name).is_symlink()
        assert (out / name).read_text() != "old"
        assert stat.S_IMODE((out / name).stat().st_mode) == mode


def test_a_new_file_gets_the_umask_mode_and_the_umask_is_never_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def umask(mask: int) -> int:
        raise AssertionError("the process-wide umask was changed")

    saved = os.umask(0o027)
    try:
        monkeypatch.setattr(os, "umask", umask)
        write_atomically(tmp_path / "new.txt", "text\n")
        write_atomically(tmp_path / "new.txt", "text again\n")
    finally:
        monkeypatch.undo()
        os.umask(saved)
    assert (tmp_path / "new.txt").read_text() == "text again\n"
    if os.name == "posix":
        assert stat.S_IMODE((tmp_path / "new.txt").stat().st_mode) == 0o640


# -- what a writer that dies leaves ------------------------------------------

KILLED_WHILE_WRITING = """
import os
import signal

replace = os.replace


def killed(source, destination, *args, **kwargs):
    if os.path.basename(destination) == "bytecount.toml":
        os.kill(os.getpid(), signal.SIGKILL)
    return replace(source, destination, *args, **kwargs)


os.replace = killed
"""


@posix_only
def test_a_write_killed_midway_leaves_a_file_named_as_ours_which_the_next_write_removes(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_suite="def test_one():\n    sum(range(10))\n")
    pytester.makeconftest(KILLED_WHILE_WRITING)
    result = pytester.runpytest_subprocess("--bytecount-update")
    assert result.ret == -signal.SIGKILL
    assert not (pytester.path / "bytecount.toml").exists()
    left = sorted(p.name for p in pytester.path.glob(".bytecount*"))
    # The killed writer held the lock, and had written a temporary file.
    assert len(left) == 2, left
    assert left[0].startswith(".bytecount.toml.pytest-bytecount-")
    assert left[0].endswith(".tmp")
    pid = left[0].removeprefix(".bytecount.toml.pytest-bytecount-").removesuffix(".tmp")
    assert pid.isdigit()
    assert left[1] == ".bytecount.toml.pytest-bytecount.lock"

    (pytester.path / "conftest.py").unlink()
    pytester.runpytest_subprocess("--bytecount-update").assert_outcomes(passed=1)
    assert sorted(p.name for p in pytester.path.glob(".bytecount*")) == []
    assert list(Budgets.load(pytester.path / "bytecount.toml").table(TAG)) == [
        "test_suite.py::test_one"
    ]


def a_process_that_ended() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@posix_only
def test_a_write_removes_leftovers_of_dead_or_old_writers_and_nothing_else(
    tmp_path: Path,
) -> None:
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead = a_process_that_ended()
        names = {
            f".r.json.pytest-bytecount-{dead}.tmp": False,
            f".page.html.pytest-bytecount-{dead}-3.tmp": False,
            f".r.json.pytest-bytecount-{alive.pid}.tmp": True,  # being written
            f".page.html.pytest-bytecount-{alive.pid}-1.tmp": True,
            f".old.json.pytest-bytecount-{alive.pid}.tmp": False,  # too old
            ".r.json.a1b2c3d4.tmp": True,  # not ours
            f"r.json.pytest-bytecount-{dead}.tmp": True,  # not ours either
            "notes.txt": True,
        }
        for name in names:
            (tmp_path / name).write_text("left")
        long_ago = time.time() - 2 * files.STALE_AFTER
        os.utime(tmp_path / f".old.json.pytest-bytecount-{alive.pid}.tmp", (long_ago, long_ago))
        write_atomically(tmp_path / "r.json", "{}\n")
    finally:
        alive.kill()
        alive.wait()
    kept = {name for name, keep in names.items() if keep}
    assert {p.name for p in tmp_path.iterdir()} == kept | {"r.json"}


# -- the lock ----------------------------------------------------------------

LOCKS = pytest.mark.parametrize(
    "lock",
    [
        pytest.param(
            files._lock_with_flock,
            id="flock",
            marks=pytest.mark.skipif(os.name != "posix", reason="fcntl"),
        ),
        pytest.param(files._lock_with_a_file, id="lock file"),
    ],
)


@LOCKS
def test_the_lock_lets_one_writer_in_at_a_time(
    tmp_path: Path, lock: Callable[[Path], Callable[[], None]]
) -> None:
    counter = tmp_path / "counter"
    counter.write_text("0")

    def add() -> None:
        for _ in range(20):
            release = lock(lock_path(counter))
            try:
                count = int(counter.read_text())
                time.sleep(0.0002)  # another writer would read the same count here
                counter.write_text(str(count + 1))
            finally:
                release()

    threads = [threading.Thread(target=add) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counter.read_text() == "80"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["counter"]


@posix_only
def test_waiting_too_long_for_the_lock_is_an_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(files, "LOCK_TIMEOUT", 0.2)
    path = tmp_path / "bytecount.toml"
    release = files._lock_with_flock(lock_path(path))
    try:
        with pytest.raises(TimeoutError, match="another process has held this lock") as caught:
            files._lock_with_flock(lock_path(path))
    finally:
        release()
    assert str(caught.value).startswith(f"{tmp_path / '.bytecount.toml.pytest-bytecount.lock'}: ")
    with locked(path):  # free again
        pass


def test_a_lock_file_left_by_a_writer_that_died_is_broken(tmp_path: Path) -> None:
    lock = lock_path(tmp_path / "bytecount.toml")
    lock.write_text("12345\n")
    long_ago = time.time() - 2 * files.LOCK_TIMEOUT
    os.utime(lock, (long_ago, long_ago))
    started = time.monotonic()
    files._lock_with_a_file(lock)()
    assert time.monotonic() - started < files.LOCK_TIMEOUT / 2
    assert not lock.exists()
