"""Scratch keys and clients for async tests, under pytest-asyncio or anyio's pytest plugin.

Creating and revoking keys are blocking calls of the management client; from
async code they run in a worker thread (``anyio.to_thread``, which works under
asyncio and trio), so the event loop keeps running while the service answers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

import httpx
import pytest

from pytest_xquik.fixtures import fixture_calls, xquik_session
from pytest_xquik.markers import xquik_options

if TYPE_CHECKING:
    from pytest_xquik.api.admin import XquikAdmin
    from pytest_xquik.factory import ReusedKey, ScratchKeyFactory
    from pytest_xquik.keys import ScratchKey

NO_ASYNC_PLUGIN = (
    "xquik_async_client is an async fixture, and no async test plugin runs this test: "
    "install pytest-asyncio (and mark the test @pytest.mark.asyncio, or set "
    "asyncio_mode = auto), or mark the test @pytest.mark.anyio to run it with anyio."
)


class AsyncScratchKeyFactory:
    """The async face of the ``xquik_api_key_factory`` fixture (``xquik_async_api_key_factory``).

    ``await create(name=None)`` and ``await revoke(key)`` run the management
    call in a worker thread. Every key created is still revoked after the
    test, like the synchronous factory's, whether or not you revoked it.
    """

    def __init__(self, factory: ScratchKeyFactory, admin: XquikAdmin) -> None:
        self._factory = factory
        self._admin = admin

    async def create(self, name: str | None = None) -> ScratchKey:
        """Create a scratch key; ``name`` becomes part of its name."""
        from anyio import to_thread  # imported here: it costs runs that use no async fixture

        return await to_thread.run_sync(self._factory.create, name)

    async def revoke(self, key: ScratchKey) -> bool:
        """Revoke ``key`` now; ``False`` if it was already revoked."""
        from anyio import to_thread

        return await to_thread.run_sync(self._admin.revoke, key.id)


def async_client_fixture_name(request: pytest.FixtureRequest) -> str:
    """Which variant of the async client fixture the test's async plugin can run."""
    if "anyio_backend" in request.fixturenames:
        return "_xquik_async_client_anyio"
    if request.config.pluginmanager.has_plugin("asyncio"):
        return "_xquik_async_client_asyncio"
    pytest.fail(NO_ASYNC_PLUGIN, pytrace=False)


def async_client_fixture(runner: str) -> Callable[..., AsyncIterator[httpx.AsyncClient]]:
    """One variant of the ``xquik_async_client`` fixture's body (each plugin marks its own)."""

    async def client(
        request: pytest.FixtureRequest,
        _xquik_reused_key: ReusedKey | None,
        xquik_async_api_key_factory: AsyncScratchKeyFactory,
    ) -> AsyncIterator[httpx.AsyncClient]:
        with fixture_calls(request.getfixturevalue("_xquik_fake")):
            if _xquik_reused_key is not None:
                from anyio import to_thread

                key = await to_thread.run_sync(_xquik_reused_key.key)
            else:
                key = await xquik_async_api_key_factory.create(xquik_options(request.node).name)
        options = xquik_session(request.config).client_options(key.headers)
        async with httpx.AsyncClient(**options) as client:
            yield client

    client.__doc__ = f"``xquik_async_client`` as {runner} runs it."
    return client


# -- the fixtures (registered by pytest_xquik.plugin) ---------------------------


@pytest.fixture
def xquik_async_api_key_factory(
    xquik_api_key_factory: ScratchKeyFactory, xquik_admin: XquikAdmin
) -> AsyncScratchKeyFactory:
    """A factory of scratch keys for async code: ``await create(name=None)``, ``await revoke(key)``.

    The calls run in a worker thread, so the event loop is never blocked.
    Every key it made is revoked after the test, like ``xquik_api_key_factory``'s.
    """
    return AsyncScratchKeyFactory(xquik_api_key_factory, xquik_admin)


@pytest.fixture
def xquik_async_client(request: pytest.FixtureRequest) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` for the base URL, authenticated as its own scratch key.

    Relative URLs work (``await xquik_async_client.get("/account")``). The
    client is closed and its key revoked after the test (with
    ``--xquik-reuse-keys``, it uses the key this process's tests share). Runs under
    pytest-asyncio (strict or auto mode) and under anyio's plugin
    (``@pytest.mark.anyio``).
    """
    client: httpx.AsyncClient = request.getfixturevalue(async_client_fixture_name(request))
    return client


_xquik_async_client_anyio = pytest.fixture(
    async_client_fixture("anyio's pytest plugin"), name="_xquik_async_client_anyio"
)
