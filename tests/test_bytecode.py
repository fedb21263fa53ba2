"""The engine's bytecode reading, held against `dis` on real code.

The engines find instruction boundaries and names by reading `co_code`
themselves (`dis` is too slow, and would be counted, inside a span). Here
every code object of a good part of the standard library and of the exactness
corpus is read both ways, on each interpreter the suite runs on.
"""

from __future__ import annotations

import dis
import importlib.util
import inspect
import itertools
import sys
from collections.abc import Iterator
from types import CodeType

import corpus
import pytest

from pytest_bytecount.engine.bytecode import next_instruction, reported_opname
from pytest_bytecount.engine.frame_counters import STALE_LOCALS, rebound_locals

#: Modules with every construct between them: async code, generators,
#: comprehensions, pattern matching, exception groups, long functions
#: (EXTENDED_ARG), classes and closures.
MODULES = (
    "argparse",
    "asyncio.base_events",
    "asyncio.tasks",
    "collections",
    "contextlib",
    "dataclasses",
    "dis",
    "email.message",
    "enum",
    "functools",
    "inspect",
    "json.decoder",
    "logging",
    "pydoc",
    "shutil",
    "tokenize",
    "typing",
    "unittest.case",
)


def code_objects(code: CodeType) -> Iterator[CodeType]:
    yield code
    for constant in code.co_consts:
        if isinstance(constant, CodeType):
            yield from code_objects(constant)


def sources() -> Iterator[tuple[str, CodeType]]:
    for name in MODULES:
        spec = importlib.util.find_spec(name)
        assert spec is not None, name
        assert spec.origin is not None, name
        with open(spec.origin, encoding="utf-8") as source:
            yield name, compile(source.read(), spec.origin, "exec")
    with open(corpus.__file__, encoding="utf-8") as source:
        yield "corpus", compile(source.read(), corpus.__file__, "exec")
    yield "corpus._BIG_SOURCE", compile(corpus._BIG_SOURCE, "<big>", "exec")


@pytest.mark.parametrize(("name", "module"), [pytest.param(*s, id=s[0]) for s in sources()])
def test_instruction_boundaries_and_names_agree_with_dis(name: str, module: CodeType) -> None:
    checked = 0
    for code in code_objects(module):
        raw = code.co_code
        instructions = list(dis.get_instructions(code))
        for instruction, following in itertools.pairwise(instructions):
            assert next_instruction(raw, instruction.offset) == following.offset, (
                code.co_qualname if hasattr(code, "co_qualname") else code.co_name,
                instruction,
            )
        with pytest.raises(ValueError, match="no instruction follows"):
            next_instruction(raw, instructions[-1].offset)
        extended = ""
        for instruction in reversed(instructions):
            name_reported = reported_opname(raw, instruction.offset)
            if instruction.opname != "EXTENDED_ARG":
                extended = instruction.opname
                assert name_reported == instruction.opname
            elif sys.version_info < (3, 12):
                # One event for the prefix and the instruction it extends.
                assert name_reported == extended
            else:
                assert name_reported == "EXTENDED_ARG"
        checked += len(instructions)
    assert checked > 100, name


REBINDING = {"STORE_FAST", "DELETE_FAST", "STORE_DEREF", "DELETE_DEREF"}


@pytest.mark.skipif(not STALE_LOCALS, reason="only 3.10's Python core needs them")
@pytest.mark.parametrize(("name", "module"), [pytest.param(*s, id=s[0]) for s in sources()])
def test_the_locals_instructions_rebind_agree_with_dis(name: str, module: CodeType) -> None:
    found = 0
    for code in code_objects(module):
        expected: list[str | None] = [None] * len(code.co_code)
        prefix = None
        for instruction in dis.get_instructions(code):
            if instruction.opname == "EXTENDED_ARG":
                prefix = instruction.offset if prefix is None else prefix
                continue
            at, prefix = (instruction.offset if prefix is None else prefix), None
            # A class body's free variables are not in its f_locals.
            in_locals = code.co_flags & inspect.CO_OPTIMIZED or instruction.argval not in (
                code.co_freevars
            )
            if instruction.opname in REBINDING and in_locals:
                expected[at] = instruction.argval
        names = rebound_locals(code)
        assert (names or [None] * len(code.co_code)) == expected, code.co_name
        assert names is None or any(names)
        found += sum(name is not None for name in expected)
    assert found > 10, name
