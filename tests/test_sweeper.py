"""``pytest --xquik-sweep``, ``xquik_sweep_on_start``, and the options they take."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pytest_xquik.api.fake import FakeKey
from pytest_xquik.live.ledger import credential_fingerprint
from tests.conftest import INNER_INI
from tests.xquik_server import XquikServer

NOT_RUN = """
    def test_must_not_run():
        raise AssertionError("the sweep runs no test")
    """


def _aged(server: XquikServer, name: str, age: timedelta) -> FakeKey:
    """A key on the account, created ``age`` ago."""
    key = server.api.add_key(name)
    created = datetime.now(timezone.utc) - age
    key.created_at = created.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return key


@pytest.fixture
def account(live: XquikServer) -> dict[str, FakeKey]:
    """An account with scratch keys old and new, and keys the plugin must never touch."""
    return {
        "old": _aged(live, "pytest-xquik 0a1b2c3d-1 test_x.py::test_old", timedelta(hours=2)),
        "fresh": _aged(live, "pytest-xquik 9f8e7d6c-1 test_x.py::test_new", timedelta(minutes=5)),
        "foreign": _aged(live, "production worker", timedelta(days=30)),
        "lookalike": _aged(live, "pytest-xquikish 1 old", timedelta(days=30)),
    }


def _write_ledger(
    pytester: pytest.Pytester,
    server: XquikServer,
    stem: str,
    records: list[dict[str, str]],
    *,
    tail: str = "",
) -> Path:
    """A ledger file a finished run left for ``server``; returns the ledger directory."""
    directory = pytester.path / ".pytest_cache" / "xquik"
    directory.mkdir(parents=True, exist_ok=True)
    credential = credential_fingerprint(server.admin_api_key)
    header = {"event": "run", "run": stem.split("-")[0], "base_url": server.base_url}
    header["credential"] = credential
    lines = [json.dumps(record) for record in [header, *records]]
    directory.joinpath(f"{stem}.jsonl").write_text("\n".join(lines) + "\n" + tail)
    return directory


def _active(account: dict[str, FakeKey]) -> set[str]:
    return {role for role, key in account.items() if key.is_active}


def test_the_sweep_revokes_scratch_keys_older_than_an_hour_and_runs_no_test(
    pytester: pytest.Pytester, account: dict[str, FakeKey]
) -> None:
    pytester.makepyfile(NOT_RUN)
    result = pytester.runpytest("--xquik-sweep")
    assert result.ret == 0
    old = account["old"]
    result.stdout.fnmatch_lines(
        [
            f"revoked key id={old.id} prefix={old.prefix} name='{old.name}' age=2h00m",
            "pytest-xquik sweep: revoked 1 key(s)",
        ]
    )
    result.stdout.no_fnmatch_line("*test_must_not_run*")
    assert _active(account) == {"fresh", "foreign", "lookalike"}


@pytest.mark.parametrize(
    ("older_than", "left"),
    [
        ("0", {"foreign", "lookalike"}),
        ("240", {"foreign", "lookalike"}),
        ("30m", {"fresh", "foreign", "lookalike"}),
        ("3h", {"old", "fresh", "foreign", "lookalike"}),
    ],
)
def test_xquik_sweep_older_than_sets_the_age_of_keys_swept(
    pytester: pytest.Pytester, account: dict[str, FakeKey], older_than: str, left: set[str]
) -> None:
    result = pytester.runpytest("--xquik-sweep", f"--xquik-sweep-older-than={older_than}")
    assert result.ret == 0
    assert _active(account) == left
    result.stdout.fnmatch_lines([f"pytest-xquik sweep: revoked {4 - len(left)} key(s)"])


@pytest.mark.parametrize("args", [["--xquik-sweep-dry-run"], ["--xquik-sweep", "--collect-only"]])
def test_a_dry_run_only_lists_what_the_sweep_would_revoke(
    pytester: pytest.Pytester, account: dict[str, FakeKey], args: list[str]
) -> None:
    pytester.makepyfile(NOT_RUN)
    result = pytester.runpytest(*args)
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            f"would revoke key id={account['old'].id} *",
            "pytest-xquik sweep: would revoke 1 key(s)",
        ]
    )
    assert _active(account) == {"old", "fresh", "foreign", "lookalike"}


def test_xquik_sweep_on_start_sweeps_before_the_tests_run(
    pytester: pytest.Pytester, account: dict[str, FakeKey]
) -> None:
    pytester.makeini(INNER_INI + "xquik_sweep_on_start = true\n")
    pytester.makepyfile("def test_key(xquik_api_key): pass")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            f"revoked key id={account['old'].id} *",
            "pytest-xquik sweep: revoked 1 key(s)",
            "*test_xquik_sweep_on_start_sweeps_before_the_tests_run.py .*",
            "run *: 1 key(s) created, 1 revoked, 0 leaked",
        ]
    )
    assert _active(account) == {"fresh", "foreign", "lookalike"}


def test_the_sweep_reports_a_key_it_cannot_revoke_and_fails(
    pytester: pytest.Pytester, live: XquikServer, account: dict[str, FakeKey]
) -> None:
    live.fail("DELETE", "/api-keys/", 403, code="forbidden")
    result = pytester.runpytest("--xquik-sweep")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            f"could not revoke key id={account['old'].id} *answered 403 forbidden*",
            "pytest-xquik sweep: revoked 0 key(s), 1 failed",
        ]
    )


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 60  # a hang guard, not a timing assertion
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


def test_the_sweep_revokes_what_a_killed_run_left_and_spares_a_run_in_progress(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    pytester.makepyfile(
        """
        import time

        def test_holds_its_key(xquik_api_key):
            time.sleep(120)
        """
    )
    ledger = pytester.path / ".pytest_cache" / "xquik"
    run = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:xdist"],
        cwd=pytester.path,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(
            lambda: any('"created"' in path.read_text() for path in ledger.glob("*.jsonl")),
            "the key in the ledger",
        )
        (key,) = live.scratch_keys(active=True)
        # The run is in progress: the sweep leaves its key alone, whatever its age.
        for older_than in ("1h", "0"):
            spared = pytester.runpytest("--xquik-sweep", f"--xquik-sweep-older-than={older_than}")
            spared.stdout.fnmatch_lines(["pytest-xquik sweep: revoked 0 key(s)"])
            assert key.is_active
        os.kill(run.pid, signal.SIGKILL)
    finally:
        run.kill()
        run.wait()
    assert key.is_active  # nothing ran its teardown
    result = pytester.runpytest("--xquik-sweep")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            f"revoked key id={key.id} prefix={key.prefix} name='{key.name}' age=*",
            "*revoked 1 key(s)",
        ]
    )
    assert live.scratch_keys(active=True) == []
    assert list(ledger.glob("*.jsonl")) == []


def test_the_sweep_refuses_mock_mode(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--xquik-sweep")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--xquik-sweep revokes keys on the real service*mock mode*"])


def test_the_sweep_under_xdist_runs_once(
    pytester: pytest.Pytester, live: XquikServer, account: dict[str, FakeKey]
) -> None:
    pytester.makepyfile(NOT_RUN)
    result = pytester.runpytest_subprocess("--xquik-sweep", "-n", "2")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["pytest-xquik sweep: revoked 1 key(s)"])
    assert live.requests.count(("GET", "/api/v1/api-keys")) == 1
    assert _active(account) == {"fresh", "foreign", "lookalike"}


def test_the_sweep_revokes_young_keys_a_finished_runs_ledger_records(
    pytester: pytest.Pytester, live: XquikServer, account: dict[str, FakeKey]
) -> None:
    answered = _aged(live, "pytest-xquik 5e5e5e5e-1 test_a.py::test_a", timedelta(minutes=1))
    unanswered = _aged(live, "pytest-xquik 5e5e5e5e-2 test_a.py::test_b", timedelta(minutes=1))
    records = [
        {"event": "creating", "name": answered.name, "test": "test_a.py::test_a"},
        {"event": "created", "id": answered.id, "prefix": answered.prefix,
         "name": answered.name, "test": "test_a.py::test_a"},
        # The run was killed before the answer to this create arrived.
        {"event": "creating", "name": unanswered.name, "test": "test_a.py::test_b"},
    ]  # fmt: skip
    ledger = _write_ledger(pytester, live, "5e5e5e5e-main", records, tail='{"event": "crea')
    result = pytester.runpytest("--xquik-sweep")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["pytest-xquik sweep: revoked 3 key(s)"])
    assert not answered.is_active
    assert not unanswered.is_active
    assert _active(account) == {"fresh", "foreign", "lookalike"}
    assert list(ledger.iterdir()) == []


def test_the_age_of_a_key_counts_from_its_last_use(
    pytester: pytest.Pytester, live: XquikServer, account: dict[str, FakeKey]
) -> None:
    used = _aged(live, "pytest-xquik 7a7a7a7a7a7a-1 test_x.py::test_long", timedelta(hours=3))
    recently = datetime.now(timezone.utc) - timedelta(minutes=5)
    used.last_used_at = recently.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    account["old"].last_used_at = "2020-01-01T00:00:00.000Z"
    result = pytester.runpytest("--xquik-sweep")
    assert result.ret == 0
    result.stdout.fnmatch_lines([f"revoked key id={account['old'].id} *", "*revoked 1 key(s)"])
    assert used.is_active
    assert _active(account) == {"fresh", "foreign", "lookalike"}


@pytest.mark.parametrize("other", ["base URL", "credential"])
def test_a_sweep_leaves_the_ledgers_of_another_service_alone(
    pytester: pytest.Pytester, live: XquikServer, monkeypatch: pytest.MonkeyPatch, other: str
) -> None:
    with XquikServer() as elsewhere:
        # A key another service's run left: its ledger is all that knows it.
        key = elsewhere.api.add_key("pytest-xquik 3c3c3c3c3c3c-1 test_a.py::test_a")
        created = {"event": "created", "id": key.id, "prefix": key.prefix, "name": key.name}
        created["test"] = "test_a.py::test_a"
        ledger = _write_ledger(pytester, elsewhere, "3c3c3c3c3c3c-main", [created])
        if other == "credential":  # the same service, another account's credential
            monkeypatch.setenv("XQUIK_BASE_URL", elsewhere.base_url)
            monkeypatch.setenv("XQUIK_BEARER_TOKEN", elsewhere.bearer_token)
            monkeypatch.delenv("XQUIK_ADMIN_API_KEY")
        result = pytester.runpytest("--xquik-sweep")  # the key is young: only a ledger knows it
        assert result.ret == 0
        result.stdout.fnmatch_lines(["pytest-xquik sweep: revoked 0 key(s)"])
        assert key.is_active
        assert [path.name for path in ledger.glob("*.jsonl")] == ["3c3c3c3c3c3c-main.jsonl"]
        # The sweep of that service and account revokes it and forgets the ledger.
        for name, value in elsewhere.env.items():
            monkeypatch.setenv(name, value)
        result = pytester.runpytest("--xquik-sweep")
        result.stdout.fnmatch_lines([f"revoked key id={key.id} *", "*revoked 1 key(s)"])
        assert not key.is_active
        assert list(ledger.glob("*.jsonl")) == []


def test_cache_clear_keeps_the_ledger_of_unrevoked_keys(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    key = _aged(live, "pytest-xquik 4d4d4d4d4d4d-1 test_a.py::test_a", timedelta(minutes=1))
    created = {"event": "created", "id": key.id, "prefix": key.prefix, "name": key.name}
    created["test"] = "test_a.py::test_a"
    ledger = _write_ledger(pytester, live, "4d4d4d4d4d4d-main", [created])
    pytester.makepyfile("def test_plain(): pass")
    pytester.runpytest("--cache-clear").assert_outcomes(passed=1)
    assert [path.name for path in ledger.glob("*.jsonl")] == ["4d4d4d4d4d4d-main.jsonl"]
    result = pytester.runpytest("--xquik-sweep")
    result.stdout.fnmatch_lines([f"revoked key id={key.id} *", "*revoked 1 key(s)"])
    assert not key.is_active
