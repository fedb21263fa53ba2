"""The suite's fixtures and hooks: nothing else (plain helpers and constants
are in helpers.py). Behaviour is tested through `pytester`."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from typing import Any

import pytest

# helpers.py asserts for the test modules (assert_budgets_met, ...): its
# asserts are rewritten as theirs are, to say what differed.
pytest.register_assert_rewrite("helpers")

from helpers import INNER_ADDOPTS, TESTS_DIR  # noqa: E402 (after the line above)


@pytest.fixture(autouse=True)
def no_bytecode_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests rewrite modules within the same second; a cached .pyc of the old
    source with the same size and mtime would be imported instead."""
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")


@pytest.fixture(autouse=True)
def inner_runs_keep_their_order(request: pytest.FixtureRequest) -> None:
    """pytest-randomly is installed for the compatibility tests, which turn it
    on themselves; other inner runs keep their order (pytester clears
    PYTEST_ADDOPTS, so it is set again here, after pytester's set-up)."""
    if "pytester" in request.fixturenames:
        request.getfixturevalue("pytester")
        monkeypatch = request.getfixturevalue("monkeypatch")
        monkeypatch.setenv("PYTEST_ADDOPTS", INNER_ADDOPTS)


@pytest.fixture(autouse=True)
def inner_runs_have_a_fixed_hash_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    """As the docs recommend for CI: subprocess runs get PYTHONHASHSEED=0, and
    in-process runs, which share this interpreter's seed, are told it is 0,
    so that no header line or warning about it depends on how the suite was
    started. Tests of the hash seed set the variable themselves."""
    monkeypatch.setenv("PYTHONHASHSEED", "0")
    monkeypatch.setattr("pytest_bytecount.determinism.hash_seed", lambda: "0")


@pytest.fixture
def with_corpus(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester whose tests can import `corpus` and `oracle`."""
    for name in ("corpus.py", "oracle.py"):
        pytester.makepyfile(**{name[:-3]: (TESTS_DIR / name).read_text()})
    pytester.syspathinsert()
    return pytester


CHROMEDRIVER = shutil.which("chromedriver")
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def browser() -> Iterator[Any]:
    if BROWSER is None or CHROMEDRIVER is None:
        pytest.skip("no headless browser: install Debian's chromium and chromium-driver")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = BROWSER
    # A proxy nobody listens on: anything the page fetched would fail, loudly.
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--proxy-server=127.0.0.1:9",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
