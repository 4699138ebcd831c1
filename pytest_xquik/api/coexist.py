"""Living beside pytest-httpx: the base URL stays the plugin's, every other host httpx_mock's.

pytest-httpx's ``httpx_mock`` patches httpx's transports above respx, so
without help it would answer (or refuse) the code under test's requests meant
for Xquik (the fixtures' own management calls never pass through it: see
:mod:`pytest_xquik.api.unrecorded`). For each test that uses both, the plugin adds an
``httpx_mock(should_mock=...)`` marker, closest to the test, that keeps
whatever the test's own ``httpx_mock`` markers say for other hosts and leaves
the base URL to pytest-xquik. (respx's ``respx_mock`` needs no help: see
:mod:`pytest_xquik.api.intercept`.)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, cast

import httpx
import pytest

if TYPE_CHECKING:
    from pytest_xquik.session import XquikSession

#: Every test using pytest-xquik's keys or mock depends on one of these (the
#: async client requests its dependencies only when it runs).
_PLUGIN_FIXTURES = frozenset({"xquik_admin", "_xquik_fake", "xquik_async_client"})
ShouldMock = Callable[[httpx.Request], bool]


def _mock_everything(request: httpx.Request) -> bool:
    return True


#: The first pytest-httpx whose ``httpx_mock`` marker takes ``should_mock``.
LOWEST_PYTEST_HTTPX = (0, 33)


def leave_base_url_to_xquik(items: Sequence[pytest.Item], session: XquikSession) -> None:
    """Mark the tests using both ``httpx_mock`` and a pytest-xquik fixture (see the module).

    Raises ``pytest.UsageError`` when pytest-httpx is older than 0.33, which
    cannot leave the base URL to the plugin.
    """
    checked = False
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "httpx_mock" not in names or _PLUGIN_FIXTURES.isdisjoint(names):
            continue
        if not checked:
            _require_pytest_httpx(item)
            checked = True
        # pytest-httpx merges its markers the same way: the closest wins, key by key.
        options: dict[str, object] = {}
        for mark in item.iter_markers("httpx_mock"):
            options = {**mark.kwargs, **options}
        should_mock = cast(ShouldMock, options.get("should_mock", _mock_everything))
        marker = pytest.mark.httpx_mock(should_mock=_unless_xquik(session, should_mock))
        item.add_marker(marker, append=False)


def _require_pytest_httpx(item: pytest.Item) -> None:
    from importlib.metadata import version

    installed = version("pytest-httpx")
    release = tuple(int(part) for part in re.findall(r"[0-9]+", installed)[:2])
    if release < LOWEST_PYTEST_HTTPX:
        raise pytest.UsageError(
            f"pytest-xquik: {item.nodeid} uses pytest-httpx's httpx_mock beside a pytest-xquik "
            f"fixture, which needs pytest-httpx 0.33 or later (installed: {installed}); an "
            "older one would answer the requests meant for Xquik. Upgrade it "
            "(pip install 'pytest-httpx>=0.33'), or use respx's respx_mock in this test."
        )


def _unless_xquik(session: XquikSession, should_mock: ShouldMock) -> ShouldMock:
    from pytest_xquik.api.fake import is_under

    base = httpx.URL(session.settings.base_url)

    def decide(request: httpx.Request) -> bool:
        if is_under(request.url, base):
            return False
        return should_mock(request)

    return decide
