"""``api_key_fixture()``: declare a scratch-key fixture of any scope in a conftest."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from pytest_xquik.api.admin import XquikAdmin
from pytest_xquik.api.fake import SCOPE_NAMES, ScopeName
from pytest_xquik.factory import ScratchKeyFactory
from pytest_xquik.fixtures import fixture_calls, xquik_session
from pytest_xquik.keys import ScratchKey


def api_key_fixture(
    *, scope: ScopeName = "function", name: str | None = None
) -> Callable[..., Iterator[ScratchKey]]:
    """Return a fixture of a scratch key shared by everything in ``scope``.

    Assign it in a conftest or test module; the variable's name is the
    fixture's name::

        reporting_key = pytest_xquik.api_key_fixture(scope="module", name="reporting")

    The key is created the first time a test of the scope requests it, and
    revoked when the scope ends (after its last test). ``name`` goes into the
    key's name, next to the id of the module, class, package or session. In
    mock mode the fake API keeps the key, and what the scope's tests did with
    it, for exactly as long.
    """
    if scope not in SCOPE_NAMES:
        raise ValueError(
            f"api_key_fixture(scope={scope!r}): the scope must be one of {', '.join(SCOPE_NAMES)}"
        )

    def scratch_key(
        request: pytest.FixtureRequest, xquik_admin: XquikAdmin
    ) -> Iterator[ScratchKey]:
        __tracebackhide__ = True
        with xquik_session(request.config).fake_scope(scope) as held:
            factory = ScratchKeyFactory(xquik_admin, request.node.nodeid or "(session)")
            try:
                with fixture_calls(held):
                    key = factory.create(name)
                yield key
            finally:
                with fixture_calls(held):
                    factory.revoke_all()

    scratch_key.__doc__ = (
        f"A scratch key (``ScratchKey``) shared by the whole {scope}, revoked when it ends"
        + (f"; its name includes {name!r}." if name else ".")
        + " Declared with ``pytest_xquik.api_key_fixture()``."
    )
    return pytest.fixture(scope=scope)(scratch_key)
