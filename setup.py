"""The optional compiled core (everything else is in pyproject.toml).

Built for the CPython versions it was written for, where a C compiler and
Python's headers are present. If the build fails, the install still
succeeds and pytest-bytecount counts with its pure-Python core.
"""

import sys

from setuptools import Extension, setup

COMPILED_CORE_VERSIONS = ((3, 12), (3, 13), (3, 14), (3, 15))

extensions = []
if sys.implementation.name == "cpython" and sys.version_info[:2] in COMPILED_CORE_VERSIONS:
    extensions.append(
        Extension(
            "pytest_bytecount.engine._ccore",
            ["pytest_bytecount/engine/_ccore.c"],
            optional=True,
        )
    )

setup(ext_modules=extensions)
