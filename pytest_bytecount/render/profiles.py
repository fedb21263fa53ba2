"""`--bytecount-profile=DIR`: each measured test's call paths as a folded
stacks file, and all of them in one speedscope file (pure, no pytest).

Folded stacks (`frame;frame;frame count`) are what flamegraph.pl, inferno
and speedscope read. Speedscope's own format
(https://www.speedscope.app/file-format-schema.json) holds one "sampled"
profile per test: each call path is a sample, weighted by the instructions
run in its innermost frame; the unit is `none` (instructions are no time).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any, Final

SPEEDSCOPE_FILE: Final = "bytecount.speedscope.json"
SPEEDSCOPE_SCHEMA: Final = "https://www.speedscope.app/file-format-schema.json"
#: Longer names are cut, and told apart by a digest of the node id.
LONGEST_NAME: Final = 120
_UNSAFE: Final = re.compile(r"[^A-Za-z0-9._-]")
#: A frame of a folded stack, as `Measurement.folded()` writes it.
_FRAME: Final = re.compile(r"^(?P<name>.*) \((?P<file>.*):(?P<line>\d+)\)$")


def file_names(nodeids: list[str]) -> dict[str, str]:
    """Node id to the name of its `.folded` file: the node id with `::` as
    `__` and every other character unsafe in a file name as `_`, the same
    every run; a name cut for length, or the same as another test's, ends in
    a digest of its node id."""
    plain = {nodeid: _UNSAFE.sub("_", nodeid.replace("::", "__")) for nodeid in nodeids}
    taken: dict[str, int] = {}
    for name in plain.values():
        taken[name.lower()] = taken.get(name.lower(), 0) + 1  # case-insensitive file systems
    names = {}
    for nodeid, name in plain.items():
        if len(name) > LONGEST_NAME or taken[name.lower()] > 1:
            digest = hashlib.sha1(nodeid.encode("utf-8")).hexdigest()[:10]
            name = f"{name[:LONGEST_NAME]}.{digest}"
        names[nodeid] = f"{name}.folded"
    return names


def speedscope(profiles: Mapping[str, str], *, name: str, exporter: str) -> dict[str, Any]:
    """One speedscope file holding a profile per test (node id to folded stacks)."""
    frames: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    out = []
    for nodeid, folded in profiles.items():
        samples: list[list[int]] = []
        weights: list[int] = []
        for line in folded.splitlines():
            stack, _, count = line.rpartition(" ")
            sample = []
            for frame in stack.split(";"):
                at = index.get(frame)
                if at is None:
                    at = index[frame] = len(frames)
                    frames.append(_frame(frame))
                sample.append(at)
            samples.append(sample)
            weights.append(int(count))
        out.append(
            {
                "type": "sampled",
                "name": nodeid,
                "unit": "none",
                "startValue": 0,
                "endValue": sum(weights),
                "samples": samples,
                "weights": weights,
            }
        )
    return {
        "$schema": SPEEDSCOPE_SCHEMA,
        "shared": {"frames": frames},
        "profiles": out,
        "name": name,
        "activeProfileIndex": 0,
        "exporter": exporter,
    }


def _frame(label: str) -> dict[str, Any]:
    match = _FRAME.match(label)
    if match is None:
        return {"name": label}
    return {"name": match["name"], "file": match["file"], "line": int(match["line"])}
