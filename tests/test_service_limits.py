"""Live runs against a service with rate limits, or none at all: schedules, sharing, fail-fast."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import httpx
import pytest

from pytest_xquik.api.admin import XquikAdmin
from pytest_xquik.api.retry import RetryPolicy
from pytest_xquik.credentials import ManagementCredential
from pytest_xquik.errors import XquikApiError
from pytest_xquik.live.throttle import PROBE_INTERVAL, RunThrottle
from pytest_xquik.masking.masker import SecretMasker
from pytest_xquik.naming import KeyNamer
from tests.conftest import INNER_INI
from tests.xquik_server import XquikServer, closed_port

SIXTY_TESTS = """
import pytest

@pytest.mark.parametrize("n", range(60))
def test_key(n, xquik_api_key):
    assert xquik_api_key.id
"""


def test_two_workers_share_the_limits_and_pass_on_429s_alone(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 60 keys at 10 revokes a window: 6 windows. No retries: only the schedules carry the run.
    with XquikServer(rate_limits={"create": 20, "revoke": 10}, window=1.0) as server:
        for name, value in server.env.items():
            monkeypatch.setenv(name, value)
        pytester.makeini(INNER_INI + "xquik_max_retries = 0\n")
        pytester.makepyfile(SIXTY_TESTS)
        result = pytester.runpytest_subprocess("-n", "2")
    result.assert_outcomes(passed=60)
    result.stdout.fnmatch_lines(["run *: 60 key(s) created, 60 revoked, 0 leaked"])
    assert len(server.scratch_keys()) == 60
    assert server.scratch_keys(active=True) == []
    assert server.rejections, "the limits were never met: the test proves nothing"
    per_window = Counter(server.rejections)
    assert max(per_window.values()) == 1, per_window
    # The state the processes shared is gone with the run.
    assert list((pytester.path / ".pytest_cache" / "d" / "xquik").glob("*-shared")) == []


def test_a_bucket_closed_by_another_process_is_waited_for_without_a_request(
    xquik_server: XquikServer, tmp_path: Path
) -> None:
    waits: list[float] = []
    now = [1000.0]

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    other = RunThrottle(tmp_path, clock=lambda: now[0])
    with other.turn("revoke", 60, sleep) as turn:
        turn.close_for(7)  # another worker was answered 429, Retry-After: 7
    throttle = RunThrottle(tmp_path, clock=lambda: now[0])
    admin = _admin(xquik_server, RetryPolicy(0, 0, 10, sleep=sleep), throttle)
    key = admin.create()
    assert admin.revoke(key.id) is True
    assert waits == [7.0]
    with other.turn("revoke", 60, sleep) as turn:
        turn.close_for(30)
    with pytest.raises(XquikApiError) as raised:
        admin.revoke(key.id)
    assert str(raised.value).startswith(
        f"revoke (DELETE /api-keys/{key.id}) failed: not sent: rate limited: the service's "
        "revoke bucket is closed for 30.0 s more (another call of this run was answered 429). "
        "This call may wait 10 s more of xquik_rate_limit_deadline = 10 s"
    )
    assert raised.value.reached is False
    assert xquik_server.requests.count(("DELETE", f"/api/v1/api-keys/{key.id}")) == 1
    admin.close()


class _Asleep(Exception):
    """Stops a waiter where it would sleep."""


def test_processes_that_wait_for_one_window_take_turns_in_the_order_they_came(
    tmp_path: Path,
) -> None:
    def clock() -> float:
        return 100.0

    closing = RunThrottle(tmp_path, clock=clock)
    with closing.turn("create", 60, lambda s: None) as turn:
        turn.close_for(5)
    wakes: list[float] = []

    def sleep(seconds: float) -> None:
        wakes.append(clock() + seconds)
        raise _Asleep

    for _ in range(3):  # three processes, each with its own view of the run's state
        with pytest.raises(_Asleep), RunThrottle(tmp_path, clock=clock).turn("create", 60, sleep):
            pass
    assert wakes == pytest.approx([105.0, 105.02, 105.04])


CLOSED_PORT_TESTS = """
import pytest

@pytest.mark.parametrize("n", range(200))
def test_key(n, xquik_api_key):
    pass
"""


@pytest.fixture
def closed(monkeypatch: pytest.MonkeyPatch) -> str:
    """Live mode against a port nothing listens on."""
    base_url = f"http://127.0.0.1:{closed_port()}/api/v1"
    monkeypatch.setenv("XQUIK_MODE", "live")
    monkeypatch.setenv("XQUIK_BASE_URL", base_url)
    monkeypatch.setenv("XQUIK_ADMIN_API_KEY", "xq_" + "5" * 64)
    return base_url


def test_a_service_that_refuses_connections_costs_one_retry_cycle_not_one_per_test(
    pytester: pytest.Pytester, closed: str
) -> None:
    pytester.makeini(INNER_INI + "xquik_retry_backoff = 0.001\n")
    pytester.makepyfile(CLOSED_PORT_TESTS)
    result = pytester.runpytest("--log-file=xquik.log", "--log-file-level=DEBUG")
    result.assert_outcomes(errors=200)
    log = (pytester.path / "xquik.log").read_text()
    attempts = log.count("failed: ConnectError")
    # One call's 4 attempts, then a probe at most every 5 s; 800 without the fail-fast.
    assert attempts <= 20, attempts
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at setup of test_key[[]0[]] _*",
            "create (POST /api-keys, attempt 4 of 4) failed: ConnectError: *refused",
            "*_ ERROR at setup of test_key[[]1[]] _*",
            f"create (POST /api-keys) failed: not sent: the service at {closed} could not be "
            "reached *.* s ago (ConnectError: *refused). pytest-xquik tries it again at most "
            "every 5 s; check xquik_base_url and the network",
            "*_ ERROR at setup of test_key[[]2[]] _*",
            "run *: 0 key(s) created, *",
        ]
    )
    output = result.stdout.str()
    assert "plugin.py" not in output
    assert "All traceback entries are hidden" not in output


def test_a_service_that_comes_back_is_used_again_after_the_next_probe(tmp_path: Path) -> None:
    port = closed_port()
    now = [0.0]
    with XquikServer(port=port) as server:
        admin = _admin(server, RetryPolicy(3, 0, 60), RunThrottle(tmp_path, clock=lambda: now[0]))
    # The server is gone: its port refuses connections.
    with pytest.raises(XquikApiError, match=r"attempt 4 of 4\) failed: ConnectError") as first:
        admin.list()
    assert first.value.reached is False
    now[0] += PROBE_INTERVAL - 1
    with pytest.raises(XquikApiError, match="failed: not sent: the service at") as refused:
        admin.list()
    assert refused.value.reached is False
    with XquikServer(port=port) as back:
        admin._client.headers["authorization"] = f"Bearer {back.bearer_token}"
        with pytest.raises(XquikApiError, match="not sent"):
            admin.list()  # a probe is not due yet: no request
        assert back.requests == []
        now[0] += 1
        assert len(admin.list()) == 1  # the probe: the admin key of the new server
        admin.revoke(admin.create().id)  # the outage is over: every call goes through
        assert [method for method, _ in back.requests] == ["GET", "POST", "DELETE"]
    admin.close()


def test_an_outage_one_process_found_is_shared_with_the_others(tmp_path: Path) -> None:
    port = closed_port()
    with XquikServer(port=port) as server:
        # Two processes of one run: each with its own client and view of the shared state.
        first = _admin(server, RetryPolicy(2, 0, 60), RunThrottle(tmp_path))
        second = _admin(server, RetryPolicy(2, 0, 60), RunThrottle(tmp_path))
    with pytest.raises(XquikApiError, match=r"attempt 3 of 3\) failed: ConnectError"):
        first.create()
    with pytest.raises(XquikApiError) as refused:
        second.revoke("42")
    assert re.match(
        r"revoke \(DELETE /api-keys/42\) failed: not sent: the service at "
        rf"http://127\.0\.0\.1:{port}/api/v1 could not be reached \d+\.\d s ago \(ConnectError: ",
        str(refused.value),
    )
    assert refused.value.reached is False
    first.close()
    second.close()


def _admin(server: XquikServer, policy: RetryPolicy, throttle: RunThrottle) -> XquikAdmin:
    """A management client of ``server`` (its own, not the plugin's) with ``throttle``."""
    credential = ManagementCredential("bearer", "XQUIK_BEARER_TOKEN", server.bearer_token)
    client = httpx.Client(base_url=server.base_url, headers=credential.headers)
    return XquikAdmin(
        client,
        credential,
        KeyNamer("pytest-xquik", "run1"),
        SecretMasker(),
        retry=policy,
        throttle=throttle,
    )
