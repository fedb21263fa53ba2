"""Where a measurement's instructions went (pure, no pytest): per line, the
instructions of each line that ran and the source they came from; per call
path, folded stacks, the hottest paths, each function's total with its
callees, and which functions' own counts changed against a baseline. Also
what every renderer calls a function and its place (`function_name`,
`where`), generated code among them.

Worked out after the span, never while counting: from the per-offset counts
the engine kept, the code's line table and `dis`, and the call tree it
recorded (`engine/paths.py`: nodes in order of creation, each with its code,
its parent's index and the instructions run in its own frames).
"""

from __future__ import annotations

import dis
import io
import os
import sys
import tokenize
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import compress, pairwise
from types import CodeType, FunctionType, MappingProxyType, ModuleType
from typing import Final, final

from .engine.bytecode import EXTENDED_ARG, PREFIX_REPORTED_WITH_INSTRUCTION, reported_opname
from .engine.paths import Path


@final
@dataclass(frozen=True)
class Ran:
    """One instruction that ran: where, how often, and what it is."""

    function: str
    count: int
    opname: str
    argrepr: str


def source_lines(file: str) -> list[str]:
    """The lines of a source file, or none where it cannot be read.

    Read directly, not through `linecache`: its cache is state the measured
    code can see (doctest's runner, a traceback), so filling it after one
    test could change the count of the next. No import either, for the same
    reason (first-use costs)."""
    try:
        with open(file, "rb") as source:
            raw = source.read()
    except OSError:
        return []
    # As the tokenizer reads it: the encoding its cookie names, and lines
    # ended by \n, \r\n or \r only (str.splitlines() also ends them at form
    # feeds and U+2028, which would shift every line after one).
    try:
        encoding = tokenize.detect_encoding(io.BytesIO(raw).readline)[0]
        text = raw.decode(encoding, errors="replace")
    except (SyntaxError, LookupError):
        text = raw.decode("utf-8", errors="replace")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines and not lines[-1]:
        lines.pop()
    return lines


def source_of(file: str, line: int, cache: dict[str, list[str]] | None = None) -> str:
    """Line `line` of `file` as written, stripped; "generated code" for code
    made from a string, which has no file; "" where unknown."""
    if is_generated(file):
        return GENERATED
    lines = cache.setdefault(file, source_lines(file)) if cache is not None else source_lines(file)
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


#: Shown for the place and source of code made from a string at run time.
GENERATED: Final = "generated code"


#: Pseudo-file names of code that has a source elsewhere, whatever words
#: they hold (`<doctest pkg.generated_api.f[0]>`).
NOT_GENERATED: Final = ("<doctest ", "<frozen ", "<stdin")


def is_generated(file: str) -> bool:
    """Whether code of this file name was made from a string at run time
    (`exec`, `eval`, `compile`: `<string>`, what dataclasses and namedtuple
    use; `<attrs generated methods m.C>` and the like): there is no file to
    read. `<frozen ...>`, `<doctest ...>` and `<stdin>` are not."""
    return file == "<string>" or (
        file.startswith("<")
        and file.endswith(">")
        and not file.startswith(NOT_GENERATED)
        and ("generated" in file or "-gen-" in file)
    )


def function_name(code: CodeType) -> str:
    """The qualified name of `code`'s function as failures, reports and
    folded stacks show it: `co_qualname` (`co_name` on 3.10), but for a
    method that dataclasses, namedtuple or attrs wrote, the name of the
    method in its class (`Point.__init__`, not `__create_fn__.<locals>.__init__`)."""
    if not is_generated(code.co_filename):
        return getattr(code, "co_qualname", code.co_name)
    return _METHODS.names((code,))[0]


def function_names(codes: Sequence[CodeType]) -> list[str]:
    """`function_name` of each of `codes`, looking for the classes of new
    generated methods at most once."""
    if not any(is_generated(code.co_filename) for code in codes):
        return [getattr(code, "co_qualname", code.co_name) for code in codes]
    return _METHODS.names(codes)


def name_generated(codes: Iterable[CodeType]) -> None:
    """Look for the classes of all new generated methods among `codes` at
    once, so that naming them one by one after does not look again."""
    generated = {id(code): code for code in codes if is_generated(code.co_filename)}
    if generated:
        _METHODS.names(generated.values())


# Read through the descriptors of `type` and `ModuleType` themselves: a
# metaclass, a module subclass or an object in sys.modules may redefine the
# attributes, and Python code run here would be counted by an outer span.
_TYPE_DICT: Final = vars(type)["__dict__"].__get__
_TYPE_QUALNAME: Final = vars(type)["__qualname__"].__get__
_TYPE_MRO: Final = vars(type)["__mro__"].__get__
_SUBCLASSES: Final = vars(type)["__subclasses__"]
_MODULE_DICT: Final = vars(ModuleType)["__dict__"].__get__


@final
class _GeneratedMethods:
    """Names methods that a generator wrote after the class they are in.

    A code object does not say which class it belongs to, and by the time
    its counts are read the frame that knew is gone; the class's namespace
    holds the function, though. So the first time such code is seen, every
    class is visited (from `object` down its subclasses) and each one marked
    as a dataclass, a namedtuple or an attrs class tells its generated
    methods. A class counts only where it can be found in its module under
    its qualified name, as pickle finds it (or a subclass is found there):
    one that cannot is garbage waiting for the collector, which runs at no
    fixed time, so naming after it would name the same code differently
    from run to run. Its methods keep their generator's fallback name
    (`<dataclass>.__init__`).

    Kept for the process (one instance, below): the code objects outlive a
    test, and a visit costs about 10 ms, so classes are visited again only
    when new code is seen and a module was imported since the last visit
    (module-level classes are made as their module is imported; a test that
    defines a dataclass in its body would otherwise pay a visit for nothing).
    A class put into a module imported before the last visit, as
    `importlib.reload()` does, keeps its generator's name. Keyed by `id()`
    (two classes' methods can be equal code objects), each code and module
    held weakly. Only the descriptors of `type` and builtin containers are
    called: no Python code runs that an outer span would count.
    """

    __slots__ = ("_last_import", "_modules", "_names", "_prune_at")

    def __init__(self) -> None:
        self._names: dict[int, tuple[weakref.ref[CodeType], str | None]] = {}
        self._prune_at = 256
        # The modules in sys.modules at the last visit.
        self._modules: dict[int, weakref.ref[ModuleType]] = {}
        self._last_import: tuple[int, str | None] = (0, None)

    def names(self, codes: Iterable[CodeType]) -> list[str]:
        codes = list(codes)
        unknown = [code for code in codes if _may_be_a_method(code) and not self._knows(code)]
        if unknown:
            if self._new_modules():
                self._visit_classes()
            for code in unknown:
                if not self._knows(code):
                    self._names[id(code)] = (weakref.ref(code), None)
        return [self._name(code) for code in codes]

    def _knows(self, code: CodeType) -> bool:
        known = self._names.get(id(code))
        return known is not None and known[0]() is code

    def _name(self, code: CodeType) -> str:
        known = self._names.get(id(code))
        if known is not None and known[0]() is code and known[1] is not None:
            return known[1]
        return _fallback_name(code)

    def _new_modules(self) -> bool:
        """Whether a module was imported since the last visit."""
        modules = sys.modules
        if type(modules) is not dict:
            return False
        # Imports add keys at the end: the same size and last key, checked
        # in constant time, mean none since (a span that makes a dataclass
        # pays this, not a look at every module).
        if (len(modules), next(reversed(modules), None)) == self._last_import:
            return False
        known = self._modules
        for module in list(modules.values()):
            if issubclass(type(module), ModuleType):
                seen = known.get(id(module))
                if seen is None or seen() is not module:
                    return True
        return False

    def _visit_classes(self) -> None:
        modules: dict[int, weakref.ref[ModuleType]] = {}
        if type(sys.modules) is dict:
            for module in list(sys.modules.values()):
                if issubclass(type(module), ModuleType):
                    modules[id(module)] = weakref.ref(module)
        self._modules = modules
        self._last_import = (len(sys.modules), next(reversed(sys.modules), None))
        if len(self._names) >= self._prune_at:
            self._names = {
                key: known for key, known in self._names.items() if known[0]() is not None
            }
            self._prune_at = max(256, 2 * len(self._names))
        seen = {id(object)}
        todo: list[type] = [object]
        while todo:
            cls = todo.pop()
            subclasses: list[type] = _SUBCLASSES(cls)
            for subclass in subclasses:
                if id(subclass) not in seen:
                    seen.add(id(subclass))
                    todo.append(subclass)
            namespace = _TYPE_DICT(cls)
            if (  # what marks a dataclass, a namedtuple, an attrs class
                "__dataclass_fields__" in namespace
                or "_field_defaults" in namespace
                or "__attrs_attrs__" in namespace
            ):
                qualname = _TYPE_QUALNAME(cls)
                if _found_in_module(cls, namespace, qualname):
                    self._learn(namespace, qualname)

    def _learn(self, namespace: Mapping[str, object], qualname: str) -> None:
        for attribute, value in namespace.items():
            if type(attribute) is not str:
                continue
            if type(value) is staticmethod or type(value) is classmethod:
                value = value.__func__
            if type(value) is not FunctionType:
                continue
            # A dataclass's __repr__ is a wrapper around the generated one.
            for function in (value, value.__dict__.get("__wrapped__")):
                if type(function) is not FunctionType:
                    break
                code = function.__code__
                if is_generated(code.co_filename):
                    name = f"{qualname}.{attribute}"
                    known = self._names.get(id(code))
                    if known is None or known[0]() is not code or not known[1] or name < known[1]:
                        # (the least of two names, should two classes share a function)
                        self._names[id(code)] = (weakref.ref(code), name)


def _found_in_module(cls: type, namespace: Mapping[str, object], qualname: str) -> bool:
    """Whether `cls`, or a subclass of it, is what its module holds under
    its qualified name (only through the namespaces: no `__getattr__`)."""
    module_name = namespace.get("__module__")
    modules = sys.modules
    if type(module_name) is not str or type(modules) is not dict:
        return False
    module = modules.get(module_name)
    if not issubclass(type(module), ModuleType):  # isinstance() may ask __class__
        return False
    scope: object = _MODULE_DICT(module)
    found: object = None
    for part in qualname.split("."):
        if type(scope) is not dict and type(scope) is not MappingProxyType:
            return False
        found = scope.get(part)  # a dict or a class's namespace
        scope = _TYPE_DICT(found) if issubclass(type(found), type) else None
    if found is cls:
        return True
    return issubclass(type(found), type) and any(base is cls for base in _TYPE_MRO(found))


def _may_be_a_method(code: CodeType) -> bool:
    """Whether generated code looks like a method a generator wrote: a
    dunder (`__init__`, `__eq__`) or namedtuple's `__new__`."""
    name = code.co_name
    if name == "__create_fn__":  # what dataclasses runs to make the methods
        return False
    return (len(name) > 4 and name.startswith("__") and name.endswith("__")) or _is_namedtuple_new(
        code
    )


def _is_namedtuple_new(code: CodeType) -> bool:
    # namedtuple's __new__ is `eval("lambda _cls, a, b: _tuple_new(_cls, (a, b))")`.
    return code.co_name == "<lambda>" and code.co_names[:1] == ("_tuple_new",)


def _fallback_name(code: CodeType) -> str:
    """A generated method's name where its class was not found: its
    generator's (`<dataclass>.__init__`), else the code's own."""
    name: str = getattr(code, "co_qualname", code.co_name)
    if name.startswith("__create_fn__.<locals>."):  # dataclasses, 3.11+
        return f"<dataclass>.{code.co_name}"
    if _is_namedtuple_new(code):
        return "<namedtuple>.__new__"
    if code.co_filename.startswith("<attrs generated "):
        return f"<attrs>.{code.co_name}"
    return name


_METHODS: Final = _GeneratedMethods()


def line_of_each_offset(code: CodeType) -> list[int]:
    """The source line of the instruction at each byte offset of `code`:
    `co_lines()`, with no-line ranges given the line before them (or the
    function's first line), the line the interpreter's frame reported last."""
    lines = [code.co_firstlineno] * len(code.co_code)
    last = code.co_firstlineno
    for start, end, line in code.co_lines():
        if line is not None:
            last = line
        lines[start:end] = [last] * (end - start)
    return lines


def instructions_by_line(
    ran: Iterable[tuple[CodeType, list[int]]],
) -> dict[tuple[str, int], list[Ran]]:
    """Per `(filename, line)`, the instructions of that line that ran, in
    code order (several code objects may share a line: a comprehension)."""
    ran = list(ran)
    name_generated(code for code, _ in ran)
    by_line: dict[tuple[str, int], list[Ran]] = {}
    for code, counter in ran:
        lines = line_of_each_offset(code)
        described = _describe(code)
        function = function_name(code)
        for offset in compress(range(len(counter)), counter):
            opname, argrepr = described.get(offset, ("?", ""))
            key = (code.co_filename, lines[offset])
            ran_here = Ran(function, counter[offset], opname, argrepr)
            by_line.setdefault(key, []).append(ran_here)
    return by_line


def _describe(code: CodeType) -> dict[int, tuple[str, str]]:
    """Offset to (opname, argument) as `dis` shows them; an EXTENDED_ARG
    prefix the interpreter reports with its instruction (3.10/3.11) is named
    after that instruction."""
    described = {}
    raw = code.co_code
    following: dict[int, dis.Instruction] = {}
    instructions = list(dis.get_instructions(code))
    for before, after in pairwise(instructions):
        following[before.offset] = after
    for instruction in instructions:
        offset = instruction.offset
        if raw[offset] == EXTENDED_ARG and PREFIX_REPORTED_WITH_INSTRUCTION:
            target = following.get(offset, instruction)
            while target.opname == "EXTENDED_ARG" and target.offset in following:
                target = following[target.offset]
            described[offset] = (reported_opname(raw, offset), target.argrepr)
        else:
            described[offset] = (instruction.opname, _short(instruction))
    return described


def _short(instruction: dis.Instruction) -> str:
    """The argument as `dis` shows it, but a code object by its name only."""
    if isinstance(instruction.argval, CodeType):
        return f"<code {getattr(instruction.argval, 'co_qualname', instruction.argval.co_name)}>"
    return instruction.argrepr


#: A function as `FunctionCount` names it: qualified name, file, first line.
FunctionKey = tuple[str, str, int]


def function_key(code: CodeType) -> FunctionKey:
    return (function_name(code), code.co_filename, code.co_firstlineno)


def relative_file(file: str, root: str | None = None) -> str:
    """`file` relative to `root` (else the current directory) when under it;
    a name in angle brackets (`<frozen os>`, `<doctest ...>`) is no path."""
    if file.startswith("<") and file.endswith(">"):
        return file
    try:
        relative = os.path.relpath(file, root)
    except ValueError:  # another drive on Windows
        return file
    return file if relative.startswith(os.pardir) else relative


#: A folded stack is one line, its frames split at `;`: in a frame's label,
#: `;` becomes `:` and every character that ends a line (for
#: `str.splitlines()`, which readers use) its escape, `\u2028`.
LABEL_ESCAPES: Final = {
    ord(";"): ":",
    **{ord(c): ascii(c)[1:-1] for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"},
}


def where(file: str, line: int) -> str:
    """Where a function is, as shown: `file:line`, or "generated code" for
    code made from a string, whose file and line point nowhere."""
    return GENERATED if is_generated(file) else f"{file}:{line}"


def frame_label(code: CodeType, root: str | None = None) -> str:
    """`qualname (file:line)`, a frame of a folded stack, the file relative
    to `root` (else the current directory) when under it; `Point.__init__
    (generated code)` for a method a dataclass wrote."""
    name, file, line = function_key(code)
    return f"{name} ({where(relative_file(file, root), line)})"


def stacks(paths: Sequence[Path], root: str | None = None) -> dict[str, int]:
    """Folded stack (`frame;frame;frame`, outermost first) to the
    instructions run with it innermost, sorted by stack; nodes that ran
    nothing of their own are left out, and equal stacks are added up."""
    name_generated(code for code, _, _ in paths if code is not None)
    labels: list[str] = [""] * len(paths)
    by_code: dict[int, str] = {}
    folded: dict[str, int] = {}
    for index, (code, parent, own) in enumerate(paths):
        if code is None:  # the root: no frame
            continue
        label = by_code.get(id(code))
        if label is None:
            label = by_code[id(code)] = frame_label(code, root).translate(LABEL_ESCAPES)
        labels[index] = f"{labels[parent]};{label}" if labels[parent] else label
        if own:
            folded[labels[index]] = folded.get(labels[index], 0) + own
    return dict(sorted(folded.items()))


def folded_text(paths: Sequence[Path], root: str | None = None) -> str:
    """The folded-stacks file format: one `stack count` line per stack."""
    return "".join(f"{stack} {count}\n" for stack, count in stacks(paths, root).items())


def hottest_stacks(
    paths: Sequence[Path], count: int, root: str | None = None
) -> list[tuple[str, int]]:
    """The `count` stacks that ran the most instructions of their own."""
    ranked = sorted(stacks(paths, root).items(), key=lambda item: (-item[1], item[0]))
    return ranked[:count]


def totals(paths: Sequence[Path]) -> dict[FunctionKey, int]:
    """Each function's instructions with its callees: every instruction run
    under at least one of its frames, counted once even under recursion."""
    name_generated(code for code, _, _ in paths if code is not None)
    keys: list[FunctionKey | None] = [None] * len(paths)
    by_code: dict[int, FunctionKey] = {}
    totals: dict[FunctionKey, int] = {}
    for index, (code, _, own) in enumerate(paths):
        if code is None:
            continue
        key = by_code.get(id(code))
        if key is None:
            key = by_code[id(code)] = function_key(code)
        keys[index] = key
        if not own:
            continue
        on_path: set[FunctionKey] = set()
        node = index
        while node > 0:
            key = keys[node]
            assert key is not None, "a node's parent comes before it"
            on_path.add(key)
            node = paths[node][1]
        for key in on_path:
            totals[key] = totals.get(key, 0) + own
    return totals


def merged(trees: Sequence[Sequence[Path]]) -> list[Path]:
    """Several measurements' call trees as one (their roots joined)."""
    result: list[Path] = [(None, -1, 0)]
    for paths in trees:
        offset = len(result) - 1  # node k of this tree becomes node k + offset
        for code, parent, own in paths[1:]:
            result.append((code, parent + offset if parent > 0 else 0, own))
    return result
