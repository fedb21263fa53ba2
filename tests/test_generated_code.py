"""Code that dataclasses, namedtuple and attrs write at run time (SPEC §8):
named after its class (`Point.__init__`), placed as "generated code" instead
of a file and line of `<string>` that point nowhere, the same every run, in
failures, `explain()` and folded stacks, and at no cost in counts."""

from __future__ import annotations

import collections
import dataclasses
import functools
import json
import operator
import re
import sys
import types
import typing

import pytest

from pytest_bytecount import generated_code, measure


@dataclasses.dataclass(frozen=True, order=True)
class Point:
    x: int
    y: int = 0


class Shapes:
    @dataclasses.dataclass
    class Circle:
        radius: float


Pair = collections.namedtuple("Pair", "left right")


class Span(typing.NamedTuple):
    start: int
    end: int


class Row(collections.namedtuple("Row", "key value")):
    """A namedtuple's subclass: the module holds it under the base's name."""


def use_them() -> None:
    assert Point(1, 2) == Point(1, 2)
    assert Point(1) < Point(2)
    repr(Point(3))
    Shapes.Circle(1.0)
    Pair(1, 2)
    Span(1, 2)
    Row("k", "v")


def local_dataclass() -> object:
    """A class its module does not hold: garbage once the call returns."""

    @dataclasses.dataclass
    class Local:
        z: int

    return Local(1)


#: The generated frames of `use_them`, the same on every Python version.
NAMED = {
    "Point.__init__",
    "Point.__eq__",
    "Point.__lt__",
    "Point.__repr__",
    "Shapes.Circle.__init__",
    "Pair.__new__",
    "Span.__new__",
    "Row.__new__",
}


def generated_frames(folded: str) -> set[str]:
    """The names of the frames of generated code in folded stacks."""
    frames = {frame for line in folded.splitlines() for frame in line.rsplit(" ", 1)[0].split(";")}
    return {f.removesuffix(" (generated code)") for f in frames if f.endswith("(generated code)")}


def test_generated_methods_are_named_after_their_class_in_folded_stacks() -> None:
    with measure(stacks=True) as m:
        use_them()
    folded = m.folded()
    assert generated_frames(folded) == NAMED
    assert "<string>" not in folded
    assert "__create_fn__" not in folded
    # Functions and totals go by the same names; the counts add up as ever.
    named = {f.function: f for f in m.by_function if generated_code.is_generated(f.file)}
    assert set(named) == NAMED
    assert sum(f.instructions for f in m.by_function) == m.instructions
    assert all(f.total == f.instructions for f in named.values())  # they call no Python


def test_a_class_its_module_does_not_hold_gets_its_generators_name() -> None:
    with measure(stacks=True) as m:
        local_dataclass()
    # On 3.10 a dataclass's code does not say that dataclasses wrote it.
    expected = "<dataclass>.__init__" if sys.version_info >= (3, 11) else "__init__"
    assert expected in generated_frames(m.folded())


def test_attrs_methods_are_named_after_their_class(monkeypatch: pytest.MonkeyPatch) -> None:
    attrs = pytest.importorskip("attrs")
    module = types.ModuleType("cards")
    monkeypatch.setitem(sys.modules, "cards", module)
    exec("import attrs\n@attrs.define\nclass Card:\n    rank: int\n", vars(module))
    card: typing.Any = module.Card
    assert attrs.has(card)
    with measure(stacks=True) as m:
        assert card(1) == card(1)
    assert {"Card.__init__", "Card.__eq__"} <= generated_frames(m.folded())


def test_explain_says_generated_code_and_whose_it_is() -> None:
    with measure() as m:
        for i in range(20):
            Point(i, i)
    text = m.explain(lines=3)
    lines = text.splitlines()
    generated = [i for i, line in enumerate(lines) if re.search(r"<string>:\d+  ", line)]
    assert generated, text
    for index in generated:
        assert lines[index].endswith("  generated code")
        assert lines[index + 1].strip() == "in Point.__init__:"
    assert not re.search(r"<string>:\d+$", text, re.MULTILINE)


def test_naming_generated_code_runs_nothing_an_outer_span_counts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def nested() -> int:
        # A new code object every call: its class is looked for each time.
        local_dataclass()
        with measure() as inner:
            local_dataclass()
        assert inner.instructions
        with measure() as outer:
            local_dataclass()
            with measure():
                local_dataclass()
        return outer.instructions

    # Replaced by builtins: a Python function of this module would be counted.
    # (staticmethod: a partial is to become a method descriptor, 3.13 warns.)
    always = staticmethod(functools.partial(operator.truth, True))
    monkeypatch.setattr(generated_code._GeneratedMethods, "_new_modules", always)
    looked = nested()
    visits: list[bool] = []
    monkeypatch.setattr(
        generated_code._GeneratedMethods,
        "_visit_classes",
        staticmethod(functools.partial(visits.append, True)),
    )
    assert nested() == looked
    assert visits  # the inner span's end looked for the class


def test_classes_are_looked_for_again_only_once_a_module_was_imported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    methods = generated_code._GeneratedMethods()
    visits: list[bool] = []
    visit = generated_code._GeneratedMethods._visit_classes

    def counted_visit(self: generated_code._GeneratedMethods) -> None:
        visits.append(True)
        visit(self)

    monkeypatch.setattr(generated_code._GeneratedMethods, "_visit_classes", counted_visit)

    def init_of(cls: type) -> types.CodeType:
        return vars(cls)["__init__"].__code__  # type: ignore[no-any-return]

    assert methods.names([init_of(Point)]) == ["Point.__init__"]
    assert methods.names([init_of(type(local_dataclass()))]) == [
        "<dataclass>.__init__" if sys.version_info >= (3, 11) else "__init__"
    ]
    assert len(visits) == 1  # a class defined in a test: no new module, no visit
    module = types.ModuleType("shapes")
    monkeypatch.setitem(sys.modules, "shapes", module)
    exec("import dataclasses\n@dataclasses.dataclass\nclass Square:\n    side: int\n", vars(module))
    assert methods.names([init_of(module.Square)]) == ["Square.__init__"]
    assert len(visits) == 2


#: What the classes below were asked while their class was looked for.
ASKED: list[str] = []


class Loud(type):
    """A metaclass that notes every attribute read through it."""

    def __getattribute__(cls, name: str) -> typing.Any:
        ASKED.append(name)
        return super().__getattribute__(name)


@dataclasses.dataclass
class Watched(metaclass=Loud):
    value: int


class Pretender:
    """Not a module, in sys.modules: it notes what it is asked."""

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        ASKED.append("__class__")
        return type(self)

    def __getattr__(self, name: str) -> object:
        ASKED.append(name)
        raise AttributeError(name)


@dataclasses.dataclass
class Elsewhere:
    value: int


Elsewhere.__module__ = "pretender"


def test_looking_for_the_class_asks_nothing_of_classes_or_modules(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "pretender", Pretender())
    monkeypatch.setattr(generated_code, "_METHODS", generated_code._GeneratedMethods())
    ASKED.clear()
    with measure(stacks=True) as m:
        Watched(1)
        Elsewhere(2)
    assert ASKED == []
    frames = generated_frames(m.folded())
    assert "Watched.__init__" in frames
    assert "Elsewhere.__init__" not in frames  # not found where its module says


OVER = """
import dataclasses
import pytest

@dataclasses.dataclass
class Point:
    x: int
    y: int

@pytest.mark.max_instructions(50)
def test_points():
    for i in range(100):
        Point(i, i)
"""


def test_an_over_budget_failure_names_the_dataclass_and_says_generated_code(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_points=OVER)
    result = pytester.runpytest("--bytecount-profile=prof")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "functions that spent the most (own instructions):",
            "  *  Point.__init__  (generated code)",
            "lines that spent the most:",
            "  *  <string>:*  generated code",
        ]
    )
    output = result.stdout.str()
    assert "__create_fn__" not in output
    assert not re.search(r"<string>:\d+ *$", output, re.MULTILINE)  # no blank source
    folded = (pytester.path / "prof" / "test_points.py__test_points.folded").read_text()
    stacks = folded.splitlines()
    inits = "test_points (test_points.py:9);Point.__init__ (generated code) "
    assert any(line.startswith(inits) for line in stacks)
    assert all(re.fullmatch(r"[^;\s][^;]*(;[^;]+)* \d+", line) for line in stacks)


def test_the_names_are_the_same_in_every_process(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_points=OVER.replace("max_instructions(50)", "max_instructions(100_000)")
    )

    def frames() -> set[str]:
        result = pytester.runpytest_subprocess("--bytecount-profile=prof")
        result.assert_outcomes(passed=1)
        folded = (pytester.path / "prof" / "test_points.py__test_points.folded").read_text()
        return {f for line in folded.splitlines() for f in line.rsplit(" ", 1)[0].split(";")}

    first = frames()
    assert "Point.__init__ (generated code)" in first
    assert frames() == first


@pytest.mark.parametrize(
    ("file", "generated"),
    [
        ("<string>", True),
        ("<attrs generated methods shapes.Card>", True),
        ("<doctest test_generated.txt[0]>", False),
        ("<doctest pkg.generated_api.f[0]>", False),
        ("<frozen generated>", False),
        ("src/generated/parser.py", False),
    ],
)
def test_only_code_made_from_a_string_is_generated(file: str, generated: bool) -> None:
    assert generated_code.is_generated(file) is generated


def test_generated_code_is_named_the_same_when_pytest_runs_in_a_subdirectory(
    pytester: pytest.Pytester,
) -> None:
    """`<string>` is no path: relative to the rootdir from `sub/`, it would
    read `sub/<string>`, and no longer be known as generated code."""
    pytester.makeini("[pytest]\n")
    sub = pytester.mkdir("sub")
    (sub / "test_made.py").write_text(
        "namespace = {}\n"
        "exec('def made():\\n    return sum(range(5))\\n', namespace)\n\n"
        "def test_made():\n"
        "    namespace['made']()\n"
    )
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.chdir(sub)
    try:
        result = pytester.runpytest("--bytecount", "--bytecount-report=r.json")
    finally:
        monkeypatch.undo()
    result.assert_outcomes(passed=1)
    report = json.loads((sub / "r.json").read_text())
    files = {f["file"] for test in report["tests"] for f in test["top_functions"]}
    assert files == {"<string>", "sub/test_made.py"}
