"""Living beside respx's ``respx_mock`` and pytest-httpx's ``httpx_mock``; other hosts untouched."""

from __future__ import annotations

import pytest

from pytest_xquik.api.coexist import LOWEST_PYTEST_HTTPX
from tests.extras import needs, release
from tests.xquik_server import XquikServer

needs_pytest_httpx = pytest.mark.skipif(
    (release("pytest-httpx") or (0,)) < LOWEST_PYTEST_HTTPX,
    reason="needs pytest-httpx 0.33 or later (test extra)",
)

RESPX_TESTS = """
import httpx
import pytest

def both_answer(respx_mock, key):
    respx_mock.get("https://other.example/items").respond(json={{"items": [1]}})
    assert httpx.get("https://other.example/items").json() == {{"items": [1]}}
    response = httpx.get("https://xquik.com/api/v1/account", headers=key.headers)
    assert response.json()["plan"] == "active"

{marker}
def test_respx_requested_first(respx_mock, xquik_api_key):
    both_answer(respx_mock, xquik_api_key)

{marker}
def test_respx_requested_last(xquik_api_key, respx_mock):
    both_answer(respx_mock, xquik_api_key)

{marker}
@pytest.mark.asyncio
async def test_async_code(respx_mock, xquik_api_key):
    respx_mock.get("https://other.example/items").respond(json={{"items": [2]}})
    async with httpx.AsyncClient(headers=xquik_api_key.headers) as client:
        other = await client.get("https://other.example/items")
        account = await client.get("https://xquik.com/api/v1/account")
    assert other.json() == {{"items": [2]}} and account.json()["plan"] == "active"

{marker}
def test_respx_alone_still_refuses_what_it_does_not_mock(respx_mock, xquik_api_key):
    {unmatched}
"""


@pytest.mark.parametrize(
    ("marker", "unmatched"),
    [
        (
            "",
            "with pytest.raises(Exception, match='not mocked'):\n"
            "        httpx.get('https://other.example/unmocked')",
        ),
        (
            "@pytest.mark.respx(assert_all_mocked=False)",
            "assert httpx.get('https://other.example/unmocked').status_code == 200",
        ),
    ],
    ids=["default respx_mock", "respx_mock answering everything"],
)
@needs("pytest-asyncio")
def test_respx_mock_and_the_plugin_both_answer_in_either_order(
    pytester: pytest.Pytester, marker: str, unmatched: str
) -> None:
    pytester.makepyfile(RESPX_TESTS.format(marker=marker, unmatched=unmatched))
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=4)


HTTPX_MOCK_TESTS = """
import httpx
import os
import pytest

BASE_URL = os.environ.get("XQUIK_BASE_URL", "https://xquik.com/api/v1")

def both_answer(httpx_mock, key):
    httpx_mock.add_response(url="https://other.example/items", json={"items": [1]})
    assert httpx.get("https://other.example/items").json() == {"items": [1]}
    response = httpx.get(BASE_URL + "/account", headers=key.headers)
    assert response.status_code == 200 and response.json()["plan"] == "active"

def test_httpx_mock_requested_first(httpx_mock, xquik_api_key):
    both_answer(httpx_mock, xquik_api_key)

def test_httpx_mock_requested_last(xquik_api_key, httpx_mock):
    both_answer(httpx_mock, xquik_api_key)

@pytest.mark.asyncio
async def test_async_code(httpx_mock, xquik_async_client):
    httpx_mock.add_response(url="https://other.example/items", json={"items": [2]})
    async with httpx.AsyncClient() as client:
        other = await client.get("https://other.example/items")
    account = await xquik_async_client.get("/account")
    assert other.json() == {"items": [2]} and account.status_code == 200

@pytest.mark.httpx_mock(assert_all_requests_were_expected=False)
def test_httpx_mock_alone_still_refuses_what_it_does_not_mock(httpx_mock, xquik_api_key):
    with pytest.raises(httpx.TimeoutException, match="No response can be found"):
        httpx.get("https://other.example/unmocked")
"""


@needs_pytest_httpx
@needs("pytest-asyncio")
def test_httpx_mock_and_the_plugin_both_answer_in_either_order(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(HTTPX_MOCK_TESTS)
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=4)


@needs_pytest_httpx
@needs("pytest-asyncio")
def test_beside_httpx_mock_live_keys_are_still_created_and_revoked(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    pytester.makepyfile(HTTPX_MOCK_TESTS)
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=4)
    assert len(live.scratch_keys()) == 4
    assert live.scratch_keys(active=True) == []


def test_beside_respx_mock_live_keys_are_created_and_revoked_on_the_service(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    """respx patches httpcore; the management client goes past it (see ``api.unrecorded``)."""
    pytester.makepyfile(
        """
        import httpx
        import pytest

        def test_respx_requested_first(respx_mock, xquik_api_key):
            respx_mock.get("https://other.example/items").respond(json={"items": [1]})
            assert httpx.get("https://other.example/items").json() == {"items": [1]}

        @pytest.mark.respx(assert_all_mocked=False)
        def test_respx_answering_everything_requested_last(xquik_api_key, respx_mock):
            assert httpx.get("https://other.example/unmocked").status_code == 200
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)
    assert len(live.scratch_keys()) == 2
    assert live.scratch_keys(active=True) == []


@needs_pytest_httpx
def test_the_tests_own_httpx_mock_options_are_kept(
    pytester: pytest.Pytester, xquik_server: XquikServer
) -> None:
    """``should_mock`` of the test's markers still decides for every host but the base URL."""
    pytester.makepyfile(
        f"""
        import httpx
        import pytest

        pytestmark = pytest.mark.httpx_mock(
            should_mock=lambda request: request.url.host != "127.0.0.1"
        )

        @pytest.mark.httpx_mock(assert_all_responses_were_requested=False)
        def test_loopback_is_real(httpx_mock, xquik_api_key):
            httpx_mock.add_response(url="https://other.example/never")
            real = httpx.get("{xquik_server.base_url}/account")
            assert real.status_code == 401 and real.json()["error"] == "unauthenticated"
            fake = httpx.get("https://xquik.com/api/v1/account", headers=xquik_api_key.headers)
            assert fake.json()["plan"] == "active"
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)
    assert xquik_server.requests == [("GET", "/api/v1/account")]


@needs("pytest-asyncio")
def test_requests_to_other_hosts_reach_them_unchanged_while_the_mock_is_in_use(
    pytester: pytest.Pytester, xquik_server: XquikServer
) -> None:
    pytester.makepyfile(
        f"""
        import httpx
        import pytest

        def test_other_host(xquik_mock):
            with httpx.Client(headers={{"x-api-key": "{xquik_server.admin_api_key}"}}) as client:
                response = client.post("{xquik_server.base_url}/api-keys", json={{"name": "n"}})
            assert response.status_code == 201
            assert xquik_mock.requests == []

        @pytest.mark.asyncio
        async def test_other_host_async(xquik_mock):
            async with httpx.AsyncClient() as client:
                response = await client.get("{xquik_server.base_url}/account")
            assert response.status_code == 401
            assert xquik_mock.requests == []
        """
    )
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=2)
    assert xquik_server.requests == [("POST", "/api/v1/api-keys"), ("GET", "/api/v1/account")]
    assert [key.name for key in xquik_server.scratch_keys()] == ["n"]


@pytest.mark.skipif(
    (release("pytest-httpx") or LOWEST_PYTEST_HTTPX) >= LOWEST_PYTEST_HTTPX,
    reason="needs pytest-httpx older than 0.33 (CI's lowest-bounds job installs 0.30)",
)
def test_an_older_pytest_httpx_is_a_clear_usage_error_never_a_warning(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_both="def test_both(httpx_mock, xquik_api_key):\n    pass\n",
        test_alone="def test_alone(xquik_api_key):\n    pass\n",
    )
    result = pytester.runpytest_subprocess("-W", "error", "test_both.py")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: pytest-xquik: test_both.py::test_both uses pytest-httpx's httpx_mock beside "
            "a pytest-xquik fixture, which needs pytest-httpx 0.33 or later (installed: 0.*"
        ]
    )
    pytester.runpytest_subprocess("-W", "error", "test_alone.py").assert_outcomes(passed=1)


def test_a_fixture_of_your_own_named_httpx_mock_needs_no_pytest_httpx(
    pytester: pytest.Pytester,
) -> None:
    # Without pytest-httpx loaded (or installed), its version is never asked for.
    pytester.makepyfile(
        """
        import pytest

        @pytest.fixture
        def httpx_mock():
            return "mine"

        def test_both(httpx_mock, xquik_api_key):
            assert httpx_mock == "mine" and xquik_api_key.full_key
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:pytest_httpx")
    result.assert_outcomes(passed=1)
