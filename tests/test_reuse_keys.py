"""``--xquik-reuse-keys``: one key per process for ``xquik_api_key`` and ``xquik_client``."""

from __future__ import annotations

import pytest

from tests.conftest import INNER_INI
from tests.extras import needs
from tests.xquik_server import XquikServer

SUITE = """
import pytest

SEEN = []
FRESH = []


@pytest.mark.parametrize("n", range(5))
def test_key(n, xquik_api_key, xquik_client):
    SEEN.append(xquik_api_key.id)
    assert set(SEEN) == {SEEN[0]}
    assert xquik_client.headers["x-api-key"] == xquik_api_key.full_key
    assert xquik_client.get("/account").status_code == 200


def test_revokes_it(xquik_api_key, xquik_admin):
    assert xquik_api_key.id == SEEN[0]
    assert xquik_admin.revoke(xquik_api_key.id) is True


@pytest.mark.parametrize("n", range({later}))
def test_later_tests_share_a_fresh_one(n, xquik_client, xquik_api_key):
    assert xquik_api_key.id != SEEN[0]
    FRESH.append(xquik_api_key.id)
    assert set(FRESH) == {FRESH[0]}
    assert xquik_client.get("/account").status_code == 200


def test_the_factory_still_makes_fresh_keys(xquik_api_key, xquik_api_key_factory):
    assert xquik_api_key_factory.create().id != xquik_api_key.id
"""


def test_a_live_run_shares_one_key_and_replaces_it_once_a_test_revoked_it(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    pytester.makepyfile(SUITE.replace("{later}", "2"))
    result = pytester.runpytest("--xquik-reuse-keys")
    result.assert_outcomes(passed=9)
    shared, replacement, fresh = live.scratch_keys()
    assert " reused (session)" in shared.name
    assert " reused (session)" in replacement.name
    assert fresh.name.endswith("::test_the_factory_still_makes_fresh_keys")
    assert live.scratch_keys(active=True) == []
    # Each key revoked once: the one the test revoked is not revoked again.
    deletes = [path for method, path in live.requests if method == "DELETE"]
    assert sorted(deletes) == sorted(f"/api/v1/api-keys/{key.id}" for key in live.scratch_keys())
    result.stdout.fnmatch_lines(["run *: 3 key(s) created, 3 revoked, 0 leaked"])


def test_mock_mode_reuses_keys_the_same_way_when_the_ini_file_says_so(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini(INNER_INI + "xquik_reuse_keys = true\n")
    pytester.makepyfile(SUITE.replace("{later}", "2"))
    pytester.runpytest().assert_outcomes(passed=9)


def test_without_the_option_every_test_gets_a_fresh_key(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SUITE.replace("{later}", "2"))
    result = pytester.runpytest()
    result.assert_outcomes(passed=2, failed=7)


def test_each_xdist_worker_shares_its_own_key(pytester: pytest.Pytester, live: XquikServer) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("n", range(20))
        def test_key(n, xquik_api_key):
            assert xquik_api_key.id
        """
    )
    result = pytester.runpytest_subprocess("-n", "2", "--xquik-reuse-keys")
    result.assert_outcomes(passed=20)
    keys = live.scratch_keys()
    assert 1 <= len(keys) <= 2
    assert {key.name.split(" ")[1].split("-")[1] for key in keys} <= {"gw0", "gw1"}
    assert live.scratch_keys(active=True) == []
    result.stdout.fnmatch_lines([f"run *: {len(keys)} key(s) created, {len(keys)} revoked, *"])


@needs("pytest-asyncio")
def test_the_async_client_shares_the_key_too(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.asyncio
        async def test_async(xquik_async_client, xquik_api_key):
            assert xquik_async_client.headers["x-api-key"] == xquik_api_key.full_key
            assert (await xquik_async_client.get("/account")).status_code == 200
        """
    )
    pytester.runpytest("--xquik-reuse-keys").assert_outcomes(passed=1)
