"""Command-line options and ini keys, read and validated once into `Settings`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

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
HELP_GC: Final = "keep the garbage collector running inside measured spans (default: paused)"


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("bytecount", "executed-instruction budgets (pytest-bytecount)")
    group.addoption("--bytecount", action="store_true", default=False, help=HELP_BYTECOUNT)
    group.addoption("--bytecount-disable", action="store_true", default=False, help=HELP_DISABLE)
    group.addoption("--bytecount-report", metavar="PATH", default=None, help=HELP_REPORT)
    parser.addini("bytecount_report", HELP_REPORT, default="")
    parser.addini("bytecount_exclude", HELP_EXCLUDE, type="args", default=[])
    parser.addini("bytecount_gc", HELP_GC, type="bool", default=False)


@dataclass(frozen=True)
class Settings:
    """Everything the plugin was told, validated."""

    measure_all: bool
    disabled: bool
    report_path: Path | None
    exclude: tuple[str, ...]
    keep_gc: bool

    @classmethod
    def from_config(cls, config: pytest.Config) -> Settings:
        return cls(
            measure_all=bool(config.getoption("bytecount")),
            disabled=bool(config.getoption("bytecount_disable")),
            report_path=_report_path(config),
            exclude=_exclude_globs(config),
            keep_gc=bool(config.getini("bytecount_gc")),
        )


def _report_path(config: pytest.Config) -> Path | None:
    """`--bytecount-report` is relative to the current directory (as
    `--junitxml` is); the ini key to the directory of the ini file."""
    option = config.getoption("bytecount_report")
    if option is not None:
        if not option.strip():
            raise pytest.UsageError("--bytecount-report: expected a file path, got ''")
        return Path(option).expanduser().absolute()
    ini = str(config.getini("bytecount_report")).strip()
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
