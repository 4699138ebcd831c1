"""pytest-xquik: disposable Xquik API keys for pytest.

Fixtures (enabled by installing the package): ``xquik_api_key``,
``xquik_api_key_factory``, ``xquik_client``, ``xquik_admin``, ``xquik_mock``.
The names below are for type hints and for tests that manage keys themselves.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pytest_xquik.errors import XquikApiError, XquikError, XquikRevokeError

if TYPE_CHECKING:
    from pytest_xquik.admin import XquikAdmin
    from pytest_xquik.factory import ScratchKeyFactory
    from pytest_xquik.fake_api import FakeKey, FakeXquikApi
    from pytest_xquik.keys import ApiKeyInfo, ScratchKey, SecretKey

# The plugin imports this package: the modules below load on first use of a
# name, so that a run whose tests use no xquik fixture does not pay for them.
_LAZY = {
    "XquikAdmin": "admin",
    "ScratchKeyFactory": "factory",
    "FakeKey": "fake_api",
    "FakeXquikApi": "fake_api",
    "ApiKeyInfo": "keys",
    "ScratchKey": "keys",
    "SecretKey": "keys",
}


def __getattr__(name: str) -> Any:
    """Import the module of a public name the first time the name is used."""
    if name in _LAZY:
        return getattr(importlib.import_module(f"pytest_xquik.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'pytest_xquik' has no attribute {name!r}")


__all__ = [
    "ApiKeyInfo",
    "FakeKey",
    "FakeXquikApi",
    "ScratchKey",
    "ScratchKeyFactory",
    "SecretKey",
    "XquikAdmin",
    "XquikApiError",
    "XquikError",
    "XquikRevokeError",
]
