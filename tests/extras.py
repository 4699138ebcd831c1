"""Which optional neighbours are installed: tests that need one skip without it.

CI's job on the lowest runtime versions installs none of the test extra, and
runs every test that needs none of it.
"""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version

import pytest


def release(distribution: str) -> tuple[int, ...] | None:
    """The installed release of ``distribution`` (``(0, 33, 1)``), or None."""
    try:
        installed = version(distribution)
    except PackageNotFoundError:
        return None
    return tuple(int(part) for part in re.findall(r"[0-9]+", installed.split("+")[0])[:3])


def needs(*distributions: str) -> pytest.MarkDecorator:
    """Skip the test where one of ``distributions`` is not installed."""
    missing = [name for name in distributions if release(name) is None]
    return pytest.mark.skipif(bool(missing), reason=f"needs {', '.join(missing)} (test extra)")
