"""The budgets file, `bytecount.toml`: load, validate, look up, update, write.

One table per interpreter tag maps test node ids to instruction budgets. The
file is read and validated once, at the start of the session; updates are
collected during the run and written once at its end (pure, no pytest).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, final

from .files import write_atomically

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10
    import tomli as tomllib

DEFAULT_HEADER: Final = (
    "# Executed-instruction budgets for pytest-bytecount.\n"
    "# `pytest --bytecount-update` rewrites the table of the running interpreter.\n"
)


class BudgetsError(Exception):
    """The budgets file cannot be used; the message names the file and the problem."""


@final
@dataclass(frozen=True)
class Budgets:
    """The content of a budgets file: a comment header and one table per interpreter."""

    path: Path
    tables: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    header: str = DEFAULT_HEADER

    @classmethod
    def load(cls, path: Path) -> Budgets:
        """Read and validate `path`; a missing file is an empty one."""
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return cls(path)
        except OSError as exc:
            raise BudgetsError(f"{path}: cannot read the budgets file: {exc.strerror}") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BudgetsError(
                f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})"
            ) from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise BudgetsError(f"{path}: not valid TOML: {exc}") from None
        return cls(path, _validated(path, data), _header_of(text))

    def table(self, tag: str) -> Mapping[str, int]:
        """The budgets of the interpreter `tag` (empty if it has none)."""
        return self.tables.get(tag, {})

    def updated(
        self, tag: str, counts: Mapping[str, int], *, remove: Iterable[str] = ()
    ) -> Budgets:
        """A copy in which `tag`'s table has `counts` written and `remove` pruned."""
        table = dict(self.table(tag))
        table.update(counts)
        for nodeid in remove:
            table.pop(nodeid, None)
        tables = dict(self.tables)
        if table:
            tables[tag] = table
        else:
            tables.pop(tag, None)
        return Budgets(self.path, tables, self.header)

    def render(self) -> str:
        """The file's text: the header, then tables and keys sorted, for minimal diffs."""
        ordered = {tag: dict(sorted(self.tables[tag].items())) for tag in sorted(self.tables)}
        import tomli_w  # here: only --bytecount-update writes budgets

        body = tomli_w.dumps(ordered)
        return f"{self.header.rstrip()}\n\n{body}" if self.header.strip() else body

    def write(self) -> None:
        write_atomically(self.path, self.render())


def _validated(path: Path, data: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    tables: dict[str, dict[str, int]] = {}
    for tag, table in data.items():
        if not isinstance(table, dict):
            raise BudgetsError(
                f'{path}: "{tag}" must be a table of budgets for one interpreter, '
                f'such as ["cpython-312"], not a {_toml_type(table)}'
            )
        for nodeid, budget in table.items():
            if isinstance(budget, bool) or not isinstance(budget, int) or budget <= 0:
                raise BudgetsError(
                    f'{path}: ["{tag}"] "{nodeid}": a budget must be a positive integer, '
                    f"got {_toml_value(budget)}"
                )
        tables[tag] = dict(table)
    return tables


def _header_of(text: str) -> str:
    """The comment lines (and blank lines) the file starts with."""
    header = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            break
        header.append(line)
    return "\n".join(header).strip("\n") + "\n" if any(h.strip() for h in header) else ""


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
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"{value!r} ({_toml_type(value)})"
