"""Functions whose executed instructions the exactness tests count twice:
with pytest-bytecount and with the interpreter's own events (oracle.py).

Each entry of CORPUS is a factory returning a fresh zero-argument callable, so
that every count starts from the same state (a generator started before the
measured span must be a new one each time).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import weakref
from collections.abc import Callable, Generator, Iterator
from typing import Any


def loop_sum(n: int = 200) -> int:
    t = 0
    for i in range(n):
        if i % 3:
            t += i * 2
        else:
            t -= 1
    return t


def while_loop(n: int = 200) -> int:
    i = t = 0
    while i < n:
        t ^= i
        i += 1
    return t


def fib(n: int = 12) -> int:
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def _squares(n: int) -> Iterator[int]:
    for i in range(n):
        yield i * i


def generator_driven_from_c(n: int = 50) -> int:
    return sum(_squares(n))


def generator_driven_from_python(n: int = 50) -> int:
    t = 0
    for x in _squares(n):
        t += x
    return t


def generator_expression(n: int = 50) -> int:
    return len(list(x + 1 for x in range(n)))


def _raiser(i: int) -> int:
    if i % 2:
        raise ValueError(i)
    return i


def exceptions_caught(n: int = 30) -> int:
    t = 0
    for i in range(n):
        try:
            t += _raiser(i)
        except ValueError:
            t -= 1
        finally:
            t += 2
    return t


def _deep(k: int) -> int:
    if k == 0:
        raise KeyError("boom")
    return _deep(k - 1) + 1


def exception_uncaught() -> int:
    t = 0
    for i in range(5):
        t += i
    return _deep(3)


def _nested_raise(k: int) -> int:
    try:
        try:
            raise KeyError(k)
        except KeyError:
            raise ValueError(k) from None
    except ValueError:
        if k > 1:
            raise
        return k


def exception_chains(n: int = 6) -> int:
    t = 0
    for i in range(n):
        try:
            t += _nested_raise(i)
        except ValueError:
            t -= 1
    return t


def comprehensions(n: int = 40) -> int:
    a = [i * 2 for i in range(n) if i % 2]
    b = {i: i for i in range(n)}
    c = {i % 7 for i in range(n)}
    d = [[j for j in range(i)] for i in range(5)]
    return len(a) + len(b) + len(c) + len(d)


def sorted_with_key_lambda(n: int = 50) -> int:
    data = [(i * 7919) % 101 for i in range(n)]
    return sorted(data, key=lambda x: -x)[0] + max(data, key=lambda x: x % 13)


class Point:
    def __init__(self, x: int, y: int) -> None:
        self._x = x
        self.y = y

    @property
    def x(self) -> int:
        return self._x

    @x.setter
    def x(self, value: int) -> None:
        self._x = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and (self._x, self.y) == (other._x, other.y)

    def __lt__(self, other: Point) -> bool:
        return (self._x, self.y) < (other._x, other.y)

    def __hash__(self) -> int:
        return hash((self._x, self.y))

    def __len__(self) -> int:
        return 2

    def __getitem__(self, index: int) -> int:
        return (self._x, self.y)[index]

    def __add__(self, other: Point) -> Point:
        return Point(self._x + other._x, self.y + other.y)


def properties_and_dunders(n: int = 20) -> int:
    points = [Point(i % 7, i) for i in range(n)]
    total = Point(0, 0)
    for p in sorted(points):  # __lt__ called from C
        p.x = p.x + 1  # property getter and setter
        total = total + p  # __add__
    found = Point(3, 3) in points  # __eq__ called from C
    return total[0] + len(total) + found


def _inner_gen() -> Generator[int, None, str]:
    try:
        yield 1
        yield 2
    except KeyError:
        yield 99
    return "done"


def _delegating() -> Generator[int, None, str]:
    result = yield from _inner_gen()
    yield from [1, 2, 3]
    return result


def yield_from() -> int:
    g = _inner_gen()
    next(g)
    thrown = g.throw(KeyError)  # handled inside the generator
    g.close()  # GeneratorExit through a finally-less generator
    return sum(_delegating()) + thrown


class Managed:
    def __init__(self) -> None:
        self.entered = 0

    def __enter__(self) -> Managed:
        self.entered += 1
        return self

    def __exit__(self, *exc_info: object) -> bool:
        return exc_info[0] is KeyError  # swallow KeyError only


@contextlib.contextmanager
def _generator_cm() -> Iterator[int]:
    yield 5


def with_blocks() -> int:
    t = 0
    with Managed() as m:
        t += m.entered
    with Managed():
        raise KeyError("swallowed by __exit__")
    with _generator_cm() as v:
        t += v
    try:
        with _generator_cm():
            raise ValueError
    except ValueError:
        t += 1
    return t


async def _leaf(i: int) -> int:
    return i


async def _coroutine(n: int) -> int:
    t = 0
    for i in range(n):
        t += await _leaf(i)
    return t


def coroutine_run_by_hand(n: int = 10) -> int:
    c = _coroutine(n)
    try:
        c.send(None)
    except StopIteration as stop:
        return int(stop.value)
    raise AssertionError("the coroutine did not finish")


async def _sleeper(i: int) -> int:
    await asyncio.sleep(0)
    return i


async def _gathering(n: int) -> int:
    return sum(await asyncio.gather(*[_sleeper(i) for i in range(n)]))


def asyncio_event_loop(n: int = 3) -> int:
    return asyncio.run(_gathering(n))


_BIG_SOURCE = (
    "def big(x):\n    t = 0\n"
    + "".join(f"    t += x * {i} + {i}.5\n" for i in range(300))
    + "    while x > 0:\n        x -= 1\n        t += 1\n    return t\n"
)
_namespace: dict[str, Any] = {}
exec(compile(_BIG_SOURCE, "<big>", "exec"), _namespace)  # long jumps: EXTENDED_ARG


def extended_arg(n: int = 3) -> Any:
    return _namespace["big"](n)


def closures_and_classes(n: int = 10) -> int:
    def make_adder(k: int) -> Callable[[int], int]:
        return lambda x: x + k

    class Local:
        __slots__ = ("v",)

        def __init__(self, v: int) -> None:
            self.v = v

    return sum(make_adder(i)(Local(i).v) for i in range(n))


class _Lazy:
    """A property that recurses through `getattr(..., default)`, which
    swallows the innermost one's AttributeError in C: a frame an exception
    leaves with no Python frame seeing it go."""

    def __init__(self, depth: int) -> None:
        self.depth = depth

    @property
    def value(self) -> int:
        if self.depth == 0:
            raise AttributeError("value")
        got = getattr(_Lazy(self.depth - 1), "value", None)
        return (got or 0) + self.depth


def exception_swallowed_by_c(n: int = 5) -> int:
    return sum(getattr(_Lazy(k), "value", 0) for k in range(n))


class _Finalized:
    """An object whose death runs Python code: its `__del__`, and the
    callback of the `WeakSet` it is in (asyncio keeps its tasks in one)."""

    deaths = 0

    def __del__(self) -> None:
        _Finalized.deaths += 1


_LIVE: weakref.WeakSet[_Finalized] = weakref.WeakSet()


def finalizers_of_rebound_locals(n: int = 3) -> int:
    """The last reference to an object is a local that an instruction
    rebinds or deletes: the object dies in that instruction (a Python trace
    function on 3.10 kept it alive in `f_locals` until the next event)."""
    seen = 0
    for _ in range(n):
        item = _Finalized()
        _LIVE.add(item)
        seen += len(_LIVE)
        item = None  # rebound
    kept = _Finalized()
    del kept  # deleted
    cell = _Finalized()

    def read() -> _Finalized | None:
        return cell

    cell = None  # a cell rebound
    try:
        raise KeyError(_Finalized())
    except KeyError as error:  # deleted at the end of the handler
        seen += len(error.args)
    return seen + (read() is None)


class _Point:
    def __init__(self, x: int) -> None:
        self.x = x


def calls_into_c(n: int = 4) -> int:
    """Builtins, methods of C types (bound and through their descriptor),
    slot wrappers, C types, a class, a callable C object, an extension
    module's function, and a call into C that raises."""
    words = sorted(["b ", " a", "c"], key=str.strip)
    table: dict[str, int] = {}
    for k in range(n):
        table.update({words[k % 3].strip(): k})
        table.setdefault("z", len(table))
    total = sum(map(abs, range(-n, n))) + math.isqrt(n * n)
    total += [1, 2].__len__() + len(list(table)) + _Point(n).x
    total += functools.partial(max, 1)(n)
    seen: list[int] = []
    append = seen.append  # a bound method of a C type, called from a variable
    for k in range(n):
        append(k)
        total += len(dict.fromkeys("ab")) + int.from_bytes(b"\x01", "big")  # bound to a type
    try:
        int("not a number")
    except ValueError:
        total += 1
    return total + len(" ".join(words)) + len(seen)


def _started_generator() -> Callable[[], Any]:
    """A generator created and started *before* the measured span, resumed in it."""
    g = _squares(10)
    next(g)
    return functools.partial(next, g)


def _plain(fn: Callable[[], Any]) -> Callable[[], Callable[[], Any]]:
    return lambda: fn


CORPUS: dict[str, Callable[[], Callable[[], Any]]] = {
    fn.__name__: _plain(fn)
    for fn in (
        loop_sum,
        while_loop,
        fib,
        generator_driven_from_c,
        generator_driven_from_python,
        generator_expression,
        exceptions_caught,
        exception_uncaught,
        exception_chains,
        comprehensions,
        sorted_with_key_lambda,
        properties_and_dunders,
        yield_from,
        with_blocks,
        coroutine_run_by_hand,
        asyncio_event_loop,
        extended_arg,
        closures_and_classes,
        exception_swallowed_by_c,
        finalizers_of_rebound_locals,
        calls_into_c,
    )
}
CORPUS["generator_resumed_in_span"] = _started_generator
