"""Async code that uses the official SDK, tested with a scratch key.

Runs in mock mode by default (no network, no account needed). With
``XQUIK_MODE=live``, a management credential and ``XQUIK_BASE_URL`` (if not
the default), the same tests run against the real service.
"""

from __future__ import annotations

import os

import pytest
from x_twitter_scraper import AsyncXTwitterScraper, AuthenticationError

from pytest_xquik import AsyncScratchKeyFactory, ScratchKey


async def account_plan(client: AsyncXTwitterScraper) -> str:
    """The code under test: which plan is this key's account on?"""
    account = await client.account.retrieve()
    return str(account.plan)


def sdk_client(api_key: str) -> AsyncXTwitterScraper:
    # No retries: a test about a revoked key should fail at once.
    return AsyncXTwitterScraper(
        api_key=api_key, base_url=os.environ.get("XQUIK_BASE_URL"), max_retries=0
    )


@pytest.mark.asyncio
async def test_reads_the_plan_with_a_scratch_key(xquik_api_key: ScratchKey) -> None:
    async with sdk_client(xquik_api_key.full_key) as client:
        assert await account_plan(client)


@pytest.mark.asyncio
async def test_a_revoked_key_is_an_authentication_error(
    xquik_async_api_key_factory: AsyncScratchKeyFactory,
) -> None:
    # Keys made from async code: the management calls run in a worker thread.
    key = await xquik_async_api_key_factory.create("sdk-async-revoked")
    async with sdk_client(key.full_key) as client:
        assert await account_plan(client)
        await xquik_async_api_key_factory.revoke(key)
        with pytest.raises(AuthenticationError):
            await account_plan(client)
