"""The "application" of the example suite: code that calls Xquik with an API key."""

from __future__ import annotations

import os

import httpx
from x_twitter_scraper import XTwitterScraper

BASE_URL = os.environ.get("XQUIK_BASE_URL", "https://xquik.com/api/v1")


class NotAuthorized(Exception):
    """The key was refused."""


def account_plan(api_key: str, base_url: str = BASE_URL) -> str:
    """The account's plan, read with plain httpx."""
    with httpx.Client(base_url=base_url, headers={"x-api-key": api_key}) as client:
        response = client.get("/account")
    if response.status_code == 401:
        raise NotAuthorized(response.json()["error"])
    response.raise_for_status()
    return str(response.json()["plan"])


def search_count(client: httpx.Client, query: str) -> int:
    """How many tweets a search finds, through a client the caller configured."""
    response = client.get("/x/tweets/search", params={"q": query})
    response.raise_for_status()
    return len(response.json()["tweets"])


def sdk_plan(api_key: str, base_url: str = BASE_URL) -> str:
    """The account's plan, read with the official SDK."""
    client = XTwitterScraper(api_key=api_key, base_url=base_url)
    return client.account.retrieve().plan
