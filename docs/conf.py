"""Sphinx configuration for the pytest-bytecount documentation.

Built offline with warnings as errors and nitpicky references:
``sphinx-build -W --keep-going -n -b html docs docs/_build/html``.
"""

from __future__ import annotations

import pytest_bytecount

project = "pytest-bytecount"
author = "pytest-bytecount developers"
copyright = "pytest-bytecount developers"
release = pytest_bytecount.__version__
version = ".".join(release.split(".")[:2])

# autodoc only: no intersphinx, so the build never touches the network.
extensions = ["sphinx.ext.autodoc"]

# Single backticks in the package's docstrings mean code, as in the source.
default_role = "literal"

# Signatures with type hints would link to targets that cannot resolve under
# -n without intersphinx (collections.abc.Iterable, type variables, private
# helper classes); the API page states the types in prose instead.
autodoc_typehints = "none"
autodoc_member_order = "bysource"

exclude_patterns = ["_build"]

html_theme = "furo"
html_title = f"pytest-bytecount {release}"
