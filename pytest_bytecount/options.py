"""Command-line options and ini keys, read and validated once into `Settings`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

from . import history, hypothesis_tests
from .engine import choose_core
from .verdict import parse_tolerance

HELP_BYTECOUNT: Final = "measure every test, not only those with a marker, a budget or the fixture"
HELP_DISABLE: Final = (
    "measure nothing and enforce nothing; the marker and the bytecount fixture still "
    "exist, and fixture measurements return 0-instruction results marked as disabled"
)
HELP_REPORT: Final = "write a JSON report of the measured tests to PATH"
HELP_EXCLUDE: Final = (
    "module name globs (e.g. asyncio.*) whose frames are not counted; "
    "their callees are. pytest, pluggy and pytest_bytecount are never counted"
)
HELP_GC: Final = (
    "the garbage collector inside measured spans: false (the default: paused), true "
    "(running) or collect (paused, after a full collection before each span)"
)
HELP_SEED_RANDOM: Final = (
    "seed the global random generator at the start of each measured test with a value "
    "derived from its node id (default: true; never while pytest-randomly seeds it)"
)
HELP_UPDATE: Final = (
    "measure every test and write the counts of unmarked ones into the budgets file "
    "(the running interpreter's table only); budget excess does not fail while updating"
)
HELP_TOLERANCE: Final = (
    "how far a count may exceed its recorded budget or baseline, in percent "
    "(e.g. 2%, 2.5, 0.5%); default 0%: counts are exact"
)
#: pytest-xdist `workerinput` key: the report the controller compares with.
COMPARE_PATH_KEY: Final = "bytecount_compare_path"
#: `--bytecount-compare=latest`: the latest run --bytecount-autosave saved.
LATEST: Final = "latest"
HELP_COMPARE: Final = (
    "compare counts with an earlier report of the same interpreter, a file or a saved "
    f"run's name; '{LATEST}' (or the option alone, after the test paths): the latest run "
    "saved by --bytecount-autosave. Tests that grew beyond the tolerance are regressions "
    "and the session exits non-zero"
)
HELP_AUTOSAVE: Final = (
    "keep this run's report in the run history, .bytecount/ under the rootdir, named by "
    "number, interpreter, time and git commit"
)
HELP_AUTOSAVE_KEEP: Final = (
    "how many saved runs of each interpreter --bytecount-autosave keeps (default 50); "
    "older ones are removed"
)
HELP_THREADS: Final = (
    "which threads' instructions are counted: 'test' (the test's own thread, the "
    "default) or 'all' (every thread; 3.12+, and counts are then not deterministic)"
)
HELP_EXPLAIN: Final = (
    "measure every selected test and, after the run, print its hottest lines with the "
    "instructions that ran on them (meant for one test or a -k selection)"
)
HELP_PROFILE: Final = (
    "record call paths of every measured test; write DIR/<test>.folded for each and "
    "DIR/bytecount.speedscope.json for all"
)
HELP_HTML: Final = (
    "record call paths of every measured test; write a self-contained HTML report to PATH"
)
HELP_GITHUB: Final = (
    "GitHub Actions annotations for tests over budget, regressed or improved, and the "
    "run's table in the job summary: auto (on when GITHUB_ACTIONS=true), on or off"
)
HELP_HYPOTHESIS: Final = (
    "Hypothesis tests when measured: 'repeatable' (the default: the same examples every "
    "run, no example database, no deadline) or 'leave' (as they are; marked unstable)"
)
HELP_REPEAT: Final = (
    "after each measured test's call, call it N more times (N >= 2) and mark it unstable "
    "when those N counts differ: finds the tests whose counts will not repeat"
)
HELP_BUDGETS: Final = "the budgets file, relative to the rootdir (default: bytecount.toml)"
DEFAULT_BUDGETS: Final = "bytecount.toml"
#: An ini flag's words, any case, as pytest reads its own.
TRUE_WORDS: Final = ("true", "yes", "on", "1")
FALSE_WORDS: Final = ("false", "no", "off", "0")


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("bytecount", "executed-instruction budgets (pytest-bytecount)")
    group.addoption("--bytecount", action="store_true", default=False, help=HELP_BYTECOUNT)
    group.addoption("--bytecount-disable", action="store_true", default=False, help=HELP_DISABLE)
    group.addoption("--bytecount-report", metavar="PATH", default=None, help=HELP_REPORT)
    group.addoption("--bytecount-update", action="store_true", default=False, help=HELP_UPDATE)
    # argparse %-formats option help (not ini help): its percent signs are escaped.
    group.addoption(
        "--bytecount-tolerance", metavar="PCT", default=None, help=HELP_TOLERANCE.replace("%", "%%")
    )
    group.addoption(
        "--bytecount-compare",
        metavar="REPORT",
        nargs="?",
        const=True,
        default=None,
        help=HELP_COMPARE,
    )
    group.addoption("--bytecount-autosave", action="store_true", default=False, help=HELP_AUTOSAVE)
    group.addoption("--bytecount-explain", action="store_true", default=False, help=HELP_EXPLAIN)
    group.addoption("--bytecount-profile", metavar="DIR", default=None, help=HELP_PROFILE)
    group.addoption("--bytecount-html", metavar="PATH", default=None, help=HELP_HTML)
    group.addoption("--bytecount-repeat", metavar="N", default=None, help=HELP_REPEAT)
    parser.addini("bytecount_report", HELP_REPORT, default="")
    parser.addini("bytecount_profile", HELP_PROFILE, default="")
    parser.addini("bytecount_html", HELP_HTML, default="")
    parser.addini("bytecount_tolerance", HELP_TOLERANCE, default="0%")
    parser.addini("bytecount_budgets", HELP_BUDGETS, default=DEFAULT_BUDGETS)
    parser.addini("bytecount_threads", HELP_THREADS, default="test")
    parser.addini("bytecount_exclude", HELP_EXCLUDE, type="args", default=[])
    parser.addini("bytecount_gc", HELP_GC, default="false")
    parser.addini("bytecount_seed_random", HELP_SEED_RANDOM, default="true")
    parser.addini("bytecount_github", HELP_GITHUB, default="auto")
    parser.addini("bytecount_hypothesis", HELP_HYPOTHESIS, default="repeatable")
    parser.addini("bytecount_autosave", HELP_AUTOSAVE, default="false")
    parser.addini("bytecount_autosave_keep", HELP_AUTOSAVE_KEEP, default=str(history.KEEP))


@dataclass(frozen=True)
class Settings:
    """Everything the plugin was told, validated."""

    measure_all: bool
    disabled: bool
    report_path: Path | None
    exclude: tuple[str, ...]
    keep_gc: bool
    #: A full collection before each span (`bytecount_gc = collect`).
    collect_gc: bool
    update: bool
    tolerance: float
    compare_path: Path | None
    budgets_path: Path
    all_threads: bool
    seed_random: bool
    explain: bool
    profile_dir: Path | None
    html_path: Path | None
    github: bool
    hypothesis: str
    #: Warm calls compared after each measured call (0: none).
    repeat: int
    #: Where --bytecount-autosave keeps runs, and how many of each interpreter.
    history_dir: Path
    autosave: bool
    autosave_keep: int

    @property
    def stacks(self) -> bool:
        """Whether measured tests record call paths: for explain, profiles, HTML."""
        return self.explain or self.profile_dir is not None or self.html_path is not None

    @classmethod
    def from_config(cls, config: pytest.Config) -> Settings:
        update = bool(config.getoption("bytecount_update"))
        explain = bool(config.getoption("bytecount_explain"))
        repeat = _repeat(config)
        history_dir = config.rootpath / history.DIRECTORY
        gc_mode = _gc_mode(config)
        _check_core_choice()
        return cls(
            # Recording budgets for a suite, explaining the selected tests
            # or checking that their counts repeat means measuring all of them.
            measure_all=bool(config.getoption("bytecount")) or update or explain or bool(repeat),
            disabled=bool(config.getoption("bytecount_disable")),
            report_path=_output_path(config, "report", "a file path"),
            exclude=_exclude_globs(config),
            keep_gc=gc_mode == "true",
            collect_gc=gc_mode == "collect",
            update=update,
            tolerance=_tolerance(config),
            compare_path=_compare_path(config, history_dir),
            budgets_path=_budgets_path(config),
            all_threads=_all_threads(config),
            seed_random=_flag(config, "bytecount_seed_random"),
            explain=explain,
            profile_dir=_output_path(config, "profile", "a directory"),
            html_path=_output_path(config, "html", "a file path"),
            github=_github(config),
            hypothesis=_choice(config, "bytecount_hypothesis", hypothesis_tests.MODES),
            repeat=repeat,
            history_dir=history_dir,
            autosave=bool(config.getoption("bytecount_autosave"))
            or _flag(config, "bytecount_autosave"),
            autosave_keep=_autosave_keep(config),
        )


def _check_core_choice() -> None:
    """`PYTEST_BYTECOUNT_CORE` names a core that can run here, or is unset."""
    try:
        choose_core()
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None


def _output_path(config: pytest.Config, name: str, expected: str) -> Path | None:
    """`--bytecount-<name>` is relative to the current directory (as
    `--junitxml` is); the ini key `bytecount_<name>` to the directory of the
    ini file."""
    option = config.getoption(f"bytecount_{name}")
    if option is not None:
        if not option.strip():
            raise pytest.UsageError(f"--bytecount-{name}: expected {expected}, got ''")
        return Path(option).expanduser().absolute()
    ini = str(config.getini(f"bytecount_{name}")).strip()
    if not ini:
        return None
    base = config.inipath.parent if config.inipath is not None else config.rootpath
    return (base / Path(ini).expanduser()).absolute()


def _exclude_globs(config: pytest.Config) -> tuple[str, ...]:
    globs = tuple(str(glob) for glob in config.getini("bytecount_exclude"))
    for glob in globs:
        if not glob.replace("*", "").replace("?", "").strip("."):
            raise pytest.UsageError(
                f"bytecount_exclude: {glob!r} would exclude every module; "
                "name the modules to leave out, e.g. 'asyncio.*'"
            )
    return globs


def _tolerance(config: pytest.Config) -> float:
    """CLI over ini; a bad value names where it came from."""
    option = config.getoption("bytecount_tolerance")
    text, where = (
        (option, "--bytecount-tolerance")
        if option is not None
        else (str(config.getini("bytecount_tolerance")), "ini bytecount_tolerance")
    )
    try:
        return parse_tolerance(text)
    except ValueError as exc:
        raise pytest.UsageError(f"{where}: {exc}") from None


def _compare_path(config: pytest.Config, history_dir: Path) -> Path | None:
    """The report to compare with: a file; else a saved run of that name;
    with no value, the latest saved run of the running interpreter."""
    option: str | bool | None = config.getoption("bytecount_compare")
    if option is None or config.getoption("bytecount_disable"):
        return None
    resolved = getattr(config, "workerinput", {}).get(COMPARE_PATH_KEY)
    if resolved is not None:
        return Path(resolved)  # a pytest-xdist worker: the controller's choice
    if option is True or option == LATEST:
        from .report import interpreter_tag

        tag = interpreter_tag()
        run = history.latest(history_dir, tag)
        if run is None:
            raise pytest.UsageError(
                f"--bytecount-compare: no run of {tag} saved in {history_dir} to compare with; "
                "save one with --bytecount-autosave, or name a report"
            )
        return run.path
    assert isinstance(option, str)
    if not option.strip():
        raise pytest.UsageError("--bytecount-compare: expected a report path, got ''")
    path = Path(option).expanduser().absolute()
    if path.is_dir() or path.suffix == ".py" or "::" in option:
        # A bare --bytecount-compare before a test path (or in addopts,
        # which goes before them all) takes the path as its value.
        raise pytest.UsageError(
            f"--bytecount-compare: {option} is a test path, not a report; to compare with "
            f"the latest saved run, write --bytecount-compare={LATEST} (always, in addopts) "
            "or put --bytecount-compare after the test paths"
        )
    if path.exists() or not history.runs(history_dir):
        return path  # a file, or what the loader will say is missing
    try:
        return history.find(history_dir, option).path
    except history.HistoryError as exc:
        raise pytest.UsageError(f"--bytecount-compare: no file {option}, and {exc}") from None


def _autosave_keep(config: pytest.Config) -> int:
    value = str(config.getini("bytecount_autosave_keep")).strip()
    if not value.isdigit() or int(value) < 1:
        raise pytest.UsageError(
            f"bytecount_autosave_keep: expected a number of runs, 1 or more, got {value!r}"
        )
    return int(value)


def _budgets_path(config: pytest.Config) -> Path:
    text = str(config.getini("bytecount_budgets")).strip() or DEFAULT_BUDGETS
    return (config.rootpath / Path(text).expanduser()).absolute()


def _flag(config: pytest.Config, name: str) -> bool:
    """An ini flag, read as pytest reads its own; a bad value names the key."""
    value = str(config.getini(name)).strip()
    if value.lower() in TRUE_WORDS:
        return True
    if value.lower() in FALSE_WORDS:
        return False
    raise pytest.UsageError(f"{name}: expected true or false, got {value!r}")


def _gc_mode(config: pytest.Config) -> str:
    """`bytecount_gc`: `true` (the collector runs), `false` or `collect`."""
    value = str(config.getini("bytecount_gc")).strip().lower()
    if value == "collect":
        return value
    if value in TRUE_WORDS or value in FALSE_WORDS:
        return "true" if value in TRUE_WORDS else "false"
    raise pytest.UsageError(f"bytecount_gc: expected true, false or collect, got {value!r}")


def _choice(config: pytest.Config, name: str, choices: tuple[str, ...]) -> str:
    """An ini key that takes one of `choices` (any case); a bad value names the key."""
    value = str(config.getini(name)).strip().lower()
    if value not in choices:
        expected = ", ".join(choices[:-1]) + f" or {choices[-1]}"
        raise pytest.UsageError(f"{name}: expected {expected}, got {value!r}")
    return value


def _repeat(config: pytest.Config) -> int:
    option = config.getoption("bytecount_repeat")
    if option is None:
        return 0
    try:
        repeat = int(option)
    except ValueError:
        repeat = 0
    if repeat < 2:
        raise pytest.UsageError(
            f"--bytecount-repeat: expected a number of calls to compare, 2 or more, got {option!r}"
        )
    return repeat


def _github(config: pytest.Config) -> bool:
    value = _choice(config, "bytecount_github", ("auto", "on", "off"))
    if value == "auto":
        return os.environ.get("GITHUB_ACTIONS") == "true"
    return value == "on"


def _all_threads(config: pytest.Config) -> bool:
    value = str(config.getini("bytecount_threads")).strip()
    if value not in ("test", "all"):
        raise pytest.UsageError(f"bytecount_threads: expected 'test' or 'all', got {value!r}")
    return value == "all"
