"""pytest-xdist: ``-n 2`` in both modes, and the plugin without xdist."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest

from tests.xquik_server import XquikServer

CONFTEST = """
import re
from pathlib import Path

import pytest
import pytest_xquik

worker_key = pytest_xquik.api_key_fixture(scope="session", name="per-worker")


@pytest.fixture
def record(request):
    '''Write the names of the keys a test saw, one file per test.'''
    def record(*keys):
        out = Path({out!r}) / (re.sub(r"\\W", "_", request.node.nodeid) + ".txt")
        out.write_text("\\n".join(key.name for key in keys))
    return record
"""

TESTS = """
import os

import pytest

@pytest.mark.parametrize("n", range(3))
def test_key(n, xquik_api_key, worker_key, record, {extra}):
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    assert worker in ("gw0", "gw1")
    assert f"-{{worker}}-" in xquik_api_key.name and f"-{{worker}}-" in worker_key.name
    {check}
    record(xquik_api_key, worker_key)
"""

MOCK_CHECK = "assert xquik_mock.active_keys[-1].name == xquik_api_key.name"
LIVE_CHECK = "assert xquik_admin.list()"


def run_with_two_workers(pytester: pytest.Pytester, live: bool) -> tuple[list[str], set[str]]:
    """Run the suite with ``-n 2``; check every key name; return them and the session keys'."""
    out = pytester.mkdir("names")
    pytester.makeconftest(CONFTEST.format(out=str(out)))
    extra, check = ("xquik_admin", LIVE_CHECK) if live else ("xquik_mock", MOCK_CHECK)
    suite = TESTS.format(extra=extra, check=check)
    pytester.makepyfile(test_one=suite, test_two=suite)
    result = pytester.runpytest_subprocess("-n", "2", "--dist", "loadfile")
    result.assert_outcomes(passed=6)
    names = [name for path in sorted(out.iterdir()) for name in path.read_text().splitlines()]
    assert len(names) == 12
    serials = [name.split(" ")[1] for name in names]
    assert all(re.fullmatch(r"[0-9a-f]{12}-gw[01]-\d+", serial) for serial in serials), serials
    run_ids = {serial.split("-")[0] for serial in serials}
    assert len(run_ids) == 1, "one run id for all workers"
    result.stdout.fnmatch_lines([f"xquik: *, key names=pytest-xquik {run_ids.pop()}-*"])
    worker_keys = {name for name in names if " per-worker (session)" in name}
    assert {name.split(" ")[1].split("-")[1] for name in worker_keys} == {"gw0", "gw1"}
    return names, worker_keys


def test_two_workers_in_mock_mode_each_have_their_own_mock_and_the_controllers_run_id(
    pytester: pytest.Pytester,
) -> None:
    names, worker_keys = run_with_two_workers(pytester, live=False)
    assert len(set(names)) == 6 + len(worker_keys)


def test_two_workers_in_live_mode_create_unique_keys_and_revoke_them_all(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    names, worker_keys = run_with_two_workers(pytester, live=True)
    on_server = [key.name for key in live.scratch_keys()]
    assert sorted(on_server) == sorted(set(names))
    assert len(on_server) == 6 + len(worker_keys) == 8
    assert live.scratch_keys(active=True) == []


def test_the_plugin_works_without_xdist(pytester: pytest.Pytester, live: XquikServer) -> None:
    pytester.makepyfile(
        """
        import re

        def test_key(xquik_api_key, xquik_client):
            assert re.fullmatch(r"[0-9a-f]{12}-\\d+", xquik_api_key.name.split(" ")[1])
            assert xquik_client.get("/account").status_code == 200
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:xdist")
    result.assert_outcomes(passed=1)
    assert len(live.scratch_keys()) == 2
    assert live.scratch_keys(active=True) == []


SHARED_TEST = """
import os
import pathlib
import time

import httpx

def test_uses_its_key(xquik_api_key):
    sync = pathlib.Path(os.environ["SYNC"])
    if os.environ["ROLE"] == "slow":  # holds its key until the other run has ended
        (sync / "slow-has-its-key").write_text(xquik_api_key.name)
        deadline = time.monotonic() + 60  # a hang guard, not a timing assertion
        while not (sync / "fast-ended").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
    else:
        (sync / "fast-key").write_text(xquik_api_key.name)
    account = httpx.get(os.environ["XQUIK_BASE_URL"] + "/account", headers=xquik_api_key.headers)
    assert account.status_code == 200
"""


@pytest.mark.parametrize("args", [[], ["-n", "2"]])
def test_two_runs_given_one_testrunuid_never_share_names_nor_revoke_each_others_keys(
    pytester: pytest.Pytester, live: XquikServer, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    sync = pytester.mkdir("sync")
    monkeypatch.setenv("SYNC", str(sync))
    pytester.makepyfile(test_shared=SHARED_TEST)
    command = [sys.executable, "-m", "pytest", "--testrunuid=0123456789abcdef", *args]
    slow = subprocess.Popen(
        command,
        cwd=pytester.path,
        env={**os.environ, "ROLE": "slow"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60  # a hang guard, not a timing assertion
        while not (sync / "slow-has-its-key").exists():
            assert slow.poll() is None, "the slow run ended before it had its key"
            assert time.monotonic() < deadline, "gave up waiting for the slow run's key"
            time.sleep(0.02)
        monkeypatch.setenv("ROLE", "fast")
        fast = pytester.runpytest_subprocess("--testrunuid=0123456789abcdef", *args)
        fast.assert_outcomes(passed=1)
        fast.stdout.fnmatch_lines(["run *: 1 key(s) created, 1 revoked, 0 leaked"])
        sync.joinpath("fast-ended").touch()
        output, _ = slow.communicate(timeout=60)
    finally:
        slow.kill()
        slow.wait()
    assert slow.returncode == 0, output
    assert ": 1 key(s) created, 1 revoked, 0 leaked" in output
    slow_name = sync.joinpath("slow-has-its-key").read_text()
    fast_name = sync.joinpath("fast-key").read_text()
    assert slow_name.split()[1].split("-")[0] != fast_name.split()[1].split("-")[0]
    assert len(live.scratch_keys()) == 2
    assert live.scratch_keys(active=True) == []
