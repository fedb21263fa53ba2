"""Work whose amount depends on the world outside the process marks a span
unstable, with what happened (docs/determinism.rst): another process, a
selector's wait, an asyncio loop woken by I/O or a timer, a loop polling the
clock. Merely importing the modules that do it, sleeping once, or an asyncio
test that only awaits coroutines does not."""

from __future__ import annotations

import pytest
from helpers import read_report

WAITS = """
import asyncio
import logging
import multiprocessing
import selectors
import socket
import subprocess
import sys
import time


def test_runs_a_subprocess():
    subprocess.run([sys.executable, "-c", "print('hello')"], capture_output=True, check=True)


def child():
    pass


def test_starts_a_process():
    process = multiprocessing.get_context("spawn").Process(target=sum, args=([1, 2],))
    process.start()
    process.join()


def test_waits_on_a_selector():
    left, right = socket.socketpair()
    right.send(b"x")
    with selectors.DefaultSelector() as selector:
        selector.register(left, selectors.EVENT_READ)
        assert selector.select(timeout=5)
    left.close()
    right.close()


def test_reads_a_socket_through_a_file():
    left, right = socket.socketpair()
    right.sendall(b"line\\n")
    with left.makefile("rb") as stream:
        assert stream.readline() == b"line\\n"
    left.close()
    right.close()


def test_opens_a_connection():
    server = socket.create_server(("127.0.0.1", 0))
    with socket.create_connection(server.getsockname(), timeout=5):
        pass
    server.close()


def test_polls_the_clock_until_a_deadline():
    deadline = time.monotonic() + 0.02
    while time.monotonic() < deadline:
        time.sleep(0.002)


def test_asyncio_with_a_timer():
    asyncio.run(asyncio.sleep(0.01))


def test_asyncio_woken_by_a_socket():
    async def main():
        left, right = socket.socketpair()
        left.setblocking(False)
        loop = asyncio.get_running_loop()
        loop.call_soon(right.send, b"x")
        assert await loop.sock_recv(left, 1) == b"x"
        left.close()
        right.close()

    asyncio.run(main())


def test_asyncio_only_coroutines():
    async def double(n):
        await asyncio.sleep(0)
        return 2 * n

    async def main():
        return await asyncio.gather(*(double(n) for n in range(5)))

    assert asyncio.run(main()) == [0, 2, 4, 6, 8]


def test_sleeps_once_and_reads_the_clock():
    start = time.perf_counter()
    time.sleep(0.001)
    assert time.perf_counter() >= start


def test_logs_with_timestamps():
    for n in range(5):
        logging.getLogger("waits").warning("message %d", n)


def test_imports_only():
    import concurrent.futures  # noqa: F401
    assert subprocess and selectors and asyncio
"""
MARKED = {
    "test_runs_a_subprocess": "started another process (subprocess)",
    "test_starts_a_process": "started another process (multiprocessing)",
    "test_waits_on_a_selector": "waited on a selector",
    "test_reads_a_socket_through_a_file": "read from a socket through a file",
    "test_opens_a_connection": "opened a network connection",
    "test_polls_the_clock_until_a_deadline": (
        "polled the clock in a loop, waiting between reads (test_polls_the_clock_until_a_deadline)"
    ),
    "test_asyncio_with_a_timer": "asyncio event loop scheduled a timer",
    "test_asyncio_woken_by_a_socket": "asyncio event loop was woken by I/O",
}
STABLE = (
    "test_asyncio_only_coroutines",
    "test_sleeps_once_and_reads_the_clock",
    "test_logs_with_timestamps",
    "test_imports_only",
)


def test_waits_on_the_world_are_marked_and_the_rest_is_not(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_waits=WAITS)
    result = pytester.runpytest_subprocess("--bytecount", "--bytecount-report=r.json")
    result.assert_outcomes(passed=len(MARKED) + len(STABLE))
    unstable = {
        test["nodeid"].split("::")[1]: test["unstable"]
        for test in read_report(pytester.path / "r.json")["tests"]
    }
    for name, reason in MARKED.items():
        assert reason in (unstable[name] or ""), name
    for name in STABLE:
        assert unstable[name] is None, name
    # The summary says why, below its table.
    result.stdout.fnmatch_lines(["unstable: test_waits.py::test_runs_a_subprocess: the test *"])


def test_the_reason_is_in_the_failure(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import subprocess, sys
        import pytest

        @pytest.mark.max_instructions(10)
        def test_dear():
            subprocess.run([sys.executable, "-c", "pass"], check=True)
        """
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["unstable: the test started another process (subprocess)*"])
