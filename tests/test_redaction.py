"""No secret reaches pytest's output: one test (or a few) per channel.

Each test writes a user's test file that leaks a live scratch key (from the
loopback server) through one channel, runs pytest, and checks with
:func:`tests.leaks.assert_no_secret` that no run of the key is anywhere in
stdout, stderr or the files the run wrote, and that its masked form is.
"""

from __future__ import annotations

import secrets

import httpx
import pytest

from pytest_xquik.api.fake import FakeXquikApi, error_response
from tests.conftest import INNER_INI
from tests.leaks import assert_no_secret, server_secrets
from tests.xquik_server import XquikServer

#: Inner runs with the key-format backstop off: only registered secrets are masked,
#: so a test passes only if the channel masks what the plugin registered.
WITHOUT_BACKSTOP = INNER_INI + "xquik_mask_key_pattern = false\n"

ASSERTIONS = """
def test_two_keys_are_equal(xquik_api_key_factory):
    key, other = xquik_api_key_factory.create(), xquik_api_key_factory.create()
    assert key.full_key == other.full_key

def test_create_bodies_are_equal(xquik_api_key):
    body = {"id": xquik_api_key.id, "fullKey": str(xquik_api_key.full_key), "prefix": "xq_"}
    assert body == {"id": "0", "fullKey": str(xquik_api_key.full_key), "prefix": "?"}

def test_lists_are_equal(xquik_api_key):
    assert [1, str(xquik_api_key.full_key)] == [2, str(xquik_api_key.full_key) + "!"]

def test_long_header_lines_are_equal(xquik_api_key):
    line = "x-api-key: " + xquik_api_key.full_key + "; " + "padding " * 40
    assert line == "x-api-key: " + xquik_api_key.full_key + "; different"

def test_a_header_holds_a_corrupted_key(xquik_api_key):
    line = "x-api-key: " + xquik_api_key.full_key
    assert line == line[:60] + "corrupted"

def test_key_is_in_a_long_text(xquik_api_key):
    text = "a" * 300 + xquik_api_key.full_key + "b" * 300
    assert xquik_api_key.full_key not in text
"""


@pytest.mark.parametrize("verbosity", [[], ["-vv"]], ids=["default", "-vv"])
def test_assertion_explanations_show_masked_keys(
    pytester: pytest.Pytester, live: XquikServer, verbosity: list[str]
) -> None:
    pytester.makepyfile(ASSERTIONS)
    result = pytester.runpytest(*verbosity)
    result.assert_outcomes(failed=6)
    assert_no_secret(result, pytester.path, server_secrets(live))


def test_a_conftest_explains_the_assertions_of_its_own_tests_only_with_keys_masked(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    compare = "def test_compare(xquik_api_key):\n    assert xquik_api_key.full_key == 'x'\n"
    pytester.makepyfile(
        **{
            "sub/conftest": (
                "def pytest_assertrepr_compare(op, left, right):\n"
                "    return [f'explained in sub: {left} {op} {right}']\n"
            ),
            "sub/test_in_sub": compare,
            "test_at_top": compare,
        }
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["E       assert explained in sub: xq_*[[]MASKED] == x"])
    explained = [line for line in result.outlines if line.startswith("E ") and "in sub" in line]
    assert len(explained) == 1  # not the test at the top
    assert_no_secret(result, pytester.path, server_secrets(live))


RAISES = """
def check(secret):
    raise ValueError(f"bad key {secret} " + "because " * 30)

def test_raises(xquik_api_key):
    check(str(xquik_api_key.full_key))
"""


@pytest.mark.parametrize("style", ["auto", "long", "short", "line", "native"])
def test_tracebacks_in_every_style_and_the_summary_line_show_masked_keys(
    pytester: pytest.Pytester, live: XquikServer, style: str
) -> None:
    pytester.makepyfile(test_raise=RAISES)
    result = pytester.runpytest(f"--tb={style}", "-rA")
    result.assert_outcomes(failed=1)
    assert_no_secret(result, pytester.path, server_secrets(live))
    result.stdout.fnmatch_lines(["FAILED *test_raises - ValueError: bad key xq_*[[]MASKED]*"])


def test_locals_show_masked_keys_even_when_pytest_shortens_them(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    pytester.makepyfile(
        """
        def test_locals(xquik_api_key):
            secret = str(xquik_api_key.full_key)
            headers = {"x-api-key": secret}
            cut_in_the_key = "a" * 100 + secret + "b" * 150
            cut_before_the_key_ends = "a" * 190 + secret + "b" * 60
            assert not headers
        """
    )
    result = pytester.runpytest("-l")
    result.assert_outcomes(failed=1)
    assert_no_secret(result, pytester.path, server_secrets(live))
    result.stdout.fnmatch_lines(["cut_before_the_key_ends = 'aaa*...[[]MASKED]bbb*"])


CAPTURED = """
import sys

import pytest

def test_xfails(xquik_api_key):
    pytest.xfail(f"flaky with {xquik_api_key.full_key}")

def test_skips(xquik_api_key):
    pytest.skip(f"skipped with {xquik_api_key.full_key}")

def test_prints_and_passes(xquik_api_key):
    print("stdout", xquik_api_key.full_key)
    print("stderr", xquik_api_key.full_key, file=sys.stderr)

def test_prints_and_fails(xquik_api_key):
    print("stdout", xquik_api_key.full_key)
    sys.stderr.write(f"stderr {xquik_api_key.full_key}\\n")
    assert False
"""


@pytest.mark.parametrize("report", ["-rA", "-rP"])
def test_captured_output_and_skip_and_xfail_reasons_show_masked_keys(
    pytester: pytest.Pytester, live: XquikServer, report: str
) -> None:
    pytester.makepyfile(CAPTURED)
    result = pytester.runpytest(report, "-rsx")
    result.assert_outcomes(passed=1, failed=1, skipped=1, xfailed=1)
    result.stdout.fnmatch_lines(["*Captured stdout call*", "stdout xq_*[[]MASKED]"])
    result.stdout.fnmatch_lines(["SKIPPED*skipped with xq_*[[]MASKED]", "XFAIL*flaky with xq_*"])
    assert_no_secret(result, pytester.path, server_secrets(live))


def test_logs_show_masked_keys_in_sections_live_logging_and_the_log_file(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    pytester.makeini(INNER_INI + "log_level = DEBUG\nlog_cli = true\nlog_cli_level = DEBUG\n")
    pytester.makepyfile(
        f"""
        import logging
        import httpx

        def test_logs(xquik_api_key):
            httpx.get("{live.base_url}/account", headers=xquik_api_key.headers)
            logging.getLogger("httpx").debug("request headers %s", xquik_api_key.headers)
            logging.getLogger("httpcore.http11").debug("send %s", xquik_api_key.full_key)
            logging.getLogger("app").warning("key=%s", xquik_api_key.full_key)
            assert False
        """
    )
    result = pytester.runpytest_subprocess("--log-file=run.log", "--log-file-level=DEBUG")
    result.assert_outcomes(failed=1)
    outputs = assert_no_secret(
        result, pytester.path, server_secrets(live), masked_in=["stdout", "run.log"]
    )
    result.stdout.fnmatch_lines(["*live log call*", "*Captured log call*", "*key=xq_*[[]MASKED]"])
    assert "httpcore.http11" in outputs["run.log"]


def test_caplog_keeps_the_key_for_the_test_and_masks_it_everywhere_else(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    pytester.makepyfile(
        """
        import logging

        def test_caplog_sees_the_key(xquik_api_key, caplog):
            logging.getLogger("app").warning("key=%s", xquik_api_key.full_key)
            assert xquik_api_key.full_key in caplog.text
            assert caplog.records[0].getMessage() == f"key={xquik_api_key.full_key}"

        def test_a_check_that_the_code_never_logs_the_key_fails(xquik_api_key, caplog):
            logging.getLogger("app").warning("key=%s", xquik_api_key.full_key)
            print(caplog.text)
            assert xquik_api_key.full_key not in caplog.text
        """
    )
    result = pytester.runpytest_subprocess("-rA")
    result.assert_outcomes(passed=1, failed=1)
    assert_no_secret(result, pytester.path, server_secrets(live))


WARNS = """
import warnings

def test_warns(xquik_api_key):
    warnings.warn(f"key {xquik_api_key.full_key} expires soon", UserWarning)
"""


def test_the_warnings_summary_shows_masked_keys(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    pytester.makeini(WITHOUT_BACKSTOP)
    pytester.makepyfile(WARNS)
    result = pytester.runpytest("-W", "default")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*UserWarning: key xq_*[[]MASKED] expires soon"])
    assert_no_secret(result, pytester.path, server_secrets(live))


def test_the_junit_xml_report_shows_masked_keys(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    pytester.makepyfile(
        """
        import sys

        def test_fails(xquik_api_key, record_property, record_testsuite_property):
            record_property("key", xquik_api_key.full_key)
            record_testsuite_property("suite_key", xquik_api_key.full_key)
            print("out", xquik_api_key.full_key)
            print("err", xquik_api_key.full_key, file=sys.stderr)
            raise ValueError(f"bad {xquik_api_key.full_key}")
        """
    )
    result = pytester.runpytest(
        "--junitxml=junit.xml", "-o", "junit_logging=all", "-o", "junit_family=xunit1"
    )
    result.assert_outcomes(failed=1)
    outputs = assert_no_secret(
        result, pytester.path, server_secrets(live), masked_in=["stdout", "junit.xml"]
    )
    junit = outputs["junit.xml"]
    assert 'message="ValueError: bad xq_' in junit
    assert junit.count("[MASKED]") >= 5


def test_errors_in_fixture_setup_and_teardown_show_masked_keys(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.fixture
        def broken_setup(xquik_api_key):
            raise RuntimeError(f"setup failed with {xquik_api_key.full_key}")

        @pytest.fixture
        def broken_teardown(xquik_api_key):
            yield
            raise RuntimeError(f"teardown failed with {xquik_api_key.full_key}")

        def test_setup(broken_setup):
            pass

        def test_teardown(broken_teardown):
            pass
        """
    )
    result = pytester.runpytest("-rA")
    result.assert_outcomes(passed=1, errors=2)
    assert_no_secret(result, pytester.path, server_secrets(live))


def _echo_the_key(request: httpx.Request, api: FakeXquikApi) -> httpx.Response:
    key_id = request.url.path.rsplit("/", 1)[-1]
    key = next(key for key in api.keys if key.id == key_id)
    return error_response(403, "forbidden", f"could not revoke {key.full_key}")


def test_the_plugins_own_errors_show_masked_keys(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    live.inject("DELETE", "/api-keys/", _echo_the_key)
    live.inject(
        "POST",
        "/api-keys",
        lambda request, api: error_response(
            401, "unauthenticated", f"unknown credential {request.headers['x-api-key']}"
        ),
    )
    pytester.makepyfile(
        """
        def test_create_fails(xquik_api_key):
            pass

        def test_revoke_fails(xquik_api_key):
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines(
        ["*answered 401 unauthenticated: unknown credential xq_*[[]MASKED]*"]
    )
    result.stdout.fnmatch_lines(["*could not revoke xq_*[[]MASKED]*"])
    assert_no_secret(result, pytester.path, server_secrets(live))


def test_a_teardown_raising_after_ctrl_c_shows_a_masked_key(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.fixture
        def leaks_in_teardown(xquik_api_key):
            yield
            raise RuntimeError(f"teardown after interrupt: {xquik_api_key.full_key}")

        def test_interrupted(leaks_in_teardown):
            raise KeyboardInterrupt
        """
    )
    result = pytester.runpytest_subprocess()
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*KeyboardInterrupt*"])
    result.stderr.fnmatch_lines(["RuntimeError: teardown after interrupt: xq_*[[]MASKED]"])
    assert_no_secret(result, pytester.path, server_secrets(live), masked_in=["stderr"])


@pytest.mark.parametrize("ini", [INNER_INI, WITHOUT_BACKSTOP], ids=["backstop", "no-backstop"])
def test_under_xdist_the_controller_prints_and_writes_masked_keys(
    pytester: pytest.Pytester, live: XquikServer, ini: str
) -> None:
    pytester.makeini(ini)
    pytester.makepyfile(
        test_one=ASSERTIONS,
        test_two=CAPTURED + WARNS,
    )
    result = pytester.runpytest_subprocess("-n", "2", "-rA", "-l", "--junitxml=junit.xml")
    result.assert_outcomes(passed=2, failed=7, skipped=1, xfailed=1, warnings=1)
    result.stdout.fnmatch_lines(["*UserWarning: key xq_*[[]MASKED] expires soon"])
    assert_no_secret(result, pytester.path, server_secrets(live), masked_in=["stdout", "junit.xml"])


def test_with_capture_off_prints_through_sys_stdout_and_stderr_are_masked(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    pytester.makepyfile(
        """
        import logging
        import sys

        def test_prints(xquik_api_key):
            print("stdout", xquik_api_key.full_key)
            sys.stderr.write(f"stderr {xquik_api_key.full_key}\\n")
            logger = logging.getLogger("app")
            logger.addHandler(logging.StreamHandler(sys.stderr))
            logger.warning("logged %s", xquik_api_key.full_key)
        """
    )
    result = pytester.runpytest_subprocess("-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*stdout xq_*[[]MASKED]*"])
    result.stderr.fnmatch_lines(["stderr xq_*[[]MASKED]", "*logged xq_*[[]MASKED]"])
    assert_no_secret(result, pytester.path, server_secrets(live), masked_in=["stdout", "stderr"])


def test_a_key_of_the_key_format_the_plugin_did_not_create_is_masked_too(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    team_key = "xq_" + secrets.token_hex(32)
    monkeypatch.setenv("TEAM_KEY", team_key)
    pytester.makepyfile(
        """
        import os
        import pytest

        @pytest.mark.parametrize("key", [os.environ["TEAM_KEY"]])
        def test_uses_the_teams_key(key):
            print(key)
            assert key == "other"
        """
    )
    # pytest's cache (.pytest_cache) stores node ids, parametrize ids included.
    result = pytester.runpytest("-v", "-rA", "-p", "no:cacheprovider", "--junitxml=junit.xml")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*test_uses_the_teams_key[[]xq_*[[]MASKED]] FAILED*"])
    assert_no_secret(result, pytester.path, [team_key], masked_in=["stdout", "junit.xml"])


def test_the_ini_option_turns_off_only_the_backstop(
    pytester: pytest.Pytester, live: XquikServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    team_key = "xq_" + secrets.token_hex(32)
    monkeypatch.setenv("TEAM_KEY", team_key)
    pytester.makeini(WITHOUT_BACKSTOP)
    pytester.makepyfile(
        """
        import os

        def test_prints_both(xquik_api_key):
            print("team", os.environ["TEAM_KEY"])
            print("scratch", xquik_api_key.full_key)
            assert False
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"team {team_key}", "scratch xq_*[[]MASKED]"])
    assert_no_secret(result, pytester.path, server_secrets(live))


def test_an_invalid_backstop_setting_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini(INNER_INI + "xquik_mask_key_pattern = maybe\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*xquik_mask_key_pattern* (from the ini file *) is not valid: expected true*'maybe'*"]
    )
