"""pytest-asyncio beside pytest-bytecount: SPEC §10.

An async test's span is its item's whole run: pytest-asyncio's runner, the
event loop and every task the test awaits. That is deterministic for the same
code on the same interpreter; `bytecount_exclude = asyncio asyncio.*` leaves
the event loop's own frames out (code they call back into still counts).
"""

from __future__ import annotations

import pytest
from helpers import counts_by_name

ASYNC_TESTS = """
import asyncio
import pytest

async def leaf(i):
    await asyncio.sleep(0)
    return i

@pytest.mark.asyncio
@pytest.mark.max_instructions(1_000_000)
async def test_marked():
    assert sum(await asyncio.gather(*[leaf(i) for i in range(3)])) == 3

@pytest.mark.asyncio
async def test_fixture_block(bytecount):
    with bytecount.measure() as m:
        await leaf(1)
    assert m.instructions > 0

@pytest.mark.asyncio
async def test_fixture_call(bytecount):
    coroutine = leaf(2)
    assert bytecount(coroutine.send, None) is None  # runs up to the sleep
    assert bytecount.last.instructions > 0
    coroutine.close()
"""


def run(pytester: pytest.Pytester, name: str) -> dict[str, int]:
    report = pytester.path / name
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--bytecount-report={report}")
    result.assert_outcomes(passed=3)
    return counts_by_name(report)


def test_async_tests_count_deterministically_with_the_marker_and_the_fixture(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_async=ASYNC_TESTS)
    first, second = run(pytester, "one.json"), run(pytester, "two.json")
    assert first == second
    assert set(first) == {"test_marked", "test_fixture_block", "test_fixture_call"}
    assert all(count > 0 for count in first.values())


def test_excluding_asyncio_leaves_the_event_loop_out(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_async=ASYNC_TESTS)
    with_loop = run(pytester, "loop.json")
    pytester.makeini(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
        "bytecount_exclude = asyncio asyncio.*\n"
    )
    without_loop = run(pytester, "noloop.json")
    assert without_loop == run(pytester, "noloop-again.json")
    for name in ("test_marked", "test_fixture_block"):
        assert 0 < without_loop[name] < with_loop[name]
    # The coroutine's own first step calls nothing from asyncio but sleep(0)'s
    # first lines: excluding asyncio removes exactly those.
    assert without_loop["test_fixture_call"] < with_loop["test_fixture_call"]
