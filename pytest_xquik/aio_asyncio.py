"""The pytest-asyncio variant of ``xquik_async_client``.

Registered by ``pytest_xquik.plugin`` only when pytest-asyncio runs, so that a
run without it (or with ``-p no:asyncio``) never imports it.
"""

from __future__ import annotations

import pytest_asyncio

from pytest_xquik.aio import async_client_fixture

# pytest-asyncio's strict mode runs only the async fixtures it declares itself.
_xquik_async_client_asyncio = pytest_asyncio.fixture(
    async_client_fixture("pytest-asyncio"), name="_xquik_async_client_asyncio"
)
