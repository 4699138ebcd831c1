"""The fixtures pytest-xquik provides (registered by :mod:`pytest_xquik.plugin`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING

import httpx
import pytest

from pytest_xquik.failures import show_errors_as_messages
from pytest_xquik.markers import apply_options, xquik_options

if TYPE_CHECKING:
    from pytest_xquik.api.admin import XquikAdmin
    from pytest_xquik.api.fake import FakeScope, FakeXquikApi
    from pytest_xquik.factory import ReusedKey, ScratchKeyFactory
    from pytest_xquik.keys import ScratchKey
    from pytest_xquik.session import XquikSession

SESSION: pytest.StashKey[XquikSession] = pytest.StashKey()


def xquik_session(config: pytest.Config) -> XquikSession:
    """The plugin's state for this session, set up by ``pytest_configure``."""
    return config.stash[SESSION]


def fixture_calls(scope: FakeScope | None) -> AbstractContextManager[None]:
    """Mark a fixture's own management calls (mock mode; see ``FakeScope.fixture_calls``)."""
    return nullcontext() if scope is None else scope.fixture_calls()


def mock_the_admin_tests(items: Sequence[pytest.Item]) -> None:
    """Give each test that uses ``xquik_admin`` (a session fixture) the mock of its own.

    So that, like every other fixture, it intercepts the test's httpx clients
    and keeps what the test makes to the test. The test's mock starts after
    its wider-scoped fixtures and before its function-scoped ones (which may
    use ``xquik_admin`` in their setup and teardown).
    """
    for item in items:
        names = getattr(item, "fixturenames", None)
        if not names or "xquik_admin" not in names:
            continue
        if "_xquik_fake" in names:
            names.remove("_xquik_fake")
        # pytest sets up a test's fixture closure in its order, widest scope first; no
        # public API gives a fixture's scope, hence the private ``_fixtureinfo``.
        definitions = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
        index = next(
            (
                position
                for position, name in enumerate(names)
                if not definitions.get(name) or definitions[name][-1].scope == "function"
            ),
            len(names),
        )
        names.insert(index, "_xquik_fake")


@pytest.fixture
def _xquik_fake(request: pytest.FixtureRequest) -> Iterator[FakeScope | None]:
    """In mock mode, this test's use of the fake API (intercepting httpx); ``None`` in live mode."""
    show_errors_as_messages(request.config)
    with xquik_session(request.config).fake_scope() as scope:
        if scope is not None:
            apply_options(scope.api, xquik_options(request.node))
        yield scope


@pytest.fixture
def xquik_mock(_xquik_fake: FakeScope | None) -> FakeXquikApi:
    """The fake Xquik API of this test (mock mode), fresh for each test.

    While the test runs, every httpx client of the process (sync or async,
    yours or the official SDK's) that calls the base URL gets the fake's
    answers; other hosts are untouched. Look at ``.keys``, ``.active_keys``
    and ``.requests``; serve other endpoints with
    ``.route("GET", "/path", json=...)``; make the test's calls fail with
    ``.fail_next("create" | "list" | "revoke", status, times=1)``, where
    ``status`` may also be ``"timeout"`` or ``"disconnect"``; enforce rate
    limits with ``.rate_limit("reads" | "writes" | "deletes", limit,
    window=60)`` on a fake clock moved by ``.advance(seconds)``; choose who
    may manage keys with ``.management_auth = "any" | "session"``.
    In live mode, a test requesting it is skipped.
    """
    if _xquik_fake is None:
        pytest.skip("xquik_mock exists only in mock mode, and this run is in live mode")
    return _xquik_fake.api


@pytest.fixture(scope="session")
def xquik_admin(pytestconfig: pytest.Config) -> XquikAdmin:
    """The management client the fixtures use: ``create(name)``, ``list()``, ``revoke(id)``.

    Authenticated as the management credential (live mode) or the fake API's
    own (mock mode). Every key it creates is named with the plugin's prefix;
    keys you create with it are yours to revoke. In mock mode a test that
    requests it gets the test's mock, like every other fixture (a test that
    first gets it through ``request.getfixturevalue`` in its body is not
    known in advance: request ``xquik_mock`` too).
    """
    show_errors_as_messages(pytestconfig)
    return xquik_session(pytestconfig).admin


@pytest.fixture(scope="session")
def _xquik_reused_key(
    pytestconfig: pytest.Config, xquik_admin: XquikAdmin
) -> Iterator[ReusedKey | None]:
    """With ``--xquik-reuse-keys``: the key this process's tests share; ``None`` otherwise."""
    __tracebackhide__ = True
    session = xquik_session(pytestconfig)
    if not session.settings.reuse_keys:
        yield None
        return
    from pytest_xquik.factory import ReusedKey

    with session.fake_scope("session") as scope:
        if scope is None:
            reused = ReusedKey(xquik_admin)
        else:  # mock mode: the key belongs to the session's scope of the mock
            reused = ReusedKey(
                xquik_admin,
                lambda key: key.id in {k.id for k in scope.api.active_keys},
                own_calls=scope.fixture_calls,
            )
        reused.key()  # made now, in the session's scope of the mock
        try:
            yield reused
        finally:
            reused.revoke_all()


@pytest.fixture
def xquik_api_key_factory(
    request: pytest.FixtureRequest, _xquik_fake: FakeScope | None, xquik_admin: XquikAdmin
) -> Iterator[ScratchKeyFactory]:
    """A factory of scratch keys: ``create(name=None) -> ScratchKey``.

    Every key it made is revoked after the test, newest first, whatever the
    test did; a key that cannot be revoked is a teardown error naming it.
    """
    __tracebackhide__ = True
    from pytest_xquik.factory import ScratchKeyFactory

    factory = ScratchKeyFactory(xquik_admin, request.node.nodeid)
    try:
        yield factory
    finally:
        with fixture_calls(_xquik_fake):
            factory.revoke_all()


@pytest.fixture
def xquik_api_key(
    request: pytest.FixtureRequest,
    _xquik_fake: FakeScope | None,
    _xquik_reused_key: ReusedKey | None,
    xquik_api_key_factory: ScratchKeyFactory,
) -> ScratchKey:
    """A fresh scratch API key (``ScratchKey``), revoked after the test.

    ``.full_key`` is the secret (a ``str``; its repr shows only the prefix),
    ``.headers`` is ``{"x-api-key": full_key}``; also ``.id``, ``.name``,
    ``.prefix`` and ``.created_at``. ``@pytest.mark.xquik(name=...)`` names it.
    With ``--xquik-reuse-keys``, the key this process's tests share instead.
    """
    __tracebackhide__ = True
    with fixture_calls(_xquik_fake):
        if _xquik_reused_key is not None:
            return _xquik_reused_key.key()
        return xquik_api_key_factory.create(xquik_options(request.node).name)


@pytest.fixture
def xquik_client(
    request: pytest.FixtureRequest,
    pytestconfig: pytest.Config,
    _xquik_fake: FakeScope | None,
    _xquik_reused_key: ReusedKey | None,
    xquik_api_key_factory: ScratchKeyFactory,
) -> Iterator[httpx.Client]:
    """An ``httpx.Client`` for the base URL, authenticated as its own scratch key.

    Relative URLs work (``xquik_client.get("/account")``). The client is
    closed and its key revoked after the test. With ``--xquik-reuse-keys``,
    it is authenticated as the key this process's tests share.
    """
    __tracebackhide__ = True
    with fixture_calls(_xquik_fake):
        if _xquik_reused_key is not None:
            key = _xquik_reused_key.key()
        else:
            key = xquik_api_key_factory.create(xquik_options(request.node).name)
    options = xquik_session(pytestconfig).client_options(key.headers)
    with httpx.Client(**options) as client:
        yield client
