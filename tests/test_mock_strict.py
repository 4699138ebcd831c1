"""The mock is as strict as the service, its faults meet the test's own calls, and its limits."""

from __future__ import annotations

import pytest

from tests.conftest import INNER_INI

STRICT = """
import httpx
import pytest

from pytest_xquik import XquikApiError

BASE = "https://xquik.com/api/v1"


def test_the_vendor_prefixed_header_alias_is_an_api_key(xquik_api_key):
    headers = {"Xquik-Api-Key": xquik_api_key.full_key}
    assert httpx.get(BASE + "/account", headers=headers).status_code == 200


def test_account_takes_an_api_key_or_a_bearer_token_never_the_session_cookie(
    xquik_api_key, xquik_admin
):
    session = xquik_admin._credential.headers
    assert "cookie" in {name.lower() for name in session}
    refused = httpx.get(BASE + "/account", headers=session)
    assert (refused.status_code, refused.json()["error"]) == (401, "unauthenticated")
    assert refused.headers["www-authenticate"] == 'Bearer realm="xquik"'
    bearer = {"Authorization": f"Bearer {xquik_api_key.full_key}"}
    assert httpx.get(BASE + "/account", headers=bearer).status_code == 200


def test_a_create_that_is_not_json_gets_415_and_makes_no_key(xquik_api_key, xquik_mock):
    headers = {**xquik_api_key.headers, "Content-Type": "text/plain"}
    response = httpx.post(BASE + "/api-keys", content=b'{"name": "x"}', headers=headers)
    assert response.status_code == 415
    assert response.json() == {
        "error": "unsupported_media_type",
        "message": "Send Content-Type: application/json.",
    }
    no_type = httpx.post(BASE + "/api-keys", headers=xquik_api_key.headers)
    assert no_type.status_code == 415
    assert len(xquik_mock.keys) == 1  # the fixture's own


def test_a_429_always_says_when_to_come_back(xquik_api_key, xquik_mock):
    xquik_mock.fail_next("list", 429)
    xquik_mock.fail_next("list", 429, retry_after=7)
    first = httpx.get(BASE + "/api-keys", headers=xquik_api_key.headers)
    second = httpx.get(BASE + "/api-keys", headers=xquik_api_key.headers)
    assert (first.headers["Retry-After"], first.json()["retryAfter"]) == ("1", 1)
    assert (second.headers["Retry-After"], second.json()["retryAfter"]) == ("7", 7)
    assert first.json()["error"] == "rate_limit_exceeded"


@pytest.mark.xquik(fail_list=429)
def test_a_marker_429_says_it_too(xquik_api_key):
    response = httpx.get(BASE + "/api-keys", headers=xquik_api_key.headers)
    assert (response.headers["Retry-After"], response.json()["retryAfter"]) == ("1", 1)


def test_the_faults_a_test_sets_up_meet_its_own_calls_never_the_fixtures(
    xquik_mock, xquik_api_key
):
    xquik_mock.fail_next("revoke", 500)
    xquik_mock.fail_next("create", 503)
    mine = xquik_mock.add_key("mine")
    response = httpx.delete(BASE + f"/api-keys/{mine.id}", headers=xquik_api_key.headers)
    assert response.status_code == 500
    # the fixture's own revoke, after the test, does not meet the 503 left pending


def test_the_limit_of_100_keys_in_the_mock_suggests_no_live_remedy(xquik_api_key_factory):
    for _ in range(100):
        xquik_api_key_factory.create()
    with pytest.raises(XquikApiError) as raised:
        xquik_api_key_factory.create()
    assert raised.value.status == 403
    assert "mock" in str(raised.value) and "--xquik" not in str(raised.value)
"""


def test_the_mock_is_as_strict_as_the_service(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(STRICT)
    result = pytester.runpytest()
    result.assert_outcomes(passed=7)


def test_the_readme_example_of_xquik_mock_works_as_written(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_search(xquik_mock, xquik_client):
            xquik_mock.route("GET", "/x/tweets/search", json={"tweets": []})
            xquik_mock.fail_next("revoke", 500)           # the next revoke answers 500
            xquik_mock.fail_next("create", 429, retry_after=3, times=2)
            ...
            xquik_mock.keys, xquik_mock.active_keys        # the service's keys
            xquik_mock.requests                            # the httpx.Requests it answered
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert "sweep" not in result.stdout.str()


POLICY = """
import httpx
import pytest

BASE = "https://xquik.com/api/v1"


def manage(headers):
    return httpx.post(BASE + "/api-keys", json={"name": "mine"}, headers=headers)


def test_session_policy(xquik_api_key, xquik_admin, xquik_mock):
    assert xquik_mock.management_auth == "session"
    refused = manage(xquik_api_key.headers)
    assert refused.status_code == 401 and refused.json()["error"] == "unauthenticated"
    assert "session" in refused.json()["message"]
    assert refused.headers["cache-control"] == "no-store"
    bearer = {"Authorization": f"Bearer {xquik_api_key.full_key}"}
    assert httpx.get(BASE + "/api-keys", headers=bearer).status_code == 401
    assert manage(xquik_admin._credential.headers).status_code == 201
    assert httpx.get(BASE + "/account", headers=xquik_api_key.headers).status_code == 200


@pytest.mark.xquik(management_auth="any")
def test_any_policy_by_marker(xquik_api_key, xquik_mock):
    assert xquik_mock.management_auth == "any"
    assert manage(xquik_api_key.headers).status_code == 201


def test_any_policy_by_attribute(xquik_api_key, xquik_mock):
    xquik_mock.management_auth = "any"
    assert manage(xquik_api_key.headers).status_code == 201
    with pytest.raises(ValueError, match="management_auth takes 'any' or 'session', not 'all'"):
        xquik_mock.management_auth = "all"


def test_the_next_test_starts_with_the_ini_policy_again(xquik_mock):
    assert xquik_mock.management_auth == "session"
"""


def test_the_management_policy_is_an_ini_option_and_a_marker(pytester: pytest.Pytester) -> None:
    pytester.makeini(INNER_INI + "xquik_mock_management_auth = session\n")
    pytester.makepyfile(POLICY)
    pytester.runpytest().assert_outcomes(passed=4)


def test_the_default_policy_lets_any_credential_manage_keys(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import httpx

        def test_any(xquik_api_key, xquik_mock):
            assert xquik_mock.management_auth == "any"
            response = httpx.post(
                "https://xquik.com/api/v1/api-keys", json={}, headers=xquik_api_key.headers
            )
            assert response.status_code == 201
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


LIMITS = """
import httpx
import pytest

BASE = "https://xquik.com/api/v1"


@pytest.mark.xquik(rate_limits={"reads": (2, 10)})
def test_a_fixed_window_on_the_fake_clock(xquik_api_key, xquik_mock):
    def account():
        return httpx.get(BASE + "/account", headers=xquik_api_key.headers)

    assert [account().status_code for _ in range(2)] == [200, 200]
    xquik_mock.advance(3.5)
    refused = account()
    assert refused.status_code == 429
    assert refused.json()["error"] == "rate_limit_exceeded"
    assert (refused.headers["Retry-After"], refused.json()["retryAfter"]) == ("7", 7)
    xquik_mock.advance(6.5)  # the next window starts at 10 s
    assert xquik_mock.clock == 10
    assert account().status_code == 200


def test_buckets_count_apart_and_the_fixtures_own_calls_never_count(
    xquik_api_key_factory, xquik_mock
):
    xquik_mock.rate_limit("writes", 1)
    xquik_mock.rate_limit("deletes", 0)
    key = xquik_api_key_factory.create()  # the test's own call: counted
    headers = key.headers
    assert httpx.post(BASE + "/api-keys", json={}, headers=headers).status_code == 429
    assert httpx.get(BASE + "/account", headers=headers).status_code == 200
    revoke = httpx.delete(BASE + f"/api-keys/{key.id}", headers=headers)
    assert (revoke.status_code, revoke.headers["Retry-After"]) == (429, "60")
    # the factory's revokes after the test are the fixture's own: not limited


@pytest.mark.xquik(rate_limits={"writes": 0, "deletes": 0})
def test_a_key_fixture_works_under_any_limit(xquik_api_key, xquik_client):
    assert xquik_client.get("/account").status_code == 200


def test_limits_are_gone_in_the_next_test(xquik_api_key, xquik_mock):
    assert xquik_mock.clock == 0
    for _ in range(5):
        assert httpx.get(BASE + "/account", headers=xquik_api_key.headers).status_code == 200


def test_wrong_limits_are_refused(xquik_mock):
    with pytest.raises(ValueError, match="bucket of reads, writes, deletes, not 'posts'"):
        xquik_mock.rate_limit("posts", 1)
    with pytest.raises(ValueError, match="expected seconds > 0"):
        xquik_mock.rate_limit("reads", 1, window=0)
"""


def test_rate_limits_are_a_test_feature_on_a_fake_clock(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(LIMITS)
    result = pytester.runpytest()
    result.assert_outcomes(passed=5)


def test_a_revoke_failing_in_the_mock_suggests_no_live_remedy(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        from pytest_xquik import ScratchKeyFactory

        @pytest.fixture
        def my_keys(xquik_admin):
            factory = ScratchKeyFactory(xquik_admin, "mine")
            yield factory
            factory.revoke_all()  # the user's own fixture: its revokes are the test's calls

        def test_it(my_keys, xquik_mock):
            my_keys.create()
            xquik_mock.fail_next("revoke", 500, times=10)
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "_* ERROR at teardown of test_it _*",
            "pytest-xquik could not revoke 1 key(s); they are still active in pytest-xquik's mock:",
            "*They exist only in the mock, which forgets them when their fixture's scope ends: "
            "nothing is left on a real account.*",
        ]
    )
    assert "sweep" not in result.stdout.str()


def test_the_plugins_own_waits_move_the_mocks_clock(pytester: pytest.Pytester) -> None:
    """A 429 of the test's rate limit reopens for xquik_admin's retry, without real waiting."""
    pytester.makepyfile(
        """
        def test_it(xquik_mock, xquik_admin):
            xquik_mock.rate_limit("writes", 1, window=10)
            first = xquik_admin.create("first")
            second = xquik_admin.create("second")  # 429, Retry-After 10: waited on the fake clock
            assert xquik_mock.clock == 10
            assert [key.id for key in xquik_mock.active_keys] == [first.id, second.id]
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)
