"""The package builds with its compiled core where a compiler works, and
without it, cleanly, where none does (SPEC §1, "Two cores, one count")."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "LICENSE", "pytest_bytecount")
PIP = (sys.executable, "-m", "pip", "--disable-pip-version-check")
COMPILED_HERE = (3, 10) <= sys.version_info[:2] <= (3, 15)


def build_wheel(tmp_path: Path, **environment: str) -> Path:
    """A wheel built as pip builds one from the source distribution: first
    the sdist of a copy of the sources (on this interpreter, which may be one
    the compiled core is not for), then a wheel from it."""
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.so", "*.pyd")
            shutil.copytree(ROOT / name, source / name, ignore=ignore)
        else:
            shutil.copy2(ROOT / name, source / name)
    out = tmp_path / "dist"
    make_sdist = f"from setuptools import build_meta; print(build_meta.build_sdist({str(out)!r}))"
    done = subprocess.run(
        [sys.executable, "-c", make_sdist], cwd=source, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    sdist = out / done.stdout.split()[-1]
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
    for part in ("_ccore.c", "_ccore_monitoring.h", "_ccore_settrace.h", "_ccore_c_calls.h"):
        assert any(name.endswith(f"engine/{part}") for name in names), part
    done = subprocess.run(
        [*PIP, "wheel", "--no-deps", "--no-build-isolation", "-w", str(out), str(sdist)],
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = out.glob("*.whl")
    return wheel


def compiled_members(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return [name for name in archive.namelist() if "_ccore" in name and name.endswith(".so")]


def test_without_a_compiler_the_package_builds_and_counts_with_the_python_core(
    tmp_path: Path,
) -> None:
    wheel = build_wheel(tmp_path, CC="false")
    assert compiled_members(wheel) == []
    target = tmp_path / "installed"
    subprocess.run(
        [*PIP, "install", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    probe = (
        "from pytest_bytecount import measure\n"
        "from pytest_bytecount.engine import choose_core\n"
        "with measure() as m:\n"
        "    sum(i for i in range(10))\n"
        "print(choose_core(), m.instructions > 0)\n"
    )
    environment = {**os.environ, "PYTHONPATH": str(target)}
    environment.pop("PYTEST_BYTECOUNT_CORE", None)
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env=environment,
        cwd=tmp_path,  # not the checkout, which may hold a compiled core built in place
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == ["python", "True"]


@pytest.mark.skipif(not COMPILED_HERE, reason="the compiled core is for CPython 3.10 to 3.15")
def test_with_a_compiler_the_wheel_holds_the_compiled_core(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    assert len(compiled_members(wheel)) == 1
    assert not wheel.name.endswith("-none-any.whl")
