"""A flaky service: retries, reconciliation of creates, clear errors (mostly in live mode)."""

from __future__ import annotations

import email.utils
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from pytest_xquik.api.admin import XquikAdmin
from pytest_xquik.api.fake import FakeXquikApi
from pytest_xquik.api.retry import RetryPolicy
from pytest_xquik.credentials import ManagementCredential
from pytest_xquik.errors import XquikApiError
from pytest_xquik.masking.masker import SecretMasker
from pytest_xquik.naming import KeyNamer
from tests.conftest import INNER_INI
from tests.xquik_server import (
    FaultAction,
    XquikServer,
    after_effect,
    drop_after_effect,
    slow_after_effect,
)

#: Inner runs retry without real waits.
FAST_RETRIES = INNER_INI + "xquik_retry_backoff = 0.001\n"

ONE_KEY = """
    def test_uses_key(xquik_api_key):
        assert xquik_api_key.id
    """

POST, GET = ("POST", "/api/v1/api-keys"), ("GET", "/api/v1/api-keys")


def _deletes(server: XquikServer) -> int:
    return sum(method == "DELETE" for method, _ in server.requests)


@pytest.fixture
def fast(pytester: pytest.Pytester, live: XquikServer) -> XquikServer:
    """Live mode with retries that wait a millisecond."""
    pytester.makeini(FAST_RETRIES)
    return live


def test_a_create_answered_429_is_retried_and_leaves_no_key(
    pytester: pytest.Pytester, fast: XquikServer
) -> None:
    fast.fail("POST", "/api-keys", 429, times=2, retryAfter=0)
    pytester.makepyfile(ONE_KEY)
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert fast.requests.count(POST) == 3
    assert fast.scratch_keys(active=True) == []
    result.stdout.fnmatch_lines(["run *: 1 key(s) created, 1 revoked, 0 leaked"])


def test_create_list_and_revoke_all_ride_out_a_503_burst(
    pytester: pytest.Pytester, fast: XquikServer
) -> None:
    fast.fail("POST", "/api-keys", 503, times=3)
    fast.fail("DELETE", "/api-keys/", 502, times=3)
    fast.fail("GET", "/api-keys", 504, times=3)
    pytester.makepyfile(ONE_KEY)
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    # 503s happen before the service acts: each ambiguous create is checked with a list.
    assert len(fast.scratch_keys()) == 1
    assert fast.scratch_keys(active=True) == []
    result.stdout.fnmatch_lines(["run *: 1 key(s) created, 1 revoked, 0 leaked"])


def test_a_call_is_given_up_after_xquik_max_retries(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    pytester.makeini(FAST_RETRIES + "xquik_max_retries = 2\n")
    live.inject("POST", "/api-keys", lambda r, a: httpx.Response(502, text="<html>502</html>"), 9)
    pytester.makepyfile(ONE_KEY)
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    assert live.requests.count(POST) == 3
    result.stdout.fnmatch_lines(
        [
            "*create (POST /api-keys, attempt 3 of 3) answered 502 (no error code): "
            "the body is not the documented JSON: '<html>502</html>'*"
        ]
    )
    assert live.scratch_keys() == []


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (403, "api_key_limit_reached", "*at its limit of API keys*--xquik-sweep*"),
        (400, "invalid_input", "*answered 400 invalid_input*"),
    ],
)
def test_other_errors_are_not_retried(
    pytester: pytest.Pytester, fast: XquikServer, status: int, code: str, expected: str
) -> None:
    fast.fail("POST", "/api-keys", status, code=code)
    pytester.makepyfile(ONE_KEY)
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([expected])
    assert fast.requests.count(POST) == 1
    assert fast.scratch_keys() == []


@pytest.mark.parametrize(
    ("fault", "timeout"),
    [(drop_after_effect, 30), (after_effect(503), 30), (slow_after_effect(30), 1)],
    ids=["dropped connection", "503", "timeout"],
)
def test_a_key_made_by_a_create_that_failed_anyway_is_revoked_before_the_retry(
    pytester: pytest.Pytester, live: XquikServer, fault: FaultAction, timeout: int
) -> None:
    pytester.makeini(FAST_RETRIES + f"xquik_timeout = {timeout}\n")
    live.inject("POST", "/api-keys", fault)
    pytester.makepyfile(ONE_KEY)
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    first, second = live.scratch_keys()
    assert first.name == second.name  # one unique name, looked up after the failure
    assert live.scratch_keys(active=True) == []
    result.stdout.fnmatch_lines(["run *: 2 key(s) created, 2 revoked, 0 leaked"])


def test_a_key_the_lookup_after_a_failed_create_missed_is_revoked_at_the_end(
    pytester: pytest.Pytester, fast: XquikServer
) -> None:
    fast.inject("POST", "/api-keys", drop_after_effect)
    fast.fail("GET", "/api-keys", 403, code="forbidden")
    pytester.makepyfile(ONE_KEY)
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "create (POST /api-keys) failed: RemoteProtocolError*the key may "
            "have been created anyway, and finding or revoking it by its name 'pytest-xquik *' "
            "failed: list (GET /api-keys) answered 403 forbidden*The end of the run looks for "
            "it again*",
            "run *: 1 key(s) created, 1 revoked (1 at the end of the run), 0 leaked",
        ]
    )
    assert fast.requests.count(POST) == 1
    assert fast.scratch_keys(active=True) == []


def test_a_key_made_by_a_create_answered_with_an_undocumented_201_is_revoked(
    pytester: pytest.Pytester, fast: XquikServer
) -> None:
    def missing_fields(request: httpx.Request, api: FakeXquikApi) -> httpx.Response:
        api.handle(request)
        return httpx.Response(201, json={"id": "1"})

    def not_json(request: httpx.Request, api: FakeXquikApi) -> httpx.Response:
        api.handle(request)
        return httpx.Response(201, text="<html>Created</html>")

    fast.inject("POST", "/api-keys", missing_fields)
    fast.inject("POST", "/api-keys", not_json)
    pytester.makepyfile(ONE_KEY.replace("test_uses_key", "test_second_key") + ONE_KEY)
    result = pytester.runpytest()
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "*create (POST /api-keys) answered 201 (no error code): the body is not the "
            "documented JSON*KeyError*",
            "*create (POST /api-keys) answered 201 (no error code): the body is not the "
            "documented JSON: '<html>Created</html>'*",
            "run *: 2 key(s) created, 2 revoked, 0 leaked",
        ]
    )
    assert len(fast.scratch_keys()) == 2
    assert fast.scratch_keys(active=True) == []


@pytest.mark.parametrize("status", [500, 501, 599])
def test_every_5xx_is_retried_and_a_key_a_500_made_anyway_is_revoked_first(
    pytester: pytest.Pytester, fast: XquikServer, status: int
) -> None:
    fast.inject("POST", "/api-keys", after_effect(status))
    fast.fail("DELETE", "/api-keys/", status, times=2)
    pytester.makepyfile(ONE_KEY)
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["run *: 2 key(s) created, 2 revoked, 0 leaked"])
    orphan, key = fast.scratch_keys()
    assert orphan.name == key.name
    assert fast.scratch_keys(active=True) == []
    assert fast.requests.count(POST) == 2


def test_a_429_that_asks_for_more_than_the_deadline_fails_at_once_naming_the_options(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    pytester.makeini(INNER_INI + "xquik_rate_limit_deadline = 5\n")
    live.fail("POST", "/api-keys", 429, retryAfter=120)
    pytester.makepyfile(ONE_KEY)
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "create (POST /api-keys) answered 429 rate_limit_exceeded: Too many requests. "
            "Rate limited: the service's create bucket reopens in 120 s. This call may wait "
            "5 s more of xquik_rate_limit_deadline = 5 s for rate limits. The service allows "
            "each account about 30 creates and 15 revokes a minute: raise "
            "xquik_rate_limit_deadline, run fewer pytest-xdist workers, or share one key per "
            "process with --xquik-reuse-keys"
        ]
    )
    assert live.requests.count(POST) == 1


def test_a_429_without_a_schedule_is_a_retry_and_its_last_failure_names_rate_limiting(
    pytester: pytest.Pytester, fast: XquikServer
) -> None:
    pytester.makeini(FAST_RETRIES + "xquik_max_retries = 1\n")
    fast.inject(
        "DELETE",
        "/api-keys/",
        lambda r, a: httpx.Response(429, json={"error": "rate_limit_exceeded"}),
        2,
    )
    pytester.makepyfile(ONE_KEY)
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*revoke (DELETE /api-keys/*, attempt 2 of 2) answered 429 rate_limit_exceeded: "
            "(no message). Rate limited: the service's revoke bucket is closed, and the 429 did "
            "not say for how long; 1 retries (xquik_max_retries) are used up.*",
            "run *: 1 key(s) created, 1 revoked (1 at the end of the run), 0 leaked",
        ]
    )


def test_each_attempt_is_logged_at_debug_without_secrets(
    pytester: pytest.Pytester, fast: XquikServer
) -> None:
    fast.fail("POST", "/api-keys", 503)
    pytester.makepyfile(ONE_KEY)
    result = pytester.runpytest("--log-cli-level=DEBUG")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*create (POST /api-keys) answered 503*; retrying in *",
            "*create (POST /api-keys, attempt 2 of 4): 201*",
            "*revoke (DELETE /api-keys/*): 200*",
        ]
    )
    output = result.stdout.str()
    assert fast.admin_api_key not in output
    assert all(key.full_key not in output for key in fast.scratch_keys())


@pytest.fixture
def make_admin(xquik_server: XquikServer) -> Iterator[Callable[[RetryPolicy], XquikAdmin]]:
    """Build management clients of ``xquik_server`` with a given retry policy."""
    admins: list[XquikAdmin] = []

    def make(policy: RetryPolicy) -> XquikAdmin:
        credential = ManagementCredential("bearer", "XQUIK_BEARER_TOKEN", xquik_server.bearer_token)
        client = httpx.Client(base_url=xquik_server.base_url, headers=credential.headers)
        namer = KeyNamer("pytest-xquik", "run1")
        admins.append(XquikAdmin(client, credential, namer, SecretMasker(), retry=policy))
        return admins[-1]

    yield make
    for admin in admins:
        admin.close()


def test_the_client_waits_what_retry_after_asks_and_backs_off_otherwise(
    xquik_server: XquikServer, make_admin: Callable[[RetryPolicy], XquikAdmin]
) -> None:
    waits: list[float] = []
    admin = make_admin(RetryPolicy(3, 0.5, 60, sleep=waits.append, jitter=lambda: 1.0))
    xquik_server.fail("GET", "/api-keys", 429, retryAfter=7)
    xquik_server.fail("GET", "/api-keys", 503, times=2)
    admin.list()
    assert waits == [7.0, 0.5, 1.0]


def test_retry_after_in_the_body_counts_when_the_header_is_missing(
    xquik_server: XquikServer, make_admin: Callable[[RetryPolicy], XquikAdmin]
) -> None:
    waits: list[float] = []
    admin = make_admin(RetryPolicy(3, 0.5, 60, sleep=waits.append))
    body = {"error": "rate_limit_exceeded", "retryAfterMs": 1500}
    xquik_server.inject("GET", "/api-keys", lambda r, a: httpx.Response(429, json=body))
    admin.list()
    assert waits == [1.5]


def _http_date(seconds_from_now: float) -> str:
    moment = datetime.now(timezone.utc) + timedelta(seconds=seconds_from_now)
    return email.utils.format_datetime(moment, usegmt=True)


def test_a_retry_after_given_as_an_http_date_is_waited_for(
    xquik_server: XquikServer, make_admin: Callable[[RetryPolicy], XquikAdmin]
) -> None:
    waits: list[float] = []
    admin = make_admin(RetryPolicy(3, 0.5, 120, sleep=waits.append, jitter=lambda: 1.0))
    headers = {"Retry-After": _http_date(60)}
    body = {"error": "rate_limit_exceeded"}
    xquik_server.inject(
        "GET", "/api-keys", lambda r, a: httpx.Response(429, json=body, headers=headers)
    )
    admin.list()
    (wait,) = waits
    assert 1 < wait <= 60  # the date, counted from when the answer came; the backoff was 0.5


def test_a_retry_after_http_date_past_the_rate_limit_deadline_fails_naming_the_wait(
    xquik_server: XquikServer, make_admin: Callable[[RetryPolicy], XquikAdmin]
) -> None:
    admin = make_admin(RetryPolicy(3, 0.5, 5, sleep=lambda seconds: None))
    headers = {"Retry-After": _http_date(600)}
    body = {"error": "rate_limit_exceeded"}
    xquik_server.inject(
        "GET", "/api-keys", lambda r, a: httpx.Response(429, json=body, headers=headers)
    )
    with pytest.raises(
        XquikApiError, match=r"reopens in 59\d(\.\d+)? s.*xquik_rate_limit_deadline = 5 s"
    ):
        admin.list()
    assert xquik_server.requests.count(("GET", "/api/v1/api-keys")) == 1


def test_revoke_takes_404_as_already_revoked_and_does_not_retry_it(
    xquik_server: XquikServer, make_admin: Callable[[RetryPolicy], XquikAdmin]
) -> None:
    admin = make_admin(RetryPolicy(3, 0, 60, sleep=lambda s: None))
    key = admin.create()
    assert admin.revoke(key.id) is True
    assert admin.revoke(key.id) is False
    assert xquik_server.requests.count(("DELETE", f"/api/v1/api-keys/{key.id}")) == 2
    with pytest.raises(XquikApiError, match="answered 400 invalid_id"):
        admin.revoke("not-a-number")


def test_mock_mode_retries_without_waiting(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_rate_limited(xquik_mock, xquik_api_key_factory):
            xquik_mock.fail_next("create", 429, retry_after=30, times=3)
            assert xquik_api_key_factory.create().id
            assert [r.method for r in xquik_mock.requests] == ["POST"] * 4
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)


def test_429s_that_say_when_use_no_retry_and_stop_at_the_deadline(
    xquik_server: XquikServer, make_admin: Callable[[RetryPolicy], XquikAdmin]
) -> None:
    waits: list[float] = []
    admin = make_admin(RetryPolicy(0, 0.5, 5, sleep=waits.append, jitter=lambda: 0.0))
    xquik_server.fail("GET", "/api-keys", 429, times=2, retryAfter=2)
    admin.list()
    assert waits == [2.0, 2.0]
    xquik_server.fail("GET", "/api-keys", 429, times=3, retryAfter=2)
    with pytest.raises(XquikApiError, match="may wait 1 s more of xquik_rate_limit_deadline = 5 s"):
        admin.list()
    assert waits == [2.0, 2.0, 2.0, 2.0]
