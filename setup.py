"""Build script for the one thing pyproject.toml cannot declare: the optional C extension.

``agentlytics.fingerprints._native`` does the per-line work of accepted-line fingerprinting for
all-ASCII diffs (see ``src/agentlytics/fingerprints/diff.py``). It is ``optional``: without a C
compiler or the Python headers the build only warns, and the pure-Python path is used.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "agentlytics.fingerprints._native",
            ["src/agentlytics/fingerprints/_native.c"],
            optional=True,
        )
    ]
)
