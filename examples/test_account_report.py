"""An example downstream suite: green in mock mode (the default), and in live mode."""

from __future__ import annotations

import httpx
import pytest
from account_report import NotAuthorized, account_plan, sdk_plan, search_count
from x_twitter_scraper import AuthenticationError

from pytest_xquik import FakeXquikApi, ScratchKey, ScratchKeyFactory, XquikAdmin


def test_my_code_reads_the_plan_with_a_scratch_key(xquik_api_key: ScratchKey) -> None:
    assert account_plan(xquik_api_key.full_key) == "active"


def test_the_official_sdk_works_with_a_scratch_key(xquik_api_key: ScratchKey) -> None:
    assert sdk_plan(xquik_api_key.full_key) == "active"


def test_my_code_reports_a_revoked_key(
    xquik_api_key_factory: ScratchKeyFactory, xquik_admin: XquikAdmin
) -> None:
    key = xquik_api_key_factory.create("to-revoke")
    xquik_admin.revoke(key.id)
    with pytest.raises(NotAuthorized):
        account_plan(key.full_key)
    with pytest.raises(AuthenticationError):
        sdk_plan(key.full_key)


def test_search_against_an_endpoint_the_mock_serves(
    xquik_mock: FakeXquikApi, xquik_client: httpx.Client
) -> None:
    # xquik_mock comes first: in live mode the test is skipped before a key is made.
    xquik_mock.route("GET", "/x/tweets/search", json={"tweets": [{"id": "1"}, {"id": "2"}]})
    assert search_count(xquik_client, "pytest") == 2
    assert xquik_mock.requests[-1].url.params["q"] == "pytest"
