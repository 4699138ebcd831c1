"""Mock mode follows the API contract, seen by a user's tests through plain httpx."""

from __future__ import annotations

import pytest

from tests.extras import needs

CONTRACT = """
import json
import re

import httpx
import pytest

from pytest_xquik import XquikApiError

BASE = "https://xquik.com/api/v1"


def test_create_answers_201_with_a_flat_body(xquik_admin, xquik_mock):
    token = xquik_admin._credential.headers
    response = httpx.post(BASE + "/api-keys", json={"name": "Production"}, headers=token)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "fullKey", "prefix", "name", "createdAt"}
    assert body["id"].isdigit()
    assert re.fullmatch(r"xq_[0-9a-f]{64}", body["fullKey"])
    assert body["fullKey"].startswith(body["prefix"])
    assert body["name"] == "Production"
    assert re.fullmatch(r"\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z", body["createdAt"])


def test_create_defaults_the_name_and_rejects_malformed_bodies(xquik_admin, xquik_mock):
    headers = {**xquik_admin._credential.headers, "content-type": "application/json"}
    assert httpx.post(BASE + "/api-keys", json={}, headers=headers).json()["name"] == "Default"
    bad_json = httpx.post(BASE + "/api-keys", content=b"{nope", headers=headers)
    assert (bad_json.status_code, bad_json.json()["error"]) == (400, "invalid_json")
    bad_name = httpx.post(BASE + "/api-keys", json={"name": 5}, headers=headers)
    assert (bad_name.status_code, bad_name.json()["error"]) == (400, "invalid_input")


def test_list_never_shows_the_secret_and_marks_revoked_keys_inactive(
    xquik_api_key, xquik_mock
):
    headers = {"X-API-KEY": xquik_api_key.full_key}  # header names are case-insensitive
    other = xquik_mock.add_key("other")
    assert httpx.delete(BASE + f"/api-keys/{other.id}", headers=headers).json() == {
        "success": True
    }
    listing = httpx.get(BASE + "/api-keys", headers=headers)
    assert listing.status_code == 200
    assert "fullKey" not in listing.text and xquik_api_key.full_key not in listing.text
    states = {item["id"]: item["isActive"] for item in listing.json()["keys"]}
    assert states == {xquik_api_key.id: True, other.id: False}


def test_revoke_answers_404_when_unknown_or_already_revoked_and_400_for_bad_ids(
    xquik_api_key, xquik_mock
):
    other = xquik_mock.add_key()
    url = BASE + f"/api-keys/{other.id}"
    assert httpx.delete(url, headers=xquik_api_key.headers).status_code == 200
    again = httpx.delete(url, headers=xquik_api_key.headers)
    assert (again.status_code, again.json()["error"]) == (404, "not_found")
    unknown = httpx.delete(BASE + "/api-keys/999999", headers=xquik_api_key.headers)
    assert unknown.status_code == 404
    bad = httpx.delete(BASE + "/api-keys/abc", headers=xquik_api_key.headers)
    assert (bad.status_code, bad.json()["error"]) == (400, "invalid_id")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-api-key": "xq_" + "0" * 64},
        {"Authorization": "Bearer nope"},
        {"Cookie": "session_token=nope"},
    ],
)
@pytest.mark.parametrize("path", ["/account", "/api-keys", "/tweets/search"])
def test_every_route_answers_401_to_a_missing_or_unknown_credential(
    xquik_mock, headers, path
):
    xquik_mock.route("GET", "/tweets/search", json={"tweets": []})
    response = httpx.get(BASE + path, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthenticated"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["www-authenticate"] == 'Bearer realm="xquik"'


def test_a_revoked_key_gets_401_and_a_bearer_xq_value_counts_as_an_api_key(
    xquik_api_key, xquik_mock
):
    bearer = {"Authorization": f"Bearer {xquik_api_key.full_key}"}
    assert httpx.get(BASE + "/account", headers=bearer).status_code == 200
    httpx.delete(BASE + f"/api-keys/{xquik_api_key.id}", headers=bearer)
    assert httpx.get(BASE + "/account", headers=bearer).status_code == 401


def test_added_routes_answer_working_keys(xquik_api_key, xquik_mock):
    xquik_mock.route("GET", "/tweets/search", json={"tweets": [1, 2]})
    response = httpx.get(BASE + "/tweets/search", headers=xquik_api_key.headers)
    assert response.json() == {"tweets": [1, 2]}
    assert [request.url.path for request in xquik_mock.requests][-1] == "/api/v1/tweets/search"


def test_the_limit_of_100_active_keys_answers_403(xquik_api_key_factory, xquik_mock):
    for _ in range(100):
        xquik_mock.add_key()
    with pytest.raises(XquikApiError) as raised:
        xquik_api_key_factory.create()
    assert raised.value.status == 403
    assert raised.value.code == "api_key_limit_reached"


def test_fail_next_makes_the_next_call_fail_with_the_status(xquik_admin, xquik_mock):
    xquik_mock.fail_next("list", 429, retry_after=7)
    response = httpx.get(BASE + "/api-keys", headers=xquik_admin._credential.headers)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.json() == {
        "error": "rate_limit_exceeded", "message": "Too many requests", "retryAfter": 7
    }
    assert httpx.get(BASE + "/api-keys", headers=xquik_admin._credential.headers).status_code == 200


@pytest.mark.asyncio
async def test_async_clients_of_the_code_under_test_are_intercepted(xquik_api_key, xquik_mock):
    async with httpx.AsyncClient(base_url=BASE) as client:
        response = await client.get("/account", headers=xquik_api_key.headers)
    assert response.status_code == 200


def test_requests_to_other_hosts_pass_through(xquik_api_key):
    with pytest.raises(httpx.ConnectError):
        httpx.get("http://127.0.0.1:9/", timeout=2)


def test_a_base_url_lookalike_is_not_intercepted(xquik_api_key):
    with pytest.raises(httpx.ConnectError):
        httpx.get("http://127.0.0.1:9/api/v1/account", timeout=2)
"""


@needs("pytest-asyncio")
def test_the_mock_follows_the_api_contract(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(CONTRACT)
    result = pytester.runpytest()
    result.assert_outcomes(passed=23)


def test_the_mock_is_fresh_for_each_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import httpx

        SEEN = []

        def test_first(xquik_api_key, xquik_mock):
            SEEN.append(xquik_api_key)
            xquik_mock.route("GET", "/extra", json={})
            assert len(xquik_mock.keys) == 1
            assert repr(xquik_mock) == (
                "<FakeXquikApi https://xquik.com/api/v1: 1 key(s), 1 active, 1 request(s)>"
            )

        def test_second(xquik_mock):
            assert xquik_mock.keys == [] and xquik_mock.requests == []
            old = SEEN[0]
            response = httpx.get("https://xquik.com/api/v1/account", headers=old.headers)
            assert response.status_code == 401
            assert httpx.get("https://xquik.com/api/v1/extra").status_code == 401
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)


def test_without_a_fixture_in_use_nothing_is_intercepted(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import httpx, pytest

        def test_uses_the_mock(xquik_api_key):
            pass

        def test_after_it():
            transport = httpx.MockTransport(lambda request: httpx.Response(418))
            with httpx.Client(transport=transport) as client:
                assert client.get("https://xquik.com/api/v1/account").status_code == 418
            with pytest.raises(httpx.ConnectError):
                httpx.get("http://127.0.0.1:9/api/v1/account", timeout=2)
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)


def test_xquik_mock_in_live_mode_skips_the_test_with_a_reason(
    pytester: pytest.Pytester, live: object
) -> None:
    pytester.makepyfile("def test_wants_mock(xquik_mock):\n    pass\n")
    result = pytester.runpytest("-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        ["SKIPPED *xquik_mock exists only in mock mode, and this run is in live mode"]
    )
