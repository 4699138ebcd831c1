"""Live mode against a real HTTP server on 127.0.0.1: keys, credentials, clients, errors."""

from __future__ import annotations

import re

import pytest

from tests.conftest import INNER_INI
from tests.xquik_server import XquikServer


def test_a_live_key_works_against_the_service_and_is_revoked_after_the_test(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    pytester.makepyfile(
        f"""
        import httpx

        def test_uses_key(xquik_api_key):
            response = httpx.get("{live.base_url}/account", headers=xquik_api_key.headers)
            assert response.status_code == 200
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)
    [key] = live.scratch_keys()
    assert not key.is_active
    assert key.name.startswith("pytest-xquik ")
    assert key.name.endswith("_after_the_test.py::test_uses_key")
    assert [r for r in live.requests if r[0] in ("POST", "DELETE")] == [
        ("POST", "/api/v1/api-keys"),
        ("DELETE", f"/api/v1/api-keys/{key.id}"),
    ]


def test_the_scratch_key_is_typed_immutable_and_usable_as_a_string(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    pytester.makepyfile(
        """
        import dataclasses
        import re
        import httpx
        import pytest
        from pytest_xquik import ScratchKey

        def test_key(xquik_api_key):
            key = xquik_api_key
            assert isinstance(key, ScratchKey)
            assert re.fullmatch(r"xq_[0-9a-f]{64}", key.full_key)
            assert isinstance(key.full_key, str) and key.full_key.startswith(key.prefix)
            assert key.created_at.tzinfo is not None
            assert key.headers == {"x-api-key": key.full_key}
            assert key.full_key[8:] not in repr(key) and key.full_key[8:] not in repr(key.full_key)
            assert repr(key.full_key) == repr(key.full_key[:8] + "[MASKED]")
            with pytest.raises(dataclasses.FrozenInstanceError):
                key.id = "1"
            with httpx.Client(headers={"x-api-key": key.full_key}) as client:
                assert client.headers["x-api-key"] == str(key.full_key)
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_xquik_client_is_authenticated_as_its_own_key_and_closed_after_the_test(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    pytester.makepyfile(
        f"""
        CLIENTS = []

        def test_client(xquik_client):
            CLIENTS.append(xquik_client)
            assert str(xquik_client.base_url) == "{live.base_url}/"
            assert xquik_client.get("/account").status_code == 200

        def test_closed_afterwards():
            assert CLIENTS[0].is_closed
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)
    assert len(live.scratch_keys()) == 1
    assert live.scratch_keys(active=True) == []


def test_the_admin_client_creates_lists_and_revokes_with_typed_results(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    pytester.makepyfile(
        """
        from pytest_xquik import ApiKeyInfo, ScratchKey

        def test_admin(xquik_admin):
            key = xquik_admin.create("reporting")
            assert isinstance(key, ScratchKey)
            assert key.name.startswith("pytest-xquik ")
            assert " reporting " in key.name and key.name.endswith(".py::test_admin")
            listed = {info.id: info for info in xquik_admin.list()}
            assert isinstance(listed[key.id], ApiKeyInfo)
            assert listed[key.id].is_active and listed[key.id].prefix == key.prefix
            assert xquik_admin.revoke(key.id) is True
            assert xquik_admin.revoke(key.id) is False
            assert not {info.id: info for info in xquik_admin.list()}[key.id].is_active
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_keys_the_admin_client_makes_are_named_after_the_running_test_in_every_phase(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    pytester.makepyfile(
        test_named="""
        import pytest

        @pytest.fixture
        def made_around(xquik_admin):
            xquik_admin.revoke(xquik_admin.create("setup").id)
            yield
            xquik_admin.revoke(xquik_admin.create("teardown").id)

        @pytest.mark.parametrize("case", ["a (b)"])
        def test_named(made_around, xquik_admin, case):
            xquik_admin.revoke(xquik_admin.create("body").id)
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)
    # <prefix> <run>-<n> <label> <test>
    names = sorted(key.name.split(" ", 2)[2] for key in live.scratch_keys())
    assert names == [
        f"{label} test_named.py::test_named[a (b)]" for label in ("body", "setup", "teardown")
    ]


def test_every_key_name_is_unique_and_starts_with_the_configured_prefix(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    pytester.makeini(INNER_INI + "xquik_key_name_prefix = team-ci\n")
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("n", range(3))
        def test_keys(xquik_api_key_factory, n):
            xquik_api_key_factory.create("same name")
            xquik_api_key_factory.create("same name")
        """
    )
    pytester.runpytest().assert_outcomes(passed=3)
    names = [key.name for key in live.scratch_keys()]
    assert len(names) == len(set(names)) == 6
    assert all(name.startswith("team-ci ") and " same name " in name for name in names)
    run_ids = {name.split()[1].rsplit("-", 1)[0] for name in names}
    assert len(run_ids) == 1


@pytest.mark.parametrize(
    ("variables", "described"),
    [
        (
            ["XQUIK_ADMIN_API_KEY", "XQUIK_BEARER_TOKEN", "XQUIK_SESSION_TOKEN"],
            "XQUIK_ADMIN_API_KEY (an API key sent as x-api-key)",
        ),
        (
            ["XQUIK_BEARER_TOKEN", "XQUIK_SESSION_TOKEN"],
            "XQUIK_BEARER_TOKEN (an OAuth bearer token sent as Authorization: Bearer)",
        ),
        (
            ["XQUIK_SESSION_TOKEN"],
            "XQUIK_SESSION_TOKEN (a dashboard session token sent as a cookie)",
        ),
    ],
)
def test_the_first_credential_set_is_used_and_the_header_says_which(
    pytester: pytest.Pytester,
    live: XquikServer,
    monkeypatch: pytest.MonkeyPatch,
    variables: list[str],
    described: str,
) -> None:
    secrets = {
        "XQUIK_ADMIN_API_KEY": live.admin_api_key,
        "XQUIK_BEARER_TOKEN": live.bearer_token,
        "XQUIK_SESSION_TOKEN": live.session_token,
    }
    for name, secret in secrets.items():
        if name in variables:
            monkeypatch.setenv(name, secret)
        else:
            monkeypatch.delenv(name, raising=False)
    pytester.makepyfile("def test_key(xquik_api_key):\n    pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"xquik: mode=live (environment), *, credential={described}, *"])


def test_the_session_cookie_name_is_configurable(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    with XquikServer(session_cookie_name="__Host-xquik_session") as server:
        monkeypatch.setenv("XQUIK_MODE", "live")
        monkeypatch.setenv("XQUIK_BASE_URL", server.base_url)
        monkeypatch.setenv("XQUIK_SESSION_TOKEN", server.session_token)
        pytester.makepyfile("def test_key(xquik_api_key):\n    pass\n")
        pytester.runpytest().assert_outcomes(errors=1)  # the default cookie name is refused
        pytester.runpytest("-o", "xquik_session_cookie_name=__Host-xquik_session").assert_outcomes(
            passed=1
        )


def test_a_refused_credential_names_its_kind_and_the_alternatives_never_the_secret(
    pytester: pytest.Pytester, live: XquikServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "xq_" + "ab" * 32
    monkeypatch.setenv("XQUIK_ADMIN_API_KEY", wrong)
    pytester.makepyfile("def test_key(xquik_api_key):\n    pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "create (POST /api-keys) answered 401 "
            "unauthenticated: Missing or invalid credentials. The credential used was "
            "XQUIK_ADMIN_API_KEY (an API key sent as x-api-key); some versions of the service "
            "accept only a dashboard session cookie for key management. The plugin also accepts "
            "XQUIK_BEARER_TOKEN (an OAuth bearer token sent as Authorization: Bearer); "
            "XQUIK_SESSION_TOKEN (a dashboard session token sent as a cookie)."
        ]
    )
    assert wrong[8:20] not in result.stdout.str() + result.stderr.str()


def test_an_undocumented_body_is_named_with_the_call_the_status_and_an_excerpt(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    import httpx

    live.inject(
        "POST",
        "/api-keys",
        lambda request, api: httpx.Response(403, text="<html>upstream exploded</html>"),
    )
    pytester.makepyfile("def test_key(xquik_api_key):\n    pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "create (POST /api-keys) answered 403 "
            "(no error code): the body is not the documented JSON: "
            "'<html>upstream exploded</html>'"
        ]
    )


@pytest.mark.parametrize("plugins", [(), ("-p", "no:asyncio")], ids=["asyncio", "no-asyncio"])
def test_errors_of_the_plugins_fixtures_are_shown_as_their_message_naming_test_and_phase(
    pytester: pytest.Pytester, live: XquikServer, plugins: tuple[str, ...]
) -> None:
    live.fail("POST", "/api-keys", 400, code="invalid_input")
    live.fail("DELETE", "/api-keys/", 403, code="forbidden")
    pytester.makepyfile(
        test_x="""
        def test_setup(xquik_client):
            pass

        def test_teardown(xquik_api_key):
            pass
        """
    )
    result = pytester.runpytest(*plugins)
    result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at setup of test_setup _*",
            "create (POST /api-keys) answered 400 invalid_input: Bad request",
            "*_ ERROR at teardown of test_teardown _*",
            "pytest-xquik could not revoke 1 key(s); they are still active:",
            "  - key id=* prefix=xq_* name='pytest-xquik *::test_teardown': revoke (DELETE "
            "/api-keys/*) answered 403 forbidden: Forbidden",
            "A live run tries them again at its end; *",
            "*= short test summary info =*",
            "ERROR test_x.py::test_setup - pytest_xquik.errors.XquikApiError: create *",
            "ERROR test_x.py::test_teardown - pytest_xquik.errors.XquikRevokeError: *",
        ]
    )
    output = result.stdout.str()
    assert "All traceback entries are hidden" not in output
    errors = output.split("= ERRORS =")[1].split("\n=")[0]
    assert not re.search(r"\.py:\d+", errors), errors  # no frame, no file:line
    # Frames are there for whoever asks for them.
    live.fail("POST", "/api-keys", 400, code="invalid_input")
    full = pytester.runpytest(*plugins, "--full-trace")
    assert "pytest_xquik/factory.py" in full.stdout.str()
