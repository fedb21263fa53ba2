"""The optional compiled core (everything else is in pyproject.toml).

Built for the CPython versions it was written for, where a C compiler and
Python's headers are present. If the build fails, the install still
succeeds and pytest-bytecount counts with its pure-Python core.
"""

import sys
import sysconfig

from setuptools import Extension, setup

COMPILED_CORE_VERSIONS = ((3, 10), (3, 11), (3, 12), (3, 13), (3, 14), (3, 15))

# Its table is guarded by the GIL: a free-threaded build gets the Python core.
FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))

extensions = []
if (
    sys.implementation.name == "cpython"
    and sys.version_info[:2] in COMPILED_CORE_VERSIONS
    and not FREE_THREADED
):
    extensions.append(
        Extension(
            "pytest_bytecount.engine._ccore",
            ["pytest_bytecount/engine/_ccore.c"],
            # Included by _ccore.c: one mechanism's hot path each.
            depends=[
                "pytest_bytecount/engine/_ccore_monitoring.h",
                "pytest_bytecount/engine/_ccore_settrace.h",
                "pytest_bytecount/engine/_ccore_c_calls.h",
            ],
            optional=True,
        )
    )

setup(ext_modules=extensions)
