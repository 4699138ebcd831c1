"""What reaches the process's real stdout and stderr around pytest's output is masked.

Logging handlers made before the plugin started hold the original streams;
unraisable exceptions collected after the last test are printed by pytest (or
Python) at session end. Both run in a subprocess: they are process state.
"""

from __future__ import annotations

import secrets

import pytest

from tests.extras import release
from tests.leaks import assert_no_secret, server_secrets
from tests.xquik_server import XquikServer

HANDLERS_MADE_BEFORE_THE_PLUGIN = """
import atexit
import logging
import sys

logging.basicConfig(level=logging.INFO)
audit = logging.StreamHandler(sys.__stdout__)
logging.getLogger("app.audit").addHandler(audit)
root = logging.getLogger().handlers[0]

# After the run, every handler has its own stream back.
atexit.register(
    lambda: sys.__stderr__.write(
        f"streams given back: {audit.stream is sys.__stdout__}, "
        f"{type(root.stream).__name__ != 'MaskingStream'}\\n"
    )
)
"""


@pytest.mark.parametrize("capture", ["-s", "--capture=sys"])
def test_logging_handlers_made_before_the_plugin_are_masked(
    pytester: pytest.Pytester, live: XquikServer, capture: str
) -> None:
    pytester.makeconftest(HANDLERS_MADE_BEFORE_THE_PLUGIN)
    pytester.makepyfile(
        """
        import logging

        def test_logs(xquik_api_key):
            logging.getLogger("app").warning("root handler %s", xquik_api_key.full_key)
            logging.getLogger("app.audit").warning("audit %s", xquik_api_key.full_key)
        """
    )
    result = pytester.runpytest_subprocess(capture)
    result.assert_outcomes(passed=1)
    # With --capture=sys the conftest is imported with capture on: basicConfig's
    # handler writes to pytest's capture; the one on sys.__stdout__ writes past it.
    result.stdout.fnmatch_lines(["*audit xq_*[[]MASKED]*"])
    if capture == "-s":
        result.stderr.fnmatch_lines(["WARNING:app:root handler xq_*[[]MASKED]"])
    result.stderr.fnmatch_lines(["streams given back: True, True"])
    assert_no_secret(result, pytester.path, server_secrets(live))


def session_end_warning(name: str) -> list[str]:
    """pytest 8.4 and later report what is raised at session end as this warning; older
    pytest leaves it to Python's default hook, which prints the exception alone."""
    return [f"*{name}*"] if (release("pytest") or ()) >= (8, 4) else []


UNRAISABLE_AFTER_THE_LAST_TEST = """
import functools
import weakref

class Holder:
    def __init__(self, key):
        self.key = key
        self.cycle = self  # freed by the garbage collector, at session end

    def __del__(self):
        raise ValueError(f"could not revoke {self.key}")

def fail(key, reference):
    raise RuntimeError(f"callback for {key}")

class Target:
    def __init__(self):
        self.cycle = self

REFERENCES = []

def test_leaves_garbage(xquik_api_key):
    Holder(str(xquik_api_key.full_key))
    # An unraisable whose object (the callback) shows the key in its repr().
    callback = functools.partial(fail, str(xquik_api_key.full_key))
    REFERENCES.append(weakref.ref(Target(), callback))
"""


@pytest.mark.parametrize(
    "options",
    [[], ["-s"], ["-n", "2"], ["-p", "no:unraisableexception"]],
    ids=["plain", "-s", "xdist", "without-pytest's-plugin"],
)
def test_unraisable_exceptions_after_the_last_test_are_masked(
    pytester: pytest.Pytester, live: XquikServer, options: list[str]
) -> None:
    pytester.makepyfile(UNRAISABLE_AFTER_THE_LAST_TEST)
    result = pytester.runpytest_subprocess(*options)
    result.assert_outcomes(passed=1)
    # Without pytest's plugin (which collects the garbage itself), the plugin collects it.
    warning = (
        []
        if "no:unraisableexception" in options
        else session_end_warning("PytestUnraisableExceptionWarning")
    )
    # One at a time: the garbage collector frees the two objects in either order.
    for line in (
        *warning,
        "ValueError: could not revoke xq_*[[]MASKED]",
        "*RuntimeError: callback for xq_*[[]MASKED]",
    ):
        result.stderr.fnmatch_lines([line])
    assert_no_secret(result, pytester.path, server_secrets(live), masked_in=["stderr"])


def test_unraisable_exceptions_as_errors_are_masked(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    pytester.makepyfile(UNRAISABLE_AFTER_THE_LAST_TEST)
    result = pytester.runpytest_subprocess("-W", "error::pytest.PytestUnraisableExceptionWarning")
    assert "could not revoke xq_" in result.stdout.str() + result.stderr.str()
    assert_no_secret(result, pytester.path, server_secrets(live), masked_in=[])


@pytest.mark.parametrize("options", [[], ["-n", "2"]], ids=["plain", "xdist"])
def test_an_exception_in_a_thread_after_the_last_test_is_masked(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, options: list[str]
) -> None:
    token = secrets.token_urlsafe(24)
    monkeypatch.setenv("X_TWITTER_SCRAPER_API_KEY", token)
    pytester.makeconftest(
        """
        import os
        import threading

        def fail():
            raise RuntimeError(f"upload failed for {os.environ['X_TWITTER_SCRAPER_API_KEY']}")

        def pytest_sessionfinish():
            thread = threading.Thread(target=fail)
            thread.start()
            thread.join()
        """
    )
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess(*options)
    result.assert_outcomes(passed=1)
    result.stderr.fnmatch_lines(
        [
            *session_end_warning("PytestUnhandledThreadExceptionWarning"),
            "RuntimeError: upload failed for [[]MASKED]",
        ],
        consecutive=False,
    )
    assert_no_secret(result, pytester.path, [token], masked_in=[])


@pytest.mark.parametrize("options", [[], ["-p", "no:unraisableexception"]], ids=["plain", "alone"])
def test_after_the_run_the_unraisable_hook_is_given_back(
    pytester: pytest.Pytester, options: list[str]
) -> None:
    pytester.makeconftest(
        """
        import atexit
        import sys

        original = sys.unraisablehook

        atexit.register(
            lambda: sys.__stderr__.write(f"hook given back: {sys.unraisablehook is original}\\n")
        )
        """
    )
    pytester.makepyfile("def test_nothing(xquik_api_key):\n    pass\n")
    result = pytester.runpytest_subprocess(*options)
    result.assert_outcomes(passed=1)
    result.stderr.fnmatch_lines(["hook given back: True"])
