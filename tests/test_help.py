"""Help is the first thing a new user runs: `pytest --help` with the plugin
installed, and `pytest-bytecount --help` with each subcommand's."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SUBCOMMANDS = ("compare", "show", "merge", "record", "list")


def test_pytest_help_lists_every_option_and_ini_key(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--help")
    assert result.ret == 0, result.stderr.str()
    out = result.stdout.str()
    # The tolerance help holds percent signs, which argparse would %-format.
    assert "(e.g. 2%, 2.5, 0.5%); default 0%: counts are exact" in " ".join(out.split())
    for name in ("--bytecount-report", "--bytecount-tolerance", "bytecount_tolerance"):
        assert name in out


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """`pytest-bytecount ARGS`: the script installed beside this interpreter."""
    script = shutil.which("pytest-bytecount", path=str(Path(sys.executable).parent))
    assert script is not None, "pytest-bytecount is not installed beside " + sys.executable
    command = [script]
    return subprocess.run([*command, *args], capture_output=True, text=True, check=False)


def test_cli_help_names_its_subcommands() -> None:
    done = cli("--help")
    assert done.returncode == 0, done.stderr
    for name in SUBCOMMANDS:
        assert name in done.stdout


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_each_subcommand_has_help(command: str) -> None:
    done = cli(command, "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: pytest-bytecount {command}")
