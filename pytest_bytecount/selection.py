"""Which tests this run collected and selected: for stale budgets and pruning.

A budget is stale when its test no longer exists. That can only be judged
for files this run collected (a run of one file says nothing of the others),
and pruning stale budgets is only safe when the run selected the whole suite.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pytest


def _file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


class Collection:
    """What pytest collected, fed by the plugin's collection hooks."""

    def __init__(self, config: pytest.Config) -> None:
        self._config = config
        self._nodeids: set[str] = set()
        self._failed_files: set[str] = set()
        self._deselected = False
        self._from_workers = False  # pytest-xdist: workers report what they kept

    def collected(self, nodeids: Iterable[str], *, from_worker: bool = False) -> None:
        self._nodeids.update(nodeids)
        self._from_workers |= from_worker

    def deselected(self, nodeids: Iterable[str]) -> None:
        self._deselected = True
        self._nodeids.update(nodeids)

    def failed_to_collect(self, nodeid: str) -> None:
        self._failed_files.add(_file_of(nodeid))

    def whole_suite_selected(self) -> bool:
        """No -k, -m, --deselect, --lf, node ids or paths narrowing the run,
        and every file collected without error."""
        config = self._config
        option = config.option
        narrowed = (
            self._deselected
            or bool(self._failed_files)
            or bool(getattr(option, "keyword", ""))
            or bool(getattr(option, "markexpr", ""))
            or bool(getattr(option, "deselect", None))
            or bool(getattr(option, "lf", False))
            or bool(getattr(option, "stepwise", False))
        )
        if narrowed:
            return False
        if config.args_source is not pytest.Config.ArgsSource.ARGS:
            return True
        invocation = config.invocation_params.dir
        whole = {config.rootpath.resolve()} | {
            (config.rootpath / path).resolve() for path in config.getini("testpaths")
        }
        return all("::" not in arg and (invocation / arg).resolve() in whole for arg in config.args)

    def seen(self, budgets: Mapping[str, int]) -> list[str]:
        """Budgeted node ids this run collected, selected or not."""
        return sorted(nodeid for nodeid in budgets if nodeid in self._nodeids)

    def stale(self, budgets: Mapping[str, int], groups: Iterable[str] = ()) -> list[str]:
        """Budgeted node ids whose test is gone, and recorded `max_complexity`
        groups (`test_sort[n=*]`) whose test function is gone, among what
        this run can judge."""
        if not self._nodeids and not self._failed_files:
            return []
        judged = {_file_of(nodeid) for nodeid in self._nodeids}
        if self._from_workers and not self.whole_suite_selected():
            judged = set()  # workers do not report what they deselected
        rootpath = self._config.rootpath

        def judgeable(nodeid: str) -> bool:
            file = _file_of(nodeid)
            return file not in self._failed_files and (
                file in judged or not (rootpath / file).exists()
            )

        functions = {nodeid.split("[", 1)[0] for nodeid in self._nodeids}
        gone = [nodeid for nodeid in budgets if nodeid not in self._nodeids]
        gone += [group for group in groups if group.split("[", 1)[0] not in functions]
        return sorted(nodeid for nodeid in gone if judgeable(nodeid))
