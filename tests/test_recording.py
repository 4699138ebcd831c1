"""Beside pytest-recording and vcrpy: no secret in a cassette, and the cassettes replay.

Every inner run records, in one session: a key made after the cassette opened
(``@pytest.mark.vcr`` opens it first) and one made before it (a module-scoped
key), ``xquik_admin`` used inside a cassette, a yaml and a json cassette, a
module with vcrpy's usual ``filter_headers`` and one without, plain
``vcr.use_cassette`` in a test body, and a cassette open around the whole run
(the sweep at start, every fixture, the end-of-run check). Every byte of every
cassette is then searched for each secret and each 8-character run of it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pytest_xquik.masking.masker import KEY_PREFIX, masked_form
from tests.extras import needs
from tests.xquik_server import XquikServer

#: These tests drive the real pytest-recording and vcrpy, from the test extra.
pytestmark = needs("pytest-recording", "vcrpy")

MOCK_BASE_URL = "https://xquik.com/api/v1"
WINDOW = 8

CONFTEST = """
import os

import pytest

from pytest_xquik import api_key_fixture
from pytest_xquik.fixtures import xquik_session

module_key = api_key_fixture(scope="module", name="module")
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture
def remember():
    # Every secret a test sees, for the outer test to search the cassettes for.
    def remember(*keys):
        with open(f"secrets-{WORKER}.txt", "a") as file:
            file.writelines(f"{getattr(key, 'full_key', key)}\\n" for key in keys)
    return remember


@pytest.hookimpl(trylast=True)  # after pytest-xquik's configure: vcr is imported after it
def pytest_configure(config):
    import vcr

    record_mode = config.getoption("record_mode") or "none"
    # A cassette around the whole run: the sweep at start, every fixture, the end-of-run check.
    path = f"cassettes/whole-run-{WORKER}.yaml"
    config.whole_run = vcr.use_cassette(path, record_mode=record_mode)
    config.whole_run.__enter__()


@pytest.hookimpl(tryfirst=True)
def pytest_unconfigure(config):
    config.whole_run.__exit__(None, None, None)
    with open(f"secrets-{WORKER}.txt", "a") as file:
        file.write(xquik_session(config).credential.secret + "\\n")
"""

RECORDED = """
import httpx
import pytest

BASE_URL = {base_url!r}
{vcr_config}

@pytest.mark.vcr
def test_key_made_inside_the_cassette(xquik_client, xquik_api_key, remember):
    remember(xquik_api_key, xquik_client.headers["x-api-key"])
    assert xquik_client.get("/account").status_code == 200
    xquik_client.post("/account", json={{"mine": xquik_api_key.full_key}})


@pytest.mark.vcr(serializer="json")
def test_json_cassette(xquik_client, xquik_api_key, remember):
    remember(xquik_api_key, xquik_client.headers["x-api-key"])
    assert xquik_client.get("/account").status_code == 200


@pytest.mark.vcr
def test_key_made_before_the_cassette(module_key, remember):
    remember(module_key)
    with httpx.Client(base_url=BASE_URL, headers=module_key.headers) as client:
        assert client.get("/account").status_code == 200


@pytest.mark.vcr
def test_management_client_inside_the_cassette(xquik_admin, xquik_api_key_factory, remember):
    key = xquik_api_key_factory.create("factory")
    own = xquik_admin.create("own")
    remember(key, own)
    assert own.id in [info.id for info in xquik_admin.list()]
    assert xquik_admin.revoke(own.id)
    with httpx.Client(base_url=BASE_URL, headers=key.headers) as client:
        assert client.get("/account").status_code == 200


@pytest.mark.vcr
def test_the_fakes_answers(xquik_mock, xquik_client, xquik_api_key, remember):
    remember(xquik_api_key, xquik_client.headers["x-api-key"])
    xquik_mock.route("GET", "/echo", json={{"yours": xquik_api_key.full_key}})
    assert xquik_client.get("/echo").json()["yours"].startswith("xq_")
"""

FILTERED = """
@pytest.fixture
def vcr_config():
    return {"filter_headers": ["x-api-key", "authorization", "cookie"]}
"""

PLAIN = """
import httpx
import vcr

BASE_URL = {base_url!r}


def test_use_cassette_in_the_test(pytestconfig, xquik_api_key_factory, remember):
    record_mode = pytestconfig.getoption("record_mode") or "none"
    before = xquik_api_key_factory.create("before")
    path = "cassettes/plain/in_the_test.json"
    with vcr.use_cassette(path, serializer="json", record_mode=record_mode):
        inside = xquik_api_key_factory.create("inside")
        remember(before, inside)
        for key in (before, inside):
            with httpx.Client(base_url=BASE_URL, headers=key.headers) as client:
                assert client.get("/account").status_code == 200


@vcr.use_cassette("cassettes/plain/decorated.yaml", record_mode="once")
def test_use_cassette_as_a_decorator(xquik_client, xquik_api_key, remember):
    remember(xquik_api_key, xquik_client.headers["x-api-key"])
    assert xquik_client.get("/account").status_code == 200
"""


def write_suite(pytester: pytest.Pytester, base_url: str) -> None:
    """The user's suite: conftest, two recorded modules (one filtering headers), plain vcrpy."""
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        test_recorded=RECORDED.format(base_url=base_url, vcr_config=""),
        test_filtered=RECORDED.format(base_url=base_url, vcr_config=FILTERED),
        test_plain=PLAIN.format(base_url=base_url),
    )


def windows(secret: str) -> set[str]:
    """Every run of WINDOW characters of ``secret``, but a key's public prefix."""
    runs = {secret[i : i + WINDOW] for i in range(len(secret) - WINDOW + 1)}
    if secret.startswith(KEY_PREFIX):
        runs.discard(secret[:WINDOW])
    return runs


def cassettes(directory: Path) -> dict[str, str]:
    """Every cassette file under ``directory``, by name, every byte."""
    return {
        str(path.relative_to(directory)): path.read_bytes().decode("latin-1")
        for path in sorted((directory / "cassettes").rglob("*"))
        if path.is_file()
    }


def remembered(directory: Path) -> set[str]:
    """The secrets the inner tests saw, and the management credential of each process."""
    return {
        line
        for path in directory.glob("secrets-*.txt")
        for line in path.read_text().split()
        if line
    }


def assert_cassettes_hold_no_secret(directory: Path, secrets: set[str]) -> dict[str, str]:
    """No run of 8 characters of a secret in any cassette; the user's requests are there."""
    files = cassettes(directory)
    assert secrets, "no secret to look for: this test would prove nothing"
    for secret in secrets:
        runs = windows(secret)
        for name, text in files.items():
            leaked = sorted(run for run in runs if run in text)
            assert not leaked, f"{name} holds {leaked[0]!r} of a secret:\n{text}"
    for name, text in files.items():
        assert "api-keys" not in text, f"{name} holds a management call:\n{text}"
    user = {name: text for name, text in files.items() if "/api/v1/account" in text}
    expected = {
        f"test_{module}/test_{test}.{suffix}"
        for module in ("recorded", "filtered")
        for test, suffix in [
            ("key_made_inside_the_cassette", "yaml"),
            ("json_cassette", "json"),
            ("key_made_before_the_cassette", "yaml"),
            ("management_client_inside_the_cassette", "yaml"),
        ]
    } | {"plain/in_the_test.json", "plain/decorated.yaml"}
    assert {name.removeprefix("cassettes/") for name in user} >= expected
    # The unfiltered cassettes recorded the scratch key's header, masked.
    shown = [form for secret in secrets for form in [masked_form(secret)] if KEY_PREFIX in form]
    header = files["cassettes/test_recorded/test_key_made_inside_the_cassette.yaml"]
    assert "x-api-key" in header
    assert any(form in header for form in shown), header
    return files


def credential_env(monkeypatch: pytest.MonkeyPatch, live: XquikServer, kind: str) -> None:
    """Make ``kind`` the management credential of the inner runs."""
    monkeypatch.delenv("XQUIK_ADMIN_API_KEY")
    value = {
        "api-key": ("XQUIK_ADMIN_API_KEY", live.admin_api_key),
        "bearer": ("XQUIK_BEARER_TOKEN", live.bearer_token),
        "session": ("XQUIK_SESSION_TOKEN", live.session_token),
    }[kind]
    monkeypatch.setenv(*value)


def live_secrets(live: XquikServer, directory: Path) -> set[str]:
    keys = {key.full_key for key in live.scratch_keys()}
    credentials = {live.admin_api_key, live.bearer_token, live.session_token}
    return keys | credentials | remembered(directory)


def record_live(pytester: pytest.Pytester, live: XquikServer, *options: str) -> None:
    """Record the suite in live mode (sweeping at start), and search its cassettes."""
    result = pytester.runpytest_subprocess("-o", "xquik_sweep_on_start=true", *options)
    result.assert_outcomes(passed=10, skipped=2)
    result.stdout.fnmatch_lines(["*run *: 18 key(s) created, 18 revoked, 0 leaked"])
    assert live.scratch_keys(active=True) == []
    assert_cassettes_hold_no_secret(pytester.path, live_secrets(live, pytester.path))


def record_mock(pytester: pytest.Pytester, *options: str) -> None:
    """Record the suite in mock mode, and search its cassettes (the mock's answers too)."""
    pytester.runpytest_subprocess(*options).assert_outcomes(passed=12)
    files = assert_cassettes_hold_no_secret(pytester.path, remembered(pytester.path))
    echoed = files["cassettes/test_recorded/test_the_fakes_answers.yaml"]
    assert '"yours"' in echoed, echoed
    assert "[MASKED]" in echoed, echoed


# With the replay tests below (once, API key, one process; mock mode, once, one
# process), every record mode, credential kind and -n 2 are recorded.
@pytest.mark.parametrize(
    ("record_mode", "credential", "xdist"),
    [
        ("once", "bearer", ["-n", "2"]),
        ("once", "session", []),
        ("all", "api-key", ["-n", "2"]),
        ("all", "bearer", []),
        ("all", "session", ["-n", "2"]),
    ],
)
def test_live_cassettes_hold_the_users_requests_and_no_secret(
    pytester: pytest.Pytester,
    live: XquikServer,
    monkeypatch: pytest.MonkeyPatch,
    record_mode: str,
    credential: str,
    xdist: list[str],
) -> None:
    credential_env(monkeypatch, live, credential)
    write_suite(pytester, live.base_url)
    record_live(pytester, live, f"--record-mode={record_mode}", *xdist)


def test_mock_cassettes_hold_the_users_requests_and_no_secret(pytester: pytest.Pytester) -> None:
    write_suite(pytester, MOCK_BASE_URL)
    record_mock(pytester, "--record-mode=all", "-n", "2")


def test_a_live_recording_replays_with_new_keys(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    write_suite(pytester, live.base_url)
    record_live(pytester, live, "--record-mode=once")
    recorded = cassettes(pytester.path)
    served = len(live.requests)

    # New keys, the same cassettes: the requests match on method and URL, not the key.
    result = pytester.runpytest_subprocess("--record-mode=none")
    result.assert_outcomes(passed=10, skipped=2)
    assert cassettes(pytester.path) == recorded
    replayed = [path for _, path in live.requests[served:]]
    assert replayed, "the replay made no key"
    assert all("/api-keys" in path for path in replayed), replayed
    assert live.scratch_keys(active=True) == []


def test_a_mock_recording_replays(pytester: pytest.Pytester) -> None:
    write_suite(pytester, MOCK_BASE_URL)
    record_mock(pytester, "--record-mode=once")
    recorded = cassettes(pytester.path)
    pytester.runpytest_subprocess("--record-mode=none").assert_outcomes(passed=12)
    assert cassettes(pytester.path) == recorded


def test_vcrpy_imported_before_the_plugin_starts_is_masked_too(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    pytester.makeconftest("import vcr\n")
    pytester.makepyfile(
        f"""
        import httpx
        import pytest

        @pytest.mark.vcr
        def test_account(xquik_api_key):
            response = httpx.get("{live.base_url}/account", headers=xquik_api_key.headers)
            assert response.status_code == 200
        """
    )
    pytester.runpytest_subprocess("--record-mode=once").assert_outcomes(passed=1)
    [key] = live.scratch_keys()
    [text] = cassettes(pytester.path).values()
    assert masked_form(key.full_key) in text
    assert not windows(key.full_key) & {text[i : i + WINDOW] for i in range(len(text))}
    assert live.admin_api_key[WINDOW:] not in text
    assert "api-keys" not in text


def test_vcrpy_is_not_imported_by_the_plugin(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import sys

        def test_key(xquik_api_key):
            assert "vcr" not in sys.modules
        """
    )
    pytester.runpytest_subprocess().assert_outcomes(passed=1)


def test_cassettes_are_left_alone_after_the_session(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        import vcr.cassette

        def test_key(xquik_api_key):
            assert "load_masked" in repr(vcr.cassette.Cassette.load)
        """
    )
    pytester.makeconftest(
        """
        import pytest

        @pytest.hookimpl(trylast=True)
        def pytest_unconfigure(config):
            import vcr.cassette
            print("after the session:", vcr.cassette.Cassette.load.__name__)
        """
    )
    result = pytester.runpytest_subprocess("-s")
    result.assert_outcomes(passed=1)
    assert os.linesep.join(result.outlines).count("after the session: load") == 1
