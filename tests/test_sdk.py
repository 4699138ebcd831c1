"""Code using the official SDK (``x_twitter_scraper``, sync and async) works with scratch keys."""

from __future__ import annotations

from pathlib import Path

import pytest

# Imported once here, not again by each inner run; the SDK is in the test extra.
pytest.importorskip("x_twitter_scraper")

from tests.xquik_server import XquikServer

ASYNC_EXAMPLE = Path(__file__).parent.parent / "examples" / "test_sdk_async.py"

SYNC_SDK_TESTS = """
import os

import pytest
from x_twitter_scraper import AuthenticationError, XTwitterScraper

def sdk_client(key):
    return XTwitterScraper(
        api_key=key.full_key, base_url=os.environ.get("XQUIK_BASE_URL"), max_retries=0
    )

def test_sdk_works_with_the_scratch_key(xquik_api_key):
    with sdk_client(xquik_api_key) as client:
        assert client.account.retrieve().plan == "active"

def test_sdk_raises_authentication_error_once_the_key_is_revoked(xquik_api_key, xquik_admin):
    with sdk_client(xquik_api_key) as client:
        client.account.retrieve()
        assert xquik_admin.revoke(xquik_api_key.id) is True
        with pytest.raises(AuthenticationError) as raised:
            client.account.retrieve()
    assert raised.value.status_code == 401
    assert raised.value.body["error"] == "unauthenticated"

def test_sdk_reads_the_key_from_its_environment_variable(xquik_api_key, monkeypatch):
    monkeypatch.setenv("X_TWITTER_SCRAPER_API_KEY", xquik_api_key.full_key)
    with XTwitterScraper(base_url=os.environ.get("XQUIK_BASE_URL")) as client:
        assert client.account.retrieve().plan == "active"
"""


def test_the_sync_sdk_works_with_scratch_keys_in_mock_mode(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SYNC_SDK_TESTS)
    pytester.runpytest().assert_outcomes(passed=3)


def test_the_sync_sdk_works_with_scratch_keys_on_the_live_service(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    pytester.makepyfile(SYNC_SDK_TESTS)
    pytester.runpytest().assert_outcomes(passed=3)
    assert ("GET", "/api/v1/account") in live.requests
    assert len(live.scratch_keys()) == 3
    assert live.scratch_keys(active=True) == []


def test_the_async_sdk_example_passes_in_mock_mode(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_example_copy=ASYNC_EXAMPLE.read_text())
    pytester.runpytest().assert_outcomes(passed=2)


def test_the_async_sdk_example_passes_on_the_live_service(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    pytester.makepyfile(test_example_copy=ASYNC_EXAMPLE.read_text())
    pytester.runpytest().assert_outcomes(passed=2)
    names = [key.name.split(" ", 2)[2] for key in live.scratch_keys(active=False)]
    assert names == [
        "test_example_copy.py::test_reads_the_plan_with_a_scratch_key",
        "sdk-async-revoked test_example_copy.py::test_a_revoked_key_is_an_authentication_error",
    ]
    assert live.scratch_keys(active=True) == []


#: Each of the SDK's clients against the mock: sync, async (httpx) and async over aiohttp.
SDK_CLIENTS = """
import asyncio
import time

import anyio
import pytest
from x_twitter_scraper import (
    AsyncXTwitterScraper,
    AuthenticationError,
    DefaultAioHttpClient,
    RateLimitError,
    XTwitterScraper,
)

KINDS = ["sync", "async", "aiohttp"]


def call(kind, key, method):
    \"\"\"Run ``method(client)`` (e.g. ``lambda c: c.account.retrieve()``) with an SDK client.\"\"\"
    if kind == "sync":
        with XTwitterScraper(api_key=key.full_key) as client:
            return method(client)

    async def run():
        http_client = DefaultAioHttpClient() if kind == "aiohttp" else None
        async with AsyncXTwitterScraper(api_key=key.full_key, http_client=http_client) as client:
            return await method(client)

    return asyncio.run(run())


@pytest.fixture
def sleeps(monkeypatch, xquik_mock):
    \"\"\"The SDK's retry waits: recorded, never really waited, the mock's clock left alone.\"\"\"
    waited = []

    async def async_sleep(seconds):
        waited.append(seconds)

    monkeypatch.setattr(time, "sleep", waited.append)
    monkeypatch.setattr(anyio, "sleep", async_sleep)
    return waited


@pytest.mark.parametrize("kind", KINDS)
def test_the_account_call_works_with_a_scratch_key(kind, xquik_api_key):
    assert call(kind, xquik_api_key, lambda client: client.account.retrieve()).plan == "active"


@pytest.mark.parametrize("kind", KINDS)
def test_a_revoked_key_raises_authentication_error(kind, xquik_api_key, xquik_admin):
    assert xquik_admin.revoke(xquik_api_key.id) is True
    with pytest.raises(AuthenticationError) as raised:
        call(kind, xquik_api_key, lambda client: client.account.retrieve())
    assert raised.value.status_code == 401


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.xquik(rate_limits={"reads": (1, 60)})
def test_a_429_reaches_the_sdk_after_its_retries_honoured_retry_after(
    kind, xquik_api_key, xquik_mock, sleeps
):
    call(kind, xquik_api_key, lambda client: client.account.retrieve())  # the one read allowed
    xquik_mock.advance(15)
    with pytest.raises(RateLimitError) as raised:
        call(kind, xquik_api_key, lambda client: client.account.retrieve())
    assert raised.value.response.headers["Retry-After"] == "45"
    assert sleeps == [45, 45]  # the SDK's two retries each waited what the mock asked
    reads = [r for r in xquik_mock.requests if r.url.path.endswith("/account")]
    assert len(reads) == 4  # the allowed read, then the refused one and its two retries


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.xquik(rate_limits={"reads": (1, 60)})
def test_waiting_out_the_window_on_the_fake_clock_gets_through(
    kind, xquik_api_key, xquik_mock, monkeypatch
):
    async def async_sleep(seconds):
        xquik_mock.advance(seconds)

    monkeypatch.setattr(time, "sleep", xquik_mock.advance)
    monkeypatch.setattr(anyio, "sleep", async_sleep)
    call(kind, xquik_api_key, lambda client: client.account.retrieve())
    assert call(kind, xquik_api_key, lambda client: client.account.retrieve()).plan == "active"
    assert xquik_mock.clock == 60
"""


def test_every_sdk_client_meets_the_mocks_keys_revocations_and_rate_limits(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(SDK_CLIENTS)
    pytester.runpytest_subprocess().assert_outcomes(passed=12)
