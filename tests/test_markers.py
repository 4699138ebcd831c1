"""The ``xquik`` and ``xquik_live`` markers: names, fault injection, validation, live-only tests."""

from __future__ import annotations

import pytest

from tests.conftest import INNER_INI
from tests.extras import needs
from tests.xquik_server import XquikServer


def test_markers_merge_argument_by_argument_and_the_closest_wins(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest

        pytestmark = pytest.mark.xquik(name="from-module", fail_list=503)

        def test_module_name(xquik_api_key):
            assert " from-module " in xquik_api_key.name

        @pytest.mark.xquik(name="from-class")
        class TestClass:
            def test_class_name_and_module_fault(self, xquik_api_key, xquik_client):
                assert " from-class " in xquik_api_key.name
                assert xquik_client.get("/api-keys").status_code == 503

            @pytest.mark.xquik(name="from-test", fail_list=[])
            def test_own_name_and_no_fault(self, xquik_api_key, xquik_mock, xquik_client):
                assert " from-test " in xquik_api_key.name
                assert xquik_client.get("/api-keys").status_code == 200
        """
    )
    pytester.runpytest().assert_outcomes(passed=3)


def test_create_faults_answer_in_order_then_the_call_succeeds(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import httpx
        import pytest

        @pytest.mark.xquik(fail_create=[429, 503, "timeout", "disconnect"], retry_after=7)
        def test_retry_code_sees_each_fault(xquik_api_key, xquik_mock):
            url = xquik_mock.base_url + "/api-keys"
            with httpx.Client(headers=xquik_api_key.headers) as client:
                limited = client.post(url, json={"name": "mine"})
                assert limited.status_code == 429
                assert limited.headers["Retry-After"] == "7"
                assert limited.json()["error"] == "rate_limit_exceeded"
                assert limited.json()["retryAfter"] == 7
                unavailable = client.post(url, json={"name": "mine"})
                assert unavailable.status_code == 503
                assert "Retry-After" not in unavailable.headers
                with pytest.raises(httpx.ReadTimeout):
                    client.post(url, json={"name": "mine"})
                with pytest.raises(httpx.RemoteProtocolError):
                    client.post(url, json={"name": "mine"})
                assert client.post(url, json={"name": "mine"}).status_code == 201
            # The failed calls left no key behind: the fixture's and the last one.
            assert [key.name for key in xquik_mock.keys][1:] == ["mine"]
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


@needs("pytest-asyncio")
def test_transport_faults_reach_async_clients_too(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import httpx
        import pytest

        @pytest.mark.asyncio
        @pytest.mark.xquik(fail_revoke=["timeout", "disconnect"], fail_list=500)
        async def test_async_code(xquik_api_key, xquik_mock):
            base = xquik_mock.base_url
            async with httpx.AsyncClient(base_url=base, headers=xquik_api_key.headers) as client:
                assert (await client.get("/api-keys")).status_code == 500
                with pytest.raises(httpx.ReadTimeout):
                    await client.delete(f"/api-keys/{xquik_api_key.id}")
                with pytest.raises(httpx.RemoteProtocolError):
                    await client.delete(f"/api-keys/{xquik_api_key.id}")
                assert (await client.get("/api-keys")).status_code == 200
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_the_plugins_management_client_reports_an_injected_fault_as_an_api_error(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest
        from pytest_xquik import XquikApiError

        @pytest.mark.xquik(fail_create="disconnect")
        def test_factory_create(xquik_api_key_factory):
            with pytest.raises(XquikApiError, match=r"create \\(POST /api-keys\\) failed: "
                               r"RemoteProtocolError: Server disconnected"):
                xquik_api_key_factory.create()
            assert xquik_api_key_factory.create().full_key.startswith("xq_")
        """
    )
    pytester.makeini(INNER_INI + "xquik_max_retries = 0\n")  # one fault, one error
    pytester.runpytest().assert_outcomes(passed=1)


def test_the_fixtures_own_calls_never_meet_the_marker_faults(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.xquik(fail_create=500, fail_revoke=[500, "timeout"])
        def test_uses_a_key_but_calls_nothing(xquik_api_key, xquik_client, xquik_mock):
            assert len(xquik_mock.active_keys) == 2

        def test_next_test_has_no_fault_left(xquik_api_key_factory):
            xquik_api_key_factory.create()
        """
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2)


def test_a_fault_marker_on_a_test_without_the_mock_says_what_to_request(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.xquik(fail_create=503)
        def test_without_mock():
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*@pytest.mark.xquik(fail_... or rate_limits=...) sets up pytest-xquik's mock, "
            "which this test does not use: request xquik_mock (or a key fixture).*"
        ]
    )


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        (
            "xquik(nmae='x')",
            "unknown argument(s) nmae; it takes name, fail_create, fail_list, fail_revoke, "
            "retry_after, management_auth, rate_limits",
        ),
        (
            "xquik(management_auth='cookie')",
            "management_auth='cookie' is not 'any' or 'session'",
        ),
        (
            "xquik(rate_limits={'posts': 3})",
            "rate_limits={'posts': 3}: expected a dict of bucket (reads, writes, deletes) to a "
            "limit (a whole number >= 0) or a (limit, window seconds) pair",
        ),
        ("xquik('x')", "it takes keyword arguments only *, not the positional ('x',)"),
        (
            "xquik(fail_create=[429, 200])",
            "fail_create=[[]429, 200[]]: 200 is not a fault; give an HTTP status from 400 to 599, "
            "'timeout' or 'disconnect', or a list of them",
        ),
        ("xquik(fail_revoke='slow')", "fail_revoke='slow': 'slow' is not a fault;*"),
        ("xquik(retry_after=0)", "retry_after=0 is not a whole number of seconds >= 1"),
        ("xquik(name='')", "name='' is not a non-empty string"),
    ],
)
def test_a_wrong_marker_argument_is_a_collection_error_naming_the_test(
    pytester: pytest.Pytester, marker: str, message: str
) -> None:
    pytester.makepyfile(
        f"""
        import pytest

        pytestmark = pytest.mark.xquik(name="fine")

        @pytest.mark.{marker}
        def test_wrong(xquik_api_key):
            pass

        def test_fine():
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR collecting test_a_wrong_marker_argument*",
            f"test_a_wrong_marker_argument*.py::test_wrong: @pytest.mark.xquik: {message}",
        ]
    )
    result.stdout.no_fnmatch_line("*During handling*")


def test_a_wrong_class_marker_fails_the_collection_of_the_class(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.xquik(fail_create="never")
        class TestWrong:
            def test_one(self):
                pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)

    result.stdout.fnmatch_lines(["*TestWrong::test_one: @pytest.mark.xquik: fail_create='never'*"])


def test_live_only_tests_are_skipped_in_mock_mode_with_how_to_run_them(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.xquik_live
        def test_needs_the_service(xquik_api_key):
            raise AssertionError("must not run in mock mode")

        def test_mocked(xquik_api_key):
            pass
        """
    )
    result = pytester.runpytest("-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "SKIPPED [[]1[]] *: needs the real Xquik service: run with --xquik-mode=live "
            "(or XQUIK_MODE=live) and a management credential in XQUIK_ADMIN_API_KEY, "
            "XQUIK_BEARER_TOKEN or XQUIK_SESSION_TOKEN"
        ]
    )


def test_in_live_mode_live_only_tests_run_and_fault_tests_are_skipped(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.xquik_live
        @pytest.mark.xquik(name="live-one")
        def test_needs_the_service(xquik_api_key):
            assert " live-one " in xquik_api_key.name

        @pytest.mark.xquik(fail_create=503)
        def test_injects_faults(xquik_api_key):
            raise AssertionError("must not run in live mode")
        """
    )
    result = pytester.runpytest("-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "SKIPPED *@pytest.mark.xquik(fail_... or rate_limits=...) sets up faults in the mock, "
            "and this run is in live mode"
        ]
    )
    assert [" live-one " in key.name for key in live.scratch_keys(active=False)] == [True]
    assert live.scratch_keys(active=True) == []


def test_the_markers_are_registered_and_listed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.xquik_live
        def test_live():
            pass

        @pytest.mark.xquik(name="strict")
        def test_named(xquik_api_key):
            pass
        """
    )
    pytester.runpytest("--strict-markers").assert_outcomes(passed=1, skipped=1)
    listed = pytester.runpytest("--markers")
    listed.stdout.fnmatch_lines(
        [
            "@pytest.mark.xquik(*, name=None, fail_create=(), fail_list=(), fail_revoke=(), "
            "retry_after=1, management_auth=None, rate_limits=None): *",
            "@pytest.mark.xquik_live: the test needs the real Xquik service; *",
        ]
    )


def test_fail_next_takes_transport_faults_too(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import httpx
        import pytest
        from pytest_xquik import XquikApiError

        def test_timeout_then_success(xquik_api_key, xquik_mock, xquik_admin):
            xquik_mock.fail_next("revoke", "timeout")
            with pytest.raises(XquikApiError, match=r"revoke .* failed: ReadTimeout: timed out"):
                xquik_admin.revoke(xquik_api_key.id)
            assert xquik_api_key.id in [key.id for key in xquik_mock.active_keys]

        def test_unknown_fault(xquik_mock):
            with pytest.raises(ValueError, match="an HTTP status or one of timeout, disconnect"):
                xquik_mock.fail_next("create", "slow")
        """
    )
    pytester.makeini(INNER_INI + "xquik_max_retries = 0\n")  # one fault, one error
    pytester.runpytest().assert_outcomes(passed=2)
