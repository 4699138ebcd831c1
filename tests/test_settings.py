"""Configuration: one precedence order (command line > environment > ini > default), validated."""

from __future__ import annotations

import pytest

from pytest_xquik.credentials import credential_from_env
from tests.conftest import INNER_INI
from tests.xquik_server import XquikServer

SHOW_SETTINGS = """
from pytest_xquik.fixtures import xquik_session

def test_show(pytestconfig):
    settings = xquik_session(pytestconfig).settings
    for name, value in settings._asdict().items():
        print(f"SETTING {name}={value}")
"""

# setting: (ini name, environment variable, flag, value in ini, in env, on the command line)
PRECEDENCE = {
    "mode": ("xquik_mode", "XQUIK_MODE", "--xquik-mode", "live", "mock", "live"),
    "base_url": (
        "xquik_base_url",
        "XQUIK_BASE_URL",
        "--xquik-base-url",
        "http://ini.test/api/v1",
        "http://env.test/api/v1",
        "http://cli.test/api/v1",
    ),
}


def run_show(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    pytester.makepyfile(SHOW_SETTINGS)
    return pytester.runpytest("-s", *args)


@pytest.mark.parametrize("setting", sorted(PRECEDENCE))
def test_the_command_line_beats_the_environment_which_beats_the_ini_file(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, setting: str
) -> None:
    monkeypatch.setenv("XQUIK_ADMIN_API_KEY", "xq_" + "0" * 64)
    ini, env, flag, in_ini, in_env, on_cli = PRECEDENCE[setting]
    pytester.makeini(INNER_INI + f"{ini} = {in_ini}\n")
    run_show(pytester).stdout.fnmatch_lines([f"*SETTING {setting}={in_ini}"])
    monkeypatch.setenv(env, in_env)
    run_show(pytester).stdout.fnmatch_lines([f"*SETTING {setting}={in_env}"])
    # -o is typed on the command line: it beats the environment, and loses to the flag.
    result = run_show(pytester, "-o", f"{ini}={on_cli}")
    result.stdout.fnmatch_lines([f"*SETTING {setting}={on_cli}"])
    result = run_show(pytester, "-o", f"{ini}={in_env}", f"{flag}={on_cli}")
    result.stdout.fnmatch_lines([f"*SETTING {setting}={on_cli}"])


def test_an_empty_variable_or_override_counts_as_unset(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini(INNER_INI + "xquik_base_url = http://ini.test/api/v1\n")
    monkeypatch.setenv("XQUIK_MODE", "")
    monkeypatch.setenv("XQUIK_BASE_URL", " ")
    result = run_show(pytester, "-o", "xquik_timeout=")
    result.stdout.fnmatch_lines(
        ["*SETTING mode=mock", "SETTING base_url=http://ini.test/api/v1", "SETTING timeout=30.0"]
    )


@pytest.mark.parametrize(
    ("env", "args", "ini", "message"),
    [
        (
            {"XQUIK_MODE": "bogus"},
            ["--xquik-mode=mock"],
            "",
            "*xquik_mode = 'bogus' (from the environment variable XQUIK_MODE)*",
        ),
        (
            {},
            ["-o", "xquik_mode=bogus", "--xquik-mode=mock"],
            "",
            "*xquik_mode = 'bogus' (from the command line -o xquik_mode)*",
        ),
        (
            {"XQUIK_BASE_URL": "http://env.test/api/v1"},
            [],
            "xquik_base_url = ftp://ini.test",
            "*xquik_base_url = 'ftp://ini.test' (from the ini file *tox.ini)*",
        ),
    ],
)
def test_a_bad_value_is_an_error_even_when_another_source_wins(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    args: list[str],
    ini: str,
    message: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    pytester.makeini(INNER_INI + ini + "\n")
    result = run_show(pytester, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: pytest-xquik: {message}"])


@pytest.mark.parametrize(
    "args", [["--help"], ["--version"], ["--fixtures"], ["--fixtures-per-test"], ["--markers"]]
)
def test_help_version_and_fixtures_work_in_live_mode_without_a_credential(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.setenv("XQUIK_MODE", "live")
    pytester.makepyfile("def test_key(xquik_api_key): pass")
    result = pytester.runpytest_subprocess(*args)
    assert result.ret == pytest.ExitCode.OK, result.stderr.str()
    result.stderr.no_fnmatch_line("*pytest-xquik*")


def test_help_works_whatever_the_settings(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XQUIK_MODE", "bogus")
    result = pytester.runpytest("--help")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*--xquik-mode={mock,live}*"])


def test_help_shows_the_type_of_each_ini_option_and_the_flags_values(
    pytester: pytest.Pytester,
) -> None:
    # pytest has int and float ini types from 8.4 on; before, numbers show as strings.
    number = "{}" if pytest.version_tuple >= (8, 4) else "string"
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(
        [
            "*--xquik-mode={mock,live}*",
            "*--xquik-base-url=URL*",
            "*--xquik-sweep-older-than=AGE*",
            "*xquik_timeout (" + number.format("float") + "):*",
            "*xquik_mask_key_pattern (bool):*",
            "*xquik_max_retries (" + number.format("int") + "):*",
            "*xquik_sweep_on_start (bool):*",
        ],
        consecutive=False,
    )


@pytest.mark.parametrize(
    ("args", "env", "header"),
    [
        ([], {}, "xquik: mode=mock (default), base URL=https://xquik.com/api/v1 (default), *"),
        (
            ["--xquik-base-url=http://cli.test/api/v1"],
            {"XQUIK_MODE": "mock"},
            "xquik: mode=mock (environment), base URL=http://cli.test/api/v1 (command line), *",
        ),
        (
            ["-o", "xquik_mode=mock"],
            {"XQUIK_BASE_URL": ""},
            "xquik: mode=mock (command line), base URL=http://ini.test/api/v1 (ini), *",
        ),
    ],
)
def test_the_report_header_says_where_mode_and_base_url_came_from(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    env: dict[str, str],
    header: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if "-o" in args:
        pytester.makeini(INNER_INI + "xquik_base_url = http://ini.test/api/v1\n")
    pytester.runpytest(*args).stdout.fnmatch_lines([header])


@pytest.mark.parametrize(
    ("ini", "value", "expected"),
    [
        ("xquik_mode", "mock", "mode=mock"),
        ("xquik_base_url", "https://example.test/api/v1/", "base_url=https://example.test/api/v1"),
        ("xquik_key_name_prefix", "team-ci", "key_name_prefix=team-ci"),
        ("xquik_timeout", "2.5", "timeout=2.5"),
        ("xquik_session_cookie_name", "__Host-xquik_session", "session_cookie_name=__Host-*"),
        ("xquik_mask_key_pattern", "false", "mask_key_pattern=False"),
        ("xquik_max_retries", "0", "max_retries=0"),
        ("xquik_retry_backoff", "0", "retry_backoff=0.0"),
        ("xquik_rate_limit_deadline", "2.5", "rate_limit_deadline=2.5"),
        ("xquik_on_leak", "warn", "on_leak=warn"),
        ("xquik_sweep_on_start", "yes", "sweep_on_start=True"),
        ("xquik_sweep_older_than", "0", "sweep_older_than=0.0"),
        ("xquik_sweep_older_than", "90s", "sweep_older_than=90.0"),
        ("xquik_sweep_older_than", "30m", "sweep_older_than=1800.0"),
        ("xquik_sweep_older_than", "2h", "sweep_older_than=7200.0"),
        ("xquik_reuse_keys", "true", "reuse_keys=True"),
        ("xquik_mock_management_auth", "session", "mock_management_auth=session"),
        ("xquik_github_add_mask", "false", "github_add_mask=False"),
    ],
)
def test_each_ini_option_is_read(
    pytester: pytest.Pytester, ini: str, value: str, expected: str
) -> None:
    pytester.makeini(INNER_INI + f"{ini} = {value}\n")
    run_show(pytester).stdout.fnmatch_lines([f"*SETTING {expected}"])


def test_the_defaults(pytester: pytest.Pytester) -> None:
    run_show(pytester).stdout.fnmatch_lines(
        [
            "*SETTING mode=mock",
            "SETTING base_url=https://xquik.com/api/v1",
            "SETTING key_name_prefix=pytest-xquik",
            "SETTING timeout=30.0",
            "SETTING session_cookie_name=session_token",
            "SETTING mask_key_pattern=True",
            "SETTING max_retries=3",
            "SETTING retry_backoff=0.5",
            "SETTING rate_limit_deadline=180.0",
            "SETTING on_leak=fail",
            "SETTING sweep_on_start=False",
            "SETTING sweep_older_than=3600.0",
        ]
    )


def test_the_command_line_sets_the_sweep_age_over_the_ini_file(pytester: pytest.Pytester) -> None:
    pytester.makeini(INNER_INI + "xquik_sweep_older_than = 2h\n")
    result = run_show(pytester, "--xquik-sweep-older-than=5m")
    result.stdout.fnmatch_lines(["*SETTING sweep_older_than=300.0"])


def test_ini_options_can_live_in_pyproject_toml(pytester: pytest.Pytester) -> None:
    (pytester.path / "tox.ini").unlink()
    pytester.makepyprojecttoml(
        '[tool.pytest.ini_options]\nasyncio_default_fixture_loop_scope = "function"\n'
        'xquik_key_name_prefix = "from-pyproject"\n'
    )
    run_show(pytester).stdout.fnmatch_lines(["*SETTING key_name_prefix=from-pyproject"])


@pytest.mark.parametrize(
    ("args", "ini", "message"),
    [
        (
            ["--xquik-mode=bogus"],
            "",
            "*xquik_mode = 'bogus' (from the command line --xquik-mode) is not valid: "
            "expected 'mock' or 'live'.",
        ),
        (
            [],
            "xquik_mock_management_auth = cookie",
            "xquik_mock_management_auth = 'cookie' (from the ini file *) is not valid: "
            "expected 'any' or 'session'.",
        ),
        (
            [],
            "xquik_github_add_mask = sometimes",
            "xquik_github_add_mask (from the ini file *) is not valid: expected true or false "
            "(invalid truth value 'sometimes')*",
        ),
        (
            [],
            "xquik_mode = bogus",
            "*xquik_mode = 'bogus' (from the ini file */tox.ini) is not valid: "
            "expected 'mock' or 'live'.",
        ),
        (
            ["-o", "xquik_timeout=-1"],
            "",
            "*xquik_timeout = '-1' (from the command line -o xquik_timeout) is not valid: "
            "expected a positive number of seconds.",
        ),
        (
            [],
            "xquik_timeout = soon",
            # pytest 8.4 and later read the float themselves, and say why they could not.
            "*xquik_timeout* (from the ini file *) is not valid: "
            "*expected a positive number of seconds*",
        ),
        (
            ["--xquik-base-url=ftp://xquik.com/api/v1"],
            "",
            "*xquik_base_url = 'ftp://xquik.com/api/v1' (from the command line "
            "--xquik-base-url) is not valid: expected an http:// or https:// URL with a host.",
        ),
        (
            [],
            "xquik_key_name_prefix = ci",
            "*xquik_key_name_prefix = 'ci' (from the ini file *) is not valid: expected 4 to 40*",
        ),
        (
            [],
            "xquik_session_cookie_name = a b",
            "*xquik_session_cookie_name = 'a b' (from the ini file *) is not valid: "
            "expected a cookie name*",
        ),
    ],
)
def test_a_bad_value_is_a_usage_error_naming_option_source_value_and_what_is_allowed(
    pytester: pytest.Pytester, args: list[str], ini: str, message: str
) -> None:
    pytester.makeini(INNER_INI + ini + "\n")
    pytester.makepyfile("def test_never_runs(): pass")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: pytest-xquik: {message}"])
    result.stdout.no_fnmatch_line("*test_never_runs*")


def test_a_bad_environment_value_names_the_variable(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XQUIK_BASE_URL", "not a url")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*xquik_base_url = 'not a url' (from the environment variable XQUIK_BASE_URL)*"]
    )


def test_live_mode_without_a_credential_stops_before_collection(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile("raise RuntimeError('collected')")
    result = pytester.runpytest("--xquik-mode=live")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: pytest-xquik: live mode needs a management credential for the account, "
            "and none is set. Set one of the environment variables XQUIK_ADMIN_API_KEY, "
            "XQUIK_BEARER_TOKEN, XQUIK_SESSION_TOKEN (checked in that order), or run in "
            "mock mode (--xquik-mode=mock)."
        ]
    )
    assert "collected" not in result.stdout.str()


def test_credentials_are_never_read_from_ini_files(pytester: pytest.Pytester) -> None:
    pytester.makeini(INNER_INI + "xquik_mode = live\nXQUIK_ADMIN_API_KEY = xq_" + "1" * 64 + "\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*live mode needs a management credential*"])


def test_the_report_header_shows_mode_base_url_and_credential_kind_but_no_secret(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(
        [
            f"xquik: mode=live (environment), base URL={live.base_url} (environment), "
            "credential=XQUIK_ADMIN_API_KEY (an API key sent as x-api-key), "
            "key names=pytest-xquik *-*"
        ]
    )
    assert live.admin_api_key[8:] not in result.stdout.str() + result.stderr.str()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--xquik-sweep-older-than=2d"], "*xquik_sweep_older_than = '2d' (from the command line*"),
        (["-o", "xquik_max_retries=-1"], "*xquik_max_retries = '-1' (from the command line -o*"),
        (["-o", "xquik_retry_backoff=soon"], "*xquik_retry_backoff = 'soon'*0 or more*"),
        (["-o", "xquik_rate_limit_deadline=-5"], "*xquik_rate_limit_deadline = '-5'*"),
        (["-o", "xquik_on_leak=ignore"], "*xquik_on_leak = 'ignore'*expected 'fail' or 'warn'*"),
        (["-o", "xquik_sweep_on_start=sometimes"], "*xquik_sweep_on_start*expected true or false*"),
        (["-o", "xquik_key_name_prefix=pyt", "--xquik-sweep"], "*xquik_key_name_prefix = 'pyt'*"),
    ],
)
def test_a_bad_live_mode_option_is_a_usage_error_before_any_request(
    pytester: pytest.Pytester, live: XquikServer, args: list[str], message: str
) -> None:
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert live.requests == []


def test_the_repr_of_a_management_credential_never_shows_its_secret() -> None:
    secret = "s3cret-" + "7" * 20
    credential = credential_from_env({"XQUIK_BEARER_TOKEN": secret}, "session_token")
    assert credential is not None
    assert secret not in repr(credential)
    assert secret not in str(credential)
    assert "XQUIK_BEARER_TOKEN" in repr(credential)
