"""What makes a program do different work from run to run, as far as the
plugin can see or fix it: the global random generator, string hashing, and
what to say of unstable counts (which the engine detects: `engine/unstable.py`).
No pytest here.
"""

from __future__ import annotations

import os
import random
import sys
import zlib
from typing import Final

#: The `PYTHONHASHSEED` fix, as the header and the warnings give it.
HASH_SEED_FIX: Final = "PYTHONHASHSEED=0"
#: What to do about a test whose count may differ next run.
UNSTABLE_HINT: Final = (
    "a count that varies from run to run needs a tolerance of its own: "
    '@pytest.mark.max_instructions(n, tolerance="2%"), or '
    '{ budget = n, tolerance = "2%" } in the budgets file'
)


def seed_random(nodeid: str) -> None:
    """Seed the global `random` generator with a value of the test's own,
    the same every run and in every process (the node id is; `hash()` of it
    is not, under hash randomisation)."""
    # surrogatepass: a node id from a file name that is not UTF-8 holds lone
    # surrogates (`os.fsdecode`), which strict UTF-8 refuses.
    random.seed(zlib.crc32(nodeid.encode("utf-8", "surrogatepass")))


def hash_seed() -> str:
    """The seed of `str` hashing this interpreter started with: `"random"`,
    or the value of `PYTHONHASHSEED` (read at start-up, as a string)."""
    if not sys.flags.hash_randomization:
        return "0"  # PYTHONHASHSEED=0, or -R not given where it is the default
    value = None if sys.flags.ignore_environment else os.environ.get("PYTHONHASHSEED")
    if value is None or value.strip() in ("", "random"):
        return "random"
    try:
        return str(int(value))  # as Python read it: `+5` and ` 5` are 5
    except ValueError:
        return value.strip()  # not a seed Python starts with; shown as given


def hash_seed_warning() -> str:
    """What varies when the hash seed is random, and the one-line fix."""
    return (
        "PYTHONHASHSEED is not set, so the order of sets of strings changes from run "
        "to run, and with it the counts of tests that iterate them; "
        f"run with {HASH_SEED_FIX} for counts that repeat"
    )
