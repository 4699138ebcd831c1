"""Every secret the plugin can see is masked, in mock mode as in live mode.

The management credentials and the account's other secrets in the
environment, and the user information of the base URL.
"""

from __future__ import annotations

import secrets

import pytest

from pytest_xquik.credentials import CREDENTIAL_VARIABLES, OTHER_SECRET_VARIABLES
from tests.leaks import assert_no_secret
from tests.xquik_server import XquikServer

VARIABLES = [variable for variable, _ in CREDENTIAL_VARIABLES] + list(OTHER_SECRET_VARIABLES)

SHOWS_THE_VARIABLE = """
import os

def test_compares(xquik_api_key):
    print("the credential:", os.environ["{variable}"])
    assert {{"token": os.environ["{variable}"]}} == {{"token": "something else"}}
"""


@pytest.mark.parametrize("variable", VARIABLES)
def test_a_secret_in_the_environment_is_masked_in_mock_mode(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    secret = secrets.token_urlsafe(24)
    monkeypatch.setenv(variable, secret)
    pytester.makepyfile(SHOWS_THE_VARIABLE.format(variable=variable))
    result = pytester.runpytest("-vv", "-rA", "--junitxml=junit.xml")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["the credential: [[]MASKED]"])
    assert_no_secret(result, pytester.path, [secret], masked_in=["stdout", "junit.xml"])


def test_in_live_mode_the_credentials_not_in_use_are_masked_too(
    pytester: pytest.Pytester, live: XquikServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # XQUIK_ADMIN_API_KEY (the live server's) is the one in use; this one is not.
    secret = secrets.token_urlsafe(24)
    monkeypatch.setenv("XQUIK_SESSION_TOKEN", secret)
    pytester.makepyfile(SHOWS_THE_VARIABLE.format(variable="XQUIK_SESSION_TOKEN"))
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    assert_no_secret(result, pytester.path, [secret, live.admin_api_key])


def test_a_placeholder_shorter_than_a_secret_is_left_alone(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Masking "test" would mask every test name in the output.
    monkeypatch.setenv("XQUIK_API_KEY", "test")
    pytester.makepyfile(SHOWS_THE_VARIABLE.format(variable="XQUIK_API_KEY"))
    result = pytester.runpytest("-v")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*::test_compares FAILED*", "the credential: test"])


PRINTS_THE_URL = """
import os

def test_prints(xquik_client):
    print("base URL:", xquik_client.base_url)
    print("password:", xquik_client.base_url.password or xquik_client.base_url.username)
    assert xquik_client.get("/api-keys").status_code == 200
    assert str(xquik_client.base_url) == "something else"
"""


@pytest.mark.parametrize(
    "userinfo",
    ["deploy:{password}", "{password}", "deploy:p%40ss{password}"],
    ids=["user-and-password", "token-only", "encoded"],
)
def test_the_user_information_of_the_base_url_never_prints(
    pytester: pytest.Pytester, userinfo: str
) -> None:
    password = secrets.token_urlsafe(16)
    userinfo = userinfo.format(password=password)
    pytester.makepyfile(PRINTS_THE_URL)
    result = pytester.runpytest(
        f"--xquik-base-url=https://{userinfo}@xquik.example/api/v1", "-rA", "-vv"
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "xquik: mode=mock (default), base URL=https://[[]MASKED]@xquik.example/api/v1 "
            "(command line), *",
            "base URL: https://[[]MASKED]@xquik.example/api/v1/",
            "password: [[]MASKED]",
        ]
    )
    assert_no_secret(result, pytester.path, [password, userinfo])
    assert "deploy" not in result.stdout.str()


def test_a_bad_base_url_with_user_information_is_reported_without_it(
    pytester: pytest.Pytester,
) -> None:
    password = secrets.token_urlsafe(16)
    result = pytester.runpytest(f"--xquik-base-url=https://deploy:{password}/x@xquik.example:80a")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*xquik_base_url = 'https://[[]MASKED]@xquik.example:80a' (from the command line "
            "--xquik-base-url) is not valid: expected an http(s) URL."
        ]
    )
    assert password[:8] not in result.stdout.str() + result.stderr.str()


def test_in_live_mode_the_user_information_reaches_no_file(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    password = secrets.token_urlsafe(16)
    base_url = live.base_url.replace("://", f"://deploy:{password}@")
    pytester.makepyfile(
        """
        import pathlib
        import shutil

        def test_keeps_a_copy_of_the_ledger(xquik_api_key):
            # The ledger names the service by its URL; a clean run deletes it at the end.
            (ledger,) = pathlib.Path(".pytest_cache").rglob("*.jsonl")
            shutil.copy(ledger, "ledger-copy.txt")
        """
    )
    result = pytester.runpytest(f"--xquik-base-url={base_url}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["xquik: mode=live (*), base URL=http://[[]MASKED]@127.0.0.1:*"])
    ledger = (pytester.path / "ledger-copy.txt").read_text()
    assert "http://[MASKED]@127.0.0.1:" in ledger
    assert_no_secret(result, pytester.path, [password, f"deploy:{password}"], masked_in=[])
