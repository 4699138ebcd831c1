"""On GitHub Actions, every secret is registered with the runner before anything can print it.

pytest runs in a subprocess whose standard output is a pipe, as a step's is on
a runner. The user's tests write their key where pytest cannot mask it (file
descriptors 1 and 2, a subprocess, ``print`` under ``-s``); each test checks
that the ``::add-mask::`` line of every secret is on the real standard output,
at the start of a line, before any other output that holds the secret.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import INNER_INI
from tests.leaks import assert_no_secret, server_secrets
from tests.xquik_server import XquikServer

LEAKS_EVERYWHERE = """
import os
import subprocess
import sys

def leak(key):
    with open(os.environ["KEYS_FILE"], "a") as keys:
        keys.write(key + "\\n")
    os.write(1, f"fd 1: {key}\\n".encode())
    os.write(2, f"fd 2: {key}\\n".encode())
    print("print:", key)
    subprocess.run([sys.executable, "-c", f"print('subprocess: {key}')"], check=True)

def test_one(xquik_api_key):
    leak(xquik_api_key.full_key)

def test_two(xquik_api_key_factory):
    leak(xquik_api_key_factory.create().full_key)
    leak(xquik_api_key_factory.create().full_key)
"""

ADD_MASK = re.compile(r"^::add-mask::", re.MULTILINE)


def run_pytest(
    directory: Path, *args: str, merge_stderr: bool = False, **env: str
) -> subprocess.CompletedProcess[str]:
    """pytest in a subprocess, its stdout (and stderr) a pipe, as in a CI step."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=directory,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
        text=True,
        timeout=120,
    )


def assert_registered_first(output: str, secret: str) -> None:
    """``secret`` has an ``::add-mask::`` line, before any other text that holds it."""
    command = re.search(rf"^::add-mask::{re.escape(secret)}$", output, re.MULTILINE)
    assert command, f"no ::add-mask:: line for {secret!r}:\n{output}"
    other = output.replace(command.group(), "", 1).find(secret)
    assert other == -1 or other >= command.start(), (
        f"{secret!r} is printed before its ::add-mask:: line:\n{output}"
    )


@pytest.fixture
def keys_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the user's tests write each key they got, outside the inner run's directory."""
    path = tmp_path / "keys.txt"
    monkeypatch.setenv("KEYS_FILE", str(path))
    return path


@pytest.mark.parametrize(
    "options",
    [[], ["--capture=sys"], ["-s"], ["--capture=tee-sys"], ["-n", "2"], ["-n", "2", "-s"]],
    ids=["fd", "sys", "no", "tee-sys", "xdist", "xdist-s"],
)
def test_every_secret_is_registered_on_the_real_stdout_before_it_can_be_printed(
    pytester: pytest.Pytester,
    keys_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    options: list[str],
) -> None:
    credential = secrets.token_urlsafe(24)
    monkeypatch.setenv("XQUIK_SESSION_TOKEN", credential)  # mock mode: seen, so a secret
    pytester.makepyfile(LEAKS_EVERYWHERE)
    result = run_pytest(pytester.path, *options, GITHUB_ACTIONS="true")
    assert result.returncode == 0, result.stdout + result.stderr
    keys = keys_file.read_text().split()
    assert len(keys) == 3
    assert not ADD_MASK.search(result.stderr)
    for secret in [credential, *keys]:
        assert_registered_first(result.stdout, secret)
    # The credential, before pytest prints anything.
    assert result.stdout.lstrip("\n").startswith(f"::add-mask::{credential}\n")


@pytest.mark.parametrize("options", [["-s"], ["-n", "2", "-s"]], ids=["no", "xdist-s"])
def test_the_command_comes_before_the_secret_on_stderr_too(
    pytester: pytest.Pytester, keys_file: Path, options: list[str]
) -> None:
    # An xdist worker's file descriptor 2 is the controller's stderr: with both
    # streams on one pipe, the order in which the runner gets them shows.
    pytester.makepyfile(LEAKS_EVERYWHERE)
    result = run_pytest(pytester.path, *options, merge_stderr=True, GITHUB_ACTIONS="true")
    assert result.returncode == 0, result.stdout
    keys = keys_file.read_text().split()
    assert len(keys) == 3
    assert result.stdout.count("fd 2: xq_") == 3
    for key in keys:
        assert_registered_first(result.stdout, key)


def test_in_live_mode_the_credential_and_every_key_are_registered(
    pytester: pytest.Pytester, live: XquikServer, keys_file: Path
) -> None:
    pytester.makepyfile(LEAKS_EVERYWHERE)
    result = run_pytest(pytester.path, "-n", "2", GITHUB_ACTIONS="true")
    assert result.returncode == 0, result.stdout + result.stderr
    created = [key.full_key for key in live.scratch_keys()]
    assert sorted(created) == sorted(keys_file.read_text().split())
    for secret in [live.admin_api_key, *created]:
        assert_registered_first(result.stdout, secret)


@pytest.mark.parametrize("options", [[], ["-n", "2"]], ids=["plain", "xdist"])
def test_the_commands_are_the_only_lines_that_hold_a_secret(
    pytester: pytest.Pytester,
    live: XquikServer,
    monkeypatch: pytest.MonkeyPatch,
    options: list[str],
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    pytester.makepyfile(
        """
        def test_fails(xquik_api_key):
            print("printed", xquik_api_key.full_key)
            assert xquik_api_key.full_key == "something else"
        """
    )
    result = pytester.runpytest_subprocess(*options, "-rA", "--junitxml=junit.xml")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"::add-mask::{live.admin_api_key}", "printed xq_*[[]MASKED]"])
    assert_no_secret(result, pytester.path, server_secrets(live), masked_in=["stdout", "junit.xml"])


def test_a_secret_is_escaped_as_the_runner_reads_it(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    credential = "token%0A" + secrets.token_hex(8)
    monkeypatch.setenv("XQUIK_BEARER_TOKEN", credential)
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = run_pytest(pytester.path, GITHUB_ACTIONS="true")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"::add-mask::{credential.replace('%', '%25')}\n" in result.stdout


@pytest.mark.parametrize(
    ("env", "ini"),
    [
        ({}, ""),
        ({"GITHUB_ACTIONS": "false"}, ""),
        ({"GITHUB_ACTIONS": "true"}, "xquik_github_add_mask = false\n"),
    ],
    ids=["elsewhere", "GITHUB_ACTIONS=false", "option-off"],
)
def test_nothing_is_registered_outside_github_actions_or_with_the_option_off(
    pytester: pytest.Pytester,
    keys_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    ini: str,
) -> None:
    monkeypatch.setenv("XQUIK_SESSION_TOKEN", secrets.token_urlsafe(24))
    pytester.makeini(INNER_INI + ini)
    pytester.makepyfile(LEAKS_EVERYWHERE)
    for options in [["-s"], ["-n", "2", "-s"]]:
        result = run_pytest(pytester.path, *options, **env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "::add-mask::" not in result.stdout + result.stderr
    assert len(keys_file.read_text().split()) == 6  # the tests ran, and leaked their keys
