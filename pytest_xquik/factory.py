"""Scratch keys for one fixture's lifetime, all revoked when it ends."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

from pytest_xquik.api.admin import XquikAdmin
from pytest_xquik.errors import XquikError, XquikRevokeError
from pytest_xquik.keys import ScratchKey, describe_key


class ScratchKeyFactory:
    """Creates keys with ``create(name=None)``; every one is revoked when the fixture ends.

    The keys are revoked newest first. A key that cannot be revoked is never
    dropped silently: teardown raises :class:`~pytest_xquik.XquikRevokeError`
    naming each one, after trying all of them.
    """

    def __init__(self, admin: XquikAdmin, test: str) -> None:
        self._admin = admin
        self._test = test
        self._keys: list[ScratchKey] = []

    @property
    def keys(self) -> list[ScratchKey]:
        """The keys created so far, oldest first."""
        return list(self._keys)

    def create(self, name: str | None = None) -> ScratchKey:
        """Create a scratch key; ``name`` becomes part of its name."""
        __tracebackhide__ = True
        key = self._admin.create(name, test=self._test)
        self._keys.append(key)
        return key

    def revoke_all(self) -> None:
        """Revoke every key created here, newest first; raise if any stays active."""
        __tracebackhide__ = True
        failures: list[tuple[str, XquikError]] = []
        while self._keys:
            key = self._keys.pop()
            if self._admin.was_revoked(key.id):
                continue  # the test revoked it through the management client
            try:
                self._admin.revoke(key.id)
            except XquikError as error:
                failures.append((describe_key(key.id, key.prefix, key.name), error))
        if failures:
            raise XquikRevokeError(failures, mock=self._admin.mock)


class ReusedKey:
    """The key ``xquik_api_key`` and ``xquik_client`` share in a process (``--xquik-reuse-keys``).

    :meth:`key` gives the same key to every test, or a fresh one once a test
    revoked it through the management client (or, in mock mode, ``usable``
    says it is gone); :meth:`revoke_all` revokes it at the end of the session.
    """

    def __init__(
        self,
        admin: XquikAdmin,
        usable: Callable[[ScratchKey], bool] = lambda key: True,
        *,
        own_calls: Callable[[], AbstractContextManager[None]] = nullcontext,
    ) -> None:
        self._admin = admin
        self._usable = usable
        self._own_calls = own_calls
        self._factory = ScratchKeyFactory(admin, "(session)")
        self._key: ScratchKey | None = None

    def key(self) -> ScratchKey:
        """The shared key; made now if there is none yet, or the last one was revoked."""
        __tracebackhide__ = True
        key = self._key
        if key is None or self._admin.was_revoked(key.id) or not self._usable(key):
            with self._own_calls():
                self._key = key = self._factory.create("reused")
        return key

    def revoke_all(self) -> None:
        """Revoke the shared key (and any it replaced that is still active)."""
        __tracebackhide__ = True
        with self._own_calls():
            self._factory.revoke_all()
