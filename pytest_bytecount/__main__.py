"""`python -m pytest_bytecount`: the `pytest-bytecount` command."""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
