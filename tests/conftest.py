"""Shared fixtures of pytest-xquik's own tests."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator

import pytest

from tests.xquik_server import XquikServer

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No XQUIK_* variable of the developer's shell, nor CI's GITHUB_ACTIONS, reaches a test run."""
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    for name in list(os.environ):
        if name.startswith("XQUIK_") or name.startswith("X_TWITTER_SCRAPER_"):
            monkeypatch.delenv(name)


# pytest-asyncio warns without its loop scope set, and pytest warns about an ini
# option that no installed plugin knows (CI's lowest-bounds job runs without it).
INNER_INI = "[pytest]\n" + (
    "asyncio_default_fixture_loop_scope = function\n"
    if importlib.util.find_spec("pytest_asyncio")
    else ""
)


@pytest.fixture(autouse=True)
def _inner_ini(request: pytest.FixtureRequest) -> None:
    """Give pytester's inner runs an ini file (pytest-asyncio warns without one).

    A test that needs ini options writes its own with ``pytester.makeini(INNER_INI + ...)``.
    """
    if "pytester" in request.fixturenames:
        request.getfixturevalue("pytester").makeini(INNER_INI)


@pytest.fixture
def xquik_server() -> Iterator[XquikServer]:
    """A real Xquik API on 127.0.0.1, fresh for each test."""
    with XquikServer() as server:
        yield server


@pytest.fixture
def live(xquik_server: XquikServer, monkeypatch: pytest.MonkeyPatch) -> XquikServer:
    """Run pytester's inner pytest in live mode against ``xquik_server``."""
    for name, value in xquik_server.env.items():
        monkeypatch.setenv(name, value)
    return xquik_server
