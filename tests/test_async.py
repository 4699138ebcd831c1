"""Async tests: ``xquik_async_client`` under pytest-asyncio and anyio, keys from async code."""

from __future__ import annotations

import sys

import pytest

from tests.conftest import INNER_INI
from tests.extras import needs
from tests.xquik_server import XquikServer

pytestmark = needs("pytest-asyncio")

ASYNC_CLIENT_TESTS = """
import httpx
import os
import sys

import pytest

BASE_URL = os.environ.get("XQUIK_BASE_URL", "https://xquik.com/api/v1")
CLIENTS = []

{marker}
async def test_client_is_authenticated(xquik_async_client, xquik_admin):
    CLIENTS.append(xquik_async_client)
    response = await xquik_async_client.get("/account")
    assert response.status_code == 200
    key = xquik_async_client.headers["x-api-key"]
    assert [k.is_active for k in xquik_admin.list() if key.startswith(k.prefix)] == [True]

{marker}
async def test_code_under_test_reaches_the_service_with_its_own_client(xquik_async_client):
    key = xquik_async_client.headers["x-api-key"]
    async with httpx.AsyncClient() as client:
        response = await client.get(BASE_URL + "/account", headers={{"x-api-key": key}})
    assert response.status_code == 200

def test_the_clients_were_closed():
    assert len(CLIENTS) == 1 and CLIENTS[0].is_closed
"""

RUNNERS = {
    "pytest-asyncio strict mode": ("@pytest.mark.asyncio", ""),
    "pytest-asyncio auto mode": ("", "asyncio_mode = auto\n"),
    "anyio's plugin": ("@pytest.mark.anyio", ""),
}


@pytest.mark.parametrize("runner", RUNNERS)
def test_the_async_client_works_under_each_async_plugin_in_mock_mode(
    pytester: pytest.Pytester, runner: str
) -> None:
    marker, ini = RUNNERS[runner]
    pytester.makeini(INNER_INI + ini)
    pytester.makepyfile(ASYNC_CLIENT_TESTS.format(marker=marker))
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=3)


@pytest.mark.parametrize("runner", ["pytest-asyncio strict mode", "anyio's plugin"])
def test_the_async_client_works_against_the_live_service_and_its_key_is_revoked(
    pytester: pytest.Pytester, live: XquikServer, runner: str
) -> None:
    marker, ini = RUNNERS[runner]
    pytester.makeini(INNER_INI + ini)
    pytester.makepyfile(ASYNC_CLIENT_TESTS.format(marker=marker))
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=3)
    assert len(live.scratch_keys()) == 2
    assert live.scratch_keys(active=True) == []


def test_the_async_client_is_named_by_the_marker(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.asyncio
        @pytest.mark.xquik(name="async-named")
        async def test_named(xquik_async_client, xquik_mock):
            assert [" async-named " in key.name for key in xquik_mock.keys] == [True]
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_without_an_async_plugin_the_async_client_says_what_to_install(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(
        """
        def test_sync_test_asks_for_async_client(xquik_async_client):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:asyncio")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*xquik_async_client is an async fixture, and no async test plugin runs this test: "
            "install pytest-asyncio (and mark the test @pytest.mark.asyncio, or set "
            "asyncio_mode = auto), or mark the test @pytest.mark.anyio to run it with anyio.*"
        ]
    )


NON_BLOCKING = """
import asyncio
import threading

import sys

import pytest

@pytest.fixture
def loop_must_run(monkeypatch, xquik_admin):
    '''Make create and revoke wait until a task of the event loop has run meanwhile.'''
    ran = threading.Event()
    for method in ("create", "revoke"):
        original = getattr(xquik_admin, method)
        def waiting(*args, original=original, **kwargs):
            assert ran.wait(10), "the event loop was blocked during the call"
            return original(*args, **kwargs)
        monkeypatch.setattr(xquik_admin, method, waiting)
    return ran

{marker}
async def test_create_and_revoke_leave_the_loop_running(
    loop_must_run, xquik_async_api_key_factory, xquik_admin
):
    async def meanwhile():
        loop_must_run.set()

    key, _ = await asyncio.gather(xquik_async_api_key_factory.create("from-async"), meanwhile())
    assert " from-async " in key.name
    loop_must_run.clear()
    revoked, _ = await asyncio.gather(xquik_async_api_key_factory.revoke(key), meanwhile())
    assert revoked is True
    assert await xquik_async_api_key_factory.revoke(key) is False
"""


@pytest.mark.parametrize("runner", ["pytest-asyncio strict mode", "anyio's plugin"])
def test_async_code_creates_and_revokes_keys_without_blocking_the_event_loop(
    pytester: pytest.Pytester, live: XquikServer, runner: str
) -> None:
    pytester.makepyfile(NON_BLOCKING.format(marker=RUNNERS[runner][0]))
    pytester.runpytest().assert_outcomes(passed=1)
    assert [key.is_active for key in live.scratch_keys()] == [False]


def test_without_pytest_asyncio_and_xdist_installed_the_plugin_works_under_anyio(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    not_installed = pytester.mkdir("not_installed")
    for package in ("pytest_asyncio", "xdist"):
        (not_installed / package).mkdir()
        (not_installed / package / "__init__.py").write_text(
            f"raise ImportError('No module named {package}')\n"
        )
    monkeypatch.setenv("PYTHONPATH", str(not_installed))
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.anyio
        async def test_async_client(xquik_async_client):
            assert (await xquik_async_client.get("/account")).status_code == 200

        def test_sync_key(xquik_api_key):
            assert xquik_api_key.full_key.startswith("xq_")
            with pytest.raises(ImportError):
                import pytest_asyncio
            with pytest.raises(ImportError):
                import xdist
        """
    )
    disabled = ("-p", "no:asyncio", "-p", "no:xdist", "-p", "no:xdist.looponfail")
    result = pytester.run(sys.executable, "-m", "pytest", *disabled)
    result.assert_outcomes(passed=2)
