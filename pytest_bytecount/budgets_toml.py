"""The budgets file's text, both ways (pure, no pytest): TOML read into
plain tables and checked, each problem a `BudgetsError` of one line that
names the file and quotes the bad key or value (`parse_file`); and tables
written back as TOML, one line per test (`file_text`). What reading accepts
is also what writers check first (`MAX_BUDGET`, `is_text`, `check_text`).

Besides budgets, a table holds the growth classes `--bytecount-update`
records for `max_complexity` tests, a string per group:
`"tests/test_sort.py::test_sort[n=*]" = "n log n"`.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from .complexity import ORDERS
from .escaping import one_line
from .verdict import parse_tolerance

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10
    import tomli as tomllib

#: The largest budget: TOML's integers are 64-bit signed.
MAX_BUDGET: Final = 2**63 - 1

#: A byte order mark some editors put at the start of UTF-8 files; TOML
#: does not allow it, the file is read without it.
BOM: Final = "\ufeff"

#: How much of a bad value an error message quotes.
SHOWN_LENGTH: Final = 60

#: Whitespace as TOML has it (`str.strip` would take more).
TOML_SPACE: Final = " \t"


class BudgetsError(ValueError):
    """The budgets file cannot be used; the message names the file and the problem."""


#: What `parse_file` reads: per interpreter tag, a mapping by node id.
Tables = dict[str, dict[str, int]]
Texts = dict[str, dict[str, str]]


def parse_file(path: Path, raw: bytes) -> tuple[Tables, str, Texts, Texts]:
    """The budget tables, the comment header, the tolerances and the growth
    classes of the budgets file `path` whose bytes are `raw`. `BudgetsError`,
    in one line naming the file, for anything that is not a budgets file."""
    try:
        text = raw.decode("utf-8").removeprefix(BOM)
    except UnicodeDecodeError as exc:
        raise BudgetsError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BudgetsError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        raise BudgetsError(
            f"{path}: not valid TOML: arrays or inline tables nested too deeply"
        ) from None
    except ValueError:
        # An integer longer than Python converts from text (4,300 digits).
        raise BudgetsError(f"{path}: not valid TOML: a number too long to read") from None
    tables, tolerances, classes = _validated(path, data)
    return tables, _header_of(text), tolerances, classes


def file_text(
    header: str,
    tables: Mapping[str, Mapping[str, int]],
    tolerances: Mapping[str, Mapping[str, str]],
    classes: Mapping[str, Mapping[str, str]] = {},
) -> str:
    """The file's text: the header, then tables and keys sorted, for minimal diffs."""
    import tomli_w  # here: only --bytecount-update writes budgets

    texts = []
    for tag in sorted(set(tables) | set(classes)):
        own = tolerances.get(tag, {})
        lines = [tomli_w.dumps({tag: {}}).rstrip("\n")]  # the header, quoted if need be
        entries: dict[str, int | str] = {**tables.get(tag, {}), **classes.get(tag, {})}
        for nodeid, budget in sorted(entries.items()):
            line = tomli_w.dumps({nodeid: budget}).rstrip("\n")
            if nodeid in own:
                # tomli_w writes tables as [sections]; the file keeps one
                # line per test, so the inline table is put together here.
                key = line.rpartition(" = ")[0]
                tolerance = tomli_w.dumps({"tolerance": own[nodeid]}).rstrip("\n")
                line = f"{key} = {{ budget = {budget}, {tolerance} }}"
            lines.append(line)
        texts.append("\n".join(lines) + "\n")
    body = "\n".join(texts)
    return f"{header.rstrip()}\n\n{body}" if header.strip() else body


def _validated(path: Path, data: Mapping[str, Any]) -> tuple[Tables, Texts, Texts]:
    tables: Tables = {}
    tolerances: Texts = {}
    classes: Texts = {}
    for tag, table in data.items():
        if not isinstance(table, dict):
            raise BudgetsError(
                f"{path}: {_quoted(tag)} must be a table of budgets for one interpreter, "
                f'such as ["cpython-312"], not a {_toml_type(table)}'
            )
        tables[tag] = {}
        for nodeid, value in table.items():
            where = f"{path}: [{_quoted(tag)}] {_quoted(nodeid)}"
            if isinstance(value, str):
                classes.setdefault(tag, {})[nodeid] = _growth_class(where, value)
                continue
            if isinstance(value, dict):
                budget, tolerance = _entry(where, value)
                if tolerance is not None:
                    tolerances.setdefault(tag, {})[nodeid] = tolerance
            else:
                budget = _budget(where, value)
            tables[tag][nodeid] = budget
    return tables, tolerances, classes


def _growth_class(where: str, value: str) -> str:
    if value not in ORDERS:
        raise BudgetsError(
            f"{where}: a budget must be a positive integer or an inline table such as "
            f'{{ budget = 1000, tolerance = "2%" }}, and a recorded growth class one of '
            f"{', '.join(ORDERS)}, got {_toml_value(value)}"
        )
    return value


def _budget(where: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise BudgetsError(
            f"{where}: a budget must be a positive integer or an inline table such as "
            f'{{ budget = 1000, tolerance = "2%" }}, got {_toml_value(value)}'
        )
    if value > MAX_BUDGET:
        raise BudgetsError(f"{where}: a budget must be below 2**63, got {_toml_value(value)}")
    return value


def _entry(where: str, entry: Mapping[str, Any]) -> tuple[int, str | None]:
    """`{ budget = n, tolerance = "2%" }`: the budget and the tolerance as written."""
    unknown = sorted(set(entry) - {"budget", "tolerance"})
    if unknown:
        raise BudgetsError(
            f"{where}: unknown key {unknown[0]!r}: an entry's table takes budget and tolerance"
        )
    if "budget" not in entry:
        raise BudgetsError(f"{where}: the inline table has no budget")
    budget = entry["budget"]
    if isinstance(budget, bool) or not isinstance(budget, int) or budget <= 0:
        raise BudgetsError(f"{where}: budget must be a positive integer, got {_toml_value(budget)}")
    if budget > MAX_BUDGET:
        raise BudgetsError(f"{where}: budget must be below 2**63, got {_toml_value(budget)}")
    tolerance = entry.get("tolerance")
    if tolerance is None:
        return budget, None
    if not isinstance(tolerance, str):
        raise BudgetsError(
            f'{where}: tolerance must be a string such as "2%", got {_toml_value(tolerance)}'
        )
    try:
        parse_tolerance(tolerance)
    except ValueError as exc:
        raise BudgetsError(f"{where}: tolerance: {exc}") from None
    return budget, tolerance


def _header_of(text: str) -> str:
    """The comment lines (and blank lines) the file starts with: lines as
    TOML has them, ended by `\n` only (`str.splitlines` would also end one
    at a U+2028 inside a comment, and start a line that is no comment)."""
    header = []
    for line in text.split("\n"):
        line = line.removesuffix("\r")
        if line.strip(TOML_SPACE) and not line.lstrip(TOML_SPACE).startswith("#"):
            break
        header.append(line)
    if not any(line.strip(TOML_SPACE) for line in header):
        return ""
    return "\n".join(header).strip("\n") + "\n"


def _toml_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return type(value).__name__


def _toml_value(value: object) -> str:
    """`value` for an error message, in one line and cut short."""
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and value.bit_length() > 4 * SHOWN_LENGTH:
        return f"an integer of {len(str(value)):,} digits"
    shown = repr(value)
    if len(shown) > SHOWN_LENGTH:
        shown = shown[: SHOWN_LENGTH - 3] + "..."
    return f"{shown} ({_toml_type(value)})"


def _quoted(text: str) -> str:
    """A key in double quotes, as TOML writes it, with every character that
    could end or hide a line escaped: an error message stays one line."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + one_line(escaped) + '"'


def is_text(text: str) -> bool:
    """Whether `text` can be written as UTF-8 (no lone surrogates, such as
    the ones a file name that is not UTF-8 leaves in a node id)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_text(text: object, what: str) -> None:
    if not isinstance(text, str) or not is_text(text):
        raise ValueError(f"{text!r}: a {what} must be text UTF-8 can encode")
