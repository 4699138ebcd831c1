"""Live mode's ledger, its end-of-run check, the summary and the exit status."""

from __future__ import annotations

import socket

import httpx
import pytest

from tests.conftest import INNER_INI
from tests.extras import needs
from tests.xquik_server import XquikServer, drop_after_effect

THREE_KEYS = """
    def test_one(xquik_api_key):
        assert xquik_api_key.id

    def test_two(xquik_api_key_factory):
        xquik_api_key_factory.create()
        xquik_api_key_factory.create("second")
    """

#: A revoke the service answers 200 without revoking anything.
FAKE_REVOKE = lambda request, api: httpx.Response(200, json={"success": True})  # noqa: E731


@pytest.mark.parametrize("cache", ["cacheprovider", "no cacheprovider"])
def test_the_ledger_records_a_key_before_the_test_gets_it_and_never_its_secret(
    pytester: pytest.Pytester, live: XquikServer, cache: str
) -> None:
    pytester.makepyfile(
        """
        import pathlib

        def test_reads_the_ledger(xquik_api_key):
            files = list(pathlib.Path(".pytest_cache/xquik").glob("*.jsonl"))
            ledger = "".join(path.read_text() for path in files)
            assert f'"id": "{xquik_api_key.id}"' in ledger
            assert f'"createdAt": "{xquik_api_key.created_at.isoformat()}"' in ledger
            assert xquik_api_key.name in ledger
            assert "test_reads_the_ledger" in ledger
            assert xquik_api_key.full_key not in ledger
        """
    )
    args = ["-p", "no:cacheprovider"] if cache == "no cacheprovider" else []
    result = pytester.runpytest(*args)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["run *: 1 key(s) created, 1 revoked, 0 leaked"])
    # Nothing leaked: the run's ledger files are gone.
    assert list(pytester.path.glob(".pytest_cache/xquik/*.jsonl")) == []


def test_the_happy_path_costs_two_requests_per_key_and_one_list_on_one_connection(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    pytester.makepyfile(THREE_KEYS)
    result = pytester.runpytest()
    result.assert_outcomes(passed=2)
    methods = [method for method, _ in live.requests]
    assert sorted(methods) == ["DELETE"] * 3 + ["GET"] + ["POST"] * 3
    assert methods[-1] == "GET"
    assert live.connections == 1
    assert live.scratch_keys(active=True) == []
    assert len(live.scratch_keys()) == 3
    result.stdout.fnmatch_lines(
        ["*= pytest-xquik =*", "run *: 3 key(s) created, 3 revoked, 0 leaked"]
    )


def test_nothing_is_printed_and_nothing_called_when_no_key_was_used(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    pytester.makepyfile("def test_plain(): pass")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert "= pytest-xquik =" not in result.stdout.str()
    assert live.requests == []


def test_a_key_still_active_after_its_revoke_is_revoked_at_the_end(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    live.inject("DELETE", "/api-keys/", FAKE_REVOKE)
    pytester.makepyfile(THREE_KEYS)
    result = pytester.runpytest()
    result.assert_outcomes(passed=2)
    assert result.ret == 0
    assert live.scratch_keys(active=True) == []
    result.stdout.fnmatch_lines(
        ["run *: 3 key(s) created, 3 revoked (1 at the end of the run), 0 leaked"]
    )


def _leak_one_key(live: XquikServer) -> None:
    """The teardown's revoke seems to work, the end of the run's is refused."""
    live.inject("DELETE", "/api-keys/", FAKE_REVOKE)
    live.fail("DELETE", "/api-keys/", 403, code="forbidden")


def test_a_leaked_key_is_named_in_the_summary_and_fails_the_run(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    _leak_one_key(live)
    pytester.makepyfile(
        """
        def test_leaky(xquik_api_key):
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    (key,) = live.scratch_keys(active=True)
    result.stdout.fnmatch_lines(
        [
            "run *: 1 key(s) created, 0 revoked, 1 leaked",
            f"LEAKED key id={key.id} prefix={key.prefix} name='{key.name}' "
            "test=test_a_leaked_key_is_named_in_the_summary_and_fails_the_run.py::test_leaky: "
            "revoke (DELETE /api-keys/*) answered 403 forbidden*",
            "These keys are still active*pytest --xquik-mode=live --xquik-sweep*",
        ]
    )
    assert key.full_key not in result.stdout.str()
    # The ledger keeps the key for the sweep, which revokes it.
    result = pytester.runpytest("--xquik-sweep")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [f"revoked key id={key.id} *", "pytest-xquik sweep: revoked 1 key(s)"]
    )
    assert live.scratch_keys(active=True) == []
    assert list(pytester.path.glob(".pytest_cache/xquik/*.jsonl")) == []


def test_xquik_on_leak_warn_reports_a_leak_without_failing_the_run(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    pytester.makeini(INNER_INI + "xquik_on_leak = warn\n")
    _leak_one_key(live)
    pytester.makepyfile("def test_leaky(xquik_api_key): pass")
    result = pytester.runpytest()
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "run *: 1 key(s) created, 0 revoked, 1 leaked",
            "LEAKED key id=*",
            "xquik_on_leak = warn: they do not change the exit status.",
            "*= 1 passed*",
        ]
    )
    assert len(live.scratch_keys(active=True)) == 1


def test_the_controller_counts_every_xdist_workers_keys_and_revokes_a_crashed_ones(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    pytester.makepyfile(
        """
        import os
        import pytest

        @pytest.mark.parametrize("n", range(3))
        def test_key(xquik_api_key, n):
            assert xquik_api_key.id

        def test_crashes(xquik_api_key):
            os._exit(1)
        """
    )
    result = pytester.runpytest_subprocess("-n", "2")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        ["run *: 4 key(s) created, 4 revoked (1 at the end of the run), 0 leaked"]
    )
    # Two requests per key (the crashed worker's revoke made by the controller), one list.
    methods = sorted(method for method, _ in live.requests)
    assert methods == ["DELETE"] * 4 + ["GET"] + ["POST"] * 4
    # One connection per process: two workers, the crashed one's replacement, the controller.
    assert live.connections <= 4
    assert len(live.scratch_keys()) == 4
    assert live.scratch_keys(active=True) == []


def test_an_end_of_run_check_that_cannot_list_says_so_and_keeps_the_ledger(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    pytester.makeini(INNER_INI + "xquik_max_retries = 0\n")
    live.fail("GET", "/api-keys", 503)
    pytester.makepyfile("def test_key(xquik_api_key): pass")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "run *: 1 key(s) created, 1 revoked, 0 leaked",
            "The end-of-run check could not list the account's keys (list (GET /api-keys) "
            "answered 503 internal_error*); run `pytest --xquik-mode=live --xquik-sweep`*",
        ]
    )
    assert len(list(pytester.path.glob(".pytest_cache/xquik/*.jsonl"))) == 1
    assert live.scratch_keys(active=True) == []


def test_a_ledger_that_cannot_be_written_stops_the_key_before_it_is_created(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    pytester.path.joinpath(".pytest_cache").write_text("a file where the directory should be")
    pytester.makepyfile("def test_key(xquik_api_key): pass")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*pytest-xquik cannot write its ledger */.pytest_cache/xquik/*.jsonl*cache_dir*"]
    )
    assert live.requests == []


@needs("pytest-asyncio")
def test_keys_created_concurrently_from_async_code_are_all_in_the_ledger(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    pytester.makepyfile(
        """
        import asyncio
        import pytest

        @pytest.mark.asyncio
        async def test_many(xquik_async_api_key_factory):
            keys = await asyncio.gather(*[xquik_async_api_key_factory.create() for _ in range(6)])
            assert len({key.id for key in keys}) == 6
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["run *: 6 key(s) created, 6 revoked, 0 leaked"])
    assert len(live.scratch_keys()) == 6
    assert live.scratch_keys(active=True) == []


#: More keys than the list shows (200, the newest): the first key falls out of it.
MANY_KEYS = """
    import pytest

    @pytest.mark.parametrize("n", range(202))
    def test_key(xquik_api_key, n):
        pass
    """
FIRST_KEY = "/api-keys/1002"  # the admin key is 1001


@pytest.mark.parametrize(
    ("fault", "args", "at_end"),
    [
        ("revoke refused", [], "1 at the end of the run"),
        ("revoke refused", ["-n", "2"], "1 at the end of the run"),
        ("revoked, answer lost", [], "1 at the end of the run, 1 of them already gone"),
    ],
)
def test_a_key_the_list_no_longer_shows_is_revoked_by_id_not_assumed_gone(
    pytester: pytest.Pytester, live: XquikServer, fault: str, args: list[str], at_end: str
) -> None:
    pytester.makeini(INNER_INI + "xquik_max_retries = 0\n")
    if fault == "revoke refused":
        live.fail("DELETE", FIRST_KEY, 403, code="forbidden")
    else:  # the key is revoked, the ledger does not know it: the end of the run gets a 404
        live.inject("DELETE", FIRST_KEY, drop_after_effect)
    pytester.makepyfile(MANY_KEYS)
    result = pytester.runpytest_subprocess(*args)
    result.assert_outcomes(passed=202, errors=1)
    result.stdout.fnmatch_lines([f"run *: 202 key(s) created, 202 revoked ({at_end}), 0 leaked"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # the teardown error
    assert live.requests.count(("DELETE", "/api/v1" + FIRST_KEY)) == 2
    assert live.scratch_keys(active=True) == []
    assert list(pytester.path.glob(".pytest_cache/xquik/*.jsonl")) == []


def test_a_key_neither_listed_nor_revoked_by_id_is_unverified_and_the_sweep_gets_it(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    pytester.makeini(INNER_INI + "xquik_max_retries = 0\n")
    live.fail("DELETE", FIRST_KEY, 403, code="forbidden", times=2)
    pytester.makepyfile(MANY_KEYS)
    result = pytester.runpytest()
    result.assert_outcomes(passed=202, errors=1)
    key = live.api.keys[1]
    result.stdout.fnmatch_lines(
        [
            "run *: 202 key(s) created, 201 revoked, 0 leaked, 1 unverified",
            f"UNVERIFIED key id=1002 prefix={key.prefix} name='pytest-xquik *-1 *' test=*: "
            "not in the account's list, and revoking it by id failed: "
            "revoke (DELETE /api-keys/1002) answered 403 forbidden*",
            "These keys may still be active on the account*pytest --xquik-mode=live --xquik-sweep*",
        ]
    )
    result.stdout.no_fnmatch_line("*LEAKED*")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert live.scratch_keys(active=True) == [key]
    # The ledger keeps it; the sweep revokes it by id, although the list does not show it.
    result = pytester.runpytest("--xquik-sweep")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["revoked key id=1002 *", "pytest-xquik sweep: revoked 1 key(s)"])
    assert live.scratch_keys(active=True) == []
    assert list(pytester.path.glob(".pytest_cache/xquik/*.jsonl")) == []


def test_keys_that_may_exist_when_the_end_of_run_list_fails_are_unverified_not_leaked(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    pytester.makeini(INNER_INI + "xquik_max_retries = 0\n")
    live.fail("DELETE", FIRST_KEY, 403, code="forbidden", times=2)
    live.fail("GET", "/api-keys", 503)
    pytester.makepyfile(THREE_KEYS)
    result = pytester.runpytest()
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "run *: 3 key(s) created, 2 revoked, 0 leaked, 1 unverified",
            "The end-of-run check could not list the account's keys (list (GET /api-keys) "
            "answered 503*",
            "UNVERIFIED key id=1002 *: not listed, and revoking it by id failed: *403 forbidden*",
            "These keys may still be active on the account*",
        ]
    )
    result.stdout.no_fnmatch_line("*still active on the account*")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert [key.id for key in live.scratch_keys(active=True)] == ["1002"]


@pytest.mark.parametrize("args", [[], ["-n", "2"]])
def test_creates_that_never_reached_the_service_are_no_leak(
    pytester: pytest.Pytester, live: XquikServer, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    monkeypatch.setenv("XQUIK_BASE_URL", f"http://127.0.0.1:{closed}/api/v1")
    pytester.makeini(INNER_INI + "xquik_max_retries = 0\n")
    pytester.makepyfile(THREE_KEYS)
    result = pytester.runpytest_subprocess(*args)
    result.assert_outcomes(errors=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "run *: 0 key(s) created, 0 revoked, 0 leaked; 2 create(s) failed without making "
            "a key (the service was not reached)"
        ]
    )
    result.stdout.no_fnmatch_line("*LEAKED*")
    result.stdout.no_fnmatch_line("*still active*")
    assert list(pytester.path.glob(".pytest_cache/xquik/*.jsonl")) == []


def test_creates_the_service_refused_are_no_leak_and_need_no_list(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    live.fail("POST", "/api-keys", 403, code="api_key_limit_reached", times=2)
    pytester.makepyfile(THREE_KEYS)
    result = pytester.runpytest()
    result.assert_outcomes(errors=1, failed=1)
    result.stdout.fnmatch_lines(
        ["run *: 0 key(s) created, 0 revoked, 0 leaked; 2 create(s) failed without making a key"]
    )
    assert live.requests == [("POST", "/api/v1/api-keys")] * 2
    assert list(pytester.path.glob(".pytest_cache/xquik/*.jsonl")) == []


@pytest.mark.parametrize(
    ("stop", "status"),
    [("raise KeyboardInterrupt", 2), ("pytest.exit('stopping')", 2), ("pytest.exit('x', 3)", 3)],
)
def test_the_end_of_run_check_runs_after_a_session_teardown_that_fails(
    pytester: pytest.Pytester, live: XquikServer, stop: str, status: int
) -> None:
    pytester.makeconftest(
        """
        import pytest_xquik

        shared_key = pytest_xquik.api_key_fixture(scope="session")
        """
    )
    pytester.makepyfile(
        f"""
        import pytest

        def test_stops(shared_key):
            {stop}
        """
    )
    live.fail("DELETE", "/api-keys/", 403, code="forbidden")
    result = pytester.runpytest_subprocess()
    assert result.ret == status
    result.stdout.fnmatch_lines(
        [
            "*= pytest-xquik =*",
            "The session's teardown failed: pytest-xquik could not revoke 1 key(s)*",
            "  - key id=1002 *: revoke (DELETE /api-keys/1002) answered 403 forbidden*",
            "*",
            "run *: 1 key(s) created, 1 revoked (1 at the end of the run), 0 leaked",
        ]
    )
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert live.scratch_keys(active=True) == []


def test_a_create_without_an_answer_is_settled_by_a_list_that_shows_every_key(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    pytester.makeini(INNER_INI + "xquik_max_retries = 0\n")
    live.inject("POST", "/api-keys", lambda request, api: "drop")  # lost before it took effect
    pytester.makepyfile(THREE_KEYS)
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["run *: 2 key(s) created, 2 revoked, 0 leaked; 1 create(s) failed without making a key"]
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # the test's error
    assert live.scratch_keys(active=True) == []
    assert list(pytester.path.glob(".pytest_cache/xquik/*.jsonl")) == []


def test_a_create_without_an_answer_that_the_list_cannot_rule_out_is_unverified(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    pytester.makeini(INNER_INI + "xquik_max_retries = 0\n")
    live.inject("POST", "/api-keys", drop_after_effect)  # made the key, lost the answer
    live.fail("GET", "/api-keys", 503)  # and the look-up after it fails
    pytester.makepyfile(MANY_KEYS)
    result = pytester.runpytest()
    result.assert_outcomes(passed=201, errors=1)
    result.stdout.fnmatch_lines(
        [
            "run *: 202 key(s) created, 201 revoked, 0 leaked, 1 unverified",
            "UNVERIFIED key id=? prefix=? name='pytest-xquik *-1 *' test=*: its create got no "
            "answer, and the account's list shows only its 200 newest keys",
        ]
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert [key.id for key in live.scratch_keys(active=True)] == ["1002"]  # it is there
    assert len(list(pytester.path.glob(".pytest_cache/xquik/*.jsonl"))) == 1


def test_several_session_teardowns_that_fail_are_each_a_message(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    pytester.makeconftest(
        """
        import pytest_xquik

        first_key = pytest_xquik.api_key_fixture(scope="session")
        second_key = pytest_xquik.api_key_fixture(scope="session")
        """
    )
    pytester.makepyfile("def test_stops(first_key, second_key):\n    raise KeyboardInterrupt\n")
    live.fail("DELETE", "/api-keys/", 403, code="forbidden", times=2)
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            "*= pytest-xquik =*",
            "The session's teardown failed: pytest-xquik could not revoke 1 key(s)*",
            "*",
            "*",
            "The session's teardown failed: pytest-xquik could not revoke 1 key(s)*",
            "*",
            "*",
            "run *: 2 key(s) created, 2 revoked (2 at the end of the run), 0 leaked",
        ]
    )
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert live.scratch_keys(active=True) == []
