"""The fixtures pytest-xquik provides (registered by :mod:`pytest_xquik.plugin`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpx
import pytest

from pytest_xquik.markers import xquik_options

if TYPE_CHECKING:
    from pytest_xquik.api.admin import XquikAdmin
    from pytest_xquik.api.fake import FakeXquikApi
    from pytest_xquik.factory import ReusedKey, ScratchKeyFactory
    from pytest_xquik.keys import ScratchKey
    from pytest_xquik.session import XquikSession

SESSION: pytest.StashKey[XquikSession] = pytest.StashKey()


def xquik_session(config: pytest.Config) -> XquikSession:
    """The plugin's state for this session, set up by ``pytest_configure``."""
    return config.stash[SESSION]


@pytest.fixture
def _xquik_fake(pytestconfig: pytest.Config) -> Iterator[FakeXquikApi | None]:
    """In mock mode, the fake API, intercepting httpx for this test; ``None`` in live mode."""
    with xquik_session(pytestconfig).fake_scope() as fake:
        yield fake


@pytest.fixture
def xquik_mock(_xquik_fake: FakeXquikApi | None) -> FakeXquikApi:
    """The fake Xquik API of this test (mock mode), fresh for each test.

    While the test runs, every httpx client of the process (sync or async,
    yours or the official SDK's) that calls the base URL gets the fake's
    answers; other hosts are untouched. Look at ``.keys``, ``.active_keys``
    and ``.requests``; serve other endpoints with
    ``.route("GET", "/path", json=...)``; make calls fail with
    ``.fail_next("create" | "list" | "revoke", status, times=1)``, where
    ``status`` may also be ``"timeout"`` or ``"disconnect"``.
    In live mode, a test requesting it is skipped.
    """
    if _xquik_fake is None:
        pytest.skip("xquik_mock exists only in mock mode, and this run is in live mode")
    return _xquik_fake


@pytest.fixture(scope="session")
def xquik_admin(pytestconfig: pytest.Config) -> XquikAdmin:
    """The management client the fixtures use: ``create(name)``, ``list()``, ``revoke(id)``.

    Authenticated as the management credential (live mode) or the fake API's
    own (mock mode). Every key it creates is named with the plugin's prefix;
    keys you create with it are yours to revoke. In mock mode, request
    ``xquik_mock`` (or a key fixture) too if your own code calls the API in
    the same test: only those fixtures intercept the process's httpx clients.
    """
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

    with session.fake_scope() as fake:
        # In mock mode a key made during one test is gone from the fake after it.
        reused = ReusedKey(
            xquik_admin,
            (lambda key: key.id in {k.id for k in fake.active_keys}) if fake else lambda key: True,
        )
        reused.key()  # made now, in the session's scope of the mock
        try:
            yield reused
        finally:
            reused.revoke_all()


@pytest.fixture
def xquik_api_key_factory(
    request: pytest.FixtureRequest, _xquik_fake: FakeXquikApi | None, xquik_admin: XquikAdmin
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
        factory.revoke_all()


@pytest.fixture
def xquik_api_key(
    request: pytest.FixtureRequest,
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
    if _xquik_reused_key is not None:
        return _xquik_reused_key.key()
    return xquik_api_key_factory.create(xquik_options(request.node).name)


@pytest.fixture
def xquik_client(
    request: pytest.FixtureRequest,
    pytestconfig: pytest.Config,
    _xquik_reused_key: ReusedKey | None,
    xquik_api_key_factory: ScratchKeyFactory,
) -> Iterator[httpx.Client]:
    """An ``httpx.Client`` for the base URL, authenticated as its own scratch key.

    Relative URLs work (``xquik_client.get("/account")``). The client is
    closed and its key revoked after the test. With ``--xquik-reuse-keys``,
    it is authenticated as the key this process's tests share.
    """
    __tracebackhide__ = True
    if _xquik_reused_key is not None:
        key = _xquik_reused_key.key()
    else:
        key = xquik_api_key_factory.create(xquik_options(request.node).name)
    options = xquik_session(pytestconfig).client_options(key.headers)
    with httpx.Client(**options) as client:
        yield client
