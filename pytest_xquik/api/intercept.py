"""Route the process's httpx traffic for the base URL to the fake API (mock mode).

Built on respx: one router, started the first time a mock-mode fixture is
used and stopped when the session ends, patches every httpx client of the
process (sync and async, the code under test's and the official SDK's). It
answers only while a fixture is using the fake API, and only requests under
the base URL; everything else is left to the next respx router a test started
(``respx_mock``), or passed through to the network as if the plugin were not
there.
"""

from __future__ import annotations

import httpx
import respx
from respx.mocks import HTTPCoreMocker

from pytest_xquik.api.fake import FakeXquikApi


class Interceptor:
    """Patches httpx (through respx) so that the fake API answers its requests."""

    def __init__(self, api: FakeXquikApi) -> None:
        self._api = api
        self._router: respx.MockRouter | None = None

    def start(self) -> None:
        """Start patching (once), and be the first router respx asks."""
        if self._router is None:
            router = respx.MockRouter(assert_all_called=False, assert_all_mocked=True)
            router.route().mock(side_effect=self._dispatch)
            router.start()
            self._router = router
        # respx asks its routers in the order they started, and a test's own
        # router may answer everything (``respx_mock`` with assert_all_mocked=False
        # answers 200): ours, which answers only the base URL, goes first. respx
        # has no public way to order routers, hence ``Mocker.routers``.
        routers = HTTPCoreMocker.routers
        routers.remove(self._router)
        routers.insert(0, self._router)

    def stop(self) -> None:
        """Stop patching httpx."""
        if self._router is not None:
            self._router.stop(quiet=True)
            self._router = None

    def forget_calls(self) -> None:
        """Drop respx's record of the calls so far (it keeps every request otherwise)."""
        if self._router is not None:
            self._router.calls.clear()

    def _dispatch(self, request: httpx.Request) -> httpx.Response | httpx.Request | None:
        if self._api.in_use and self._api.owns(request.url):
            return self._api.handle(request)
        # Not ours. respx gives each started router its turn; ``None`` says "no
        # match" and lets a test's own router answer. respx has no public way
        # to ask whether another router is started, hence ``Mocker.routers``.
        if HTTPCoreMocker.routers == [self._router]:
            return request  # the only router: pass through to the network
        return None
