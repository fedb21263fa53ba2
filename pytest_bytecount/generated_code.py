"""What reports call a function, and code made from a string at run time.

A function is named by its code's qualified name, except a method that
dataclasses, namedtuple or attrs wrote from a string: it is named after the
class it is in (`Point.__init__`), found without running Python code a span
would count. `is_generated` tells such code by its pseudo-file name.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Iterable, Mapping, Sequence
from types import CodeType, FunctionType, MappingProxyType, ModuleType
from typing import Final, final

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
