"""pytest-xquik: disposable Xquik API keys for pytest.

Fixtures (enabled by installing the package): ``xquik_api_key``,
``xquik_api_key_factory``, ``xquik_client``, ``xquik_admin``, ``xquik_mock``,
``xquik_async_client``, ``xquik_async_api_key_factory``; ``api_key_fixture()``
declares key fixtures of wider scopes.
The names below are for type hints and for tests that manage keys themselves.
They load on first use, so that a run whose tests use no pytest-xquik
fixture does not pay for importing them.

The plugin's code has no assertions for pytest to rewrite: PYTEST_DONT_REWRITE.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_xquik.aio import AsyncScratchKeyFactory
    from pytest_xquik.api.admin import XquikAdmin
    from pytest_xquik.api.fake import FakeKey, FakeXquikApi
    from pytest_xquik.errors import (
        XquikApiError,
        XquikError,
        XquikMockEscapeError,
        XquikRevokeError,
    )
    from pytest_xquik.factory import ScratchKeyFactory
    from pytest_xquik.keys import ApiKeyInfo, ScratchKey, SecretKey
    from pytest_xquik.markers import XquikOptions
    from pytest_xquik.scopes import api_key_fixture

    __version__: str

_MODULES = {
    "ApiKeyInfo": "keys",
    "AsyncScratchKeyFactory": "aio",
    "FakeKey": "api.fake",
    "FakeXquikApi": "api.fake",
    "ScratchKey": "keys",
    "ScratchKeyFactory": "factory",
    "SecretKey": "keys",
    "XquikAdmin": "api.admin",
    "XquikApiError": "errors",
    "XquikError": "errors",
    "XquikMockEscapeError": "errors",
    "XquikOptions": "markers",
    "XquikRevokeError": "errors",
    "api_key_fixture": "scopes",
}

__all__ = [
    "ApiKeyInfo",
    "AsyncScratchKeyFactory",
    "FakeKey",
    "FakeXquikApi",
    "ScratchKey",
    "ScratchKeyFactory",
    "SecretKey",
    "XquikAdmin",
    "XquikApiError",
    "XquikError",
    "XquikMockEscapeError",
    "XquikOptions",
    "XquikRevokeError",
    "__version__",
    "api_key_fixture",
]


def __getattr__(name: str) -> Any:
    if name == "__version__":  # the installed distribution's, read when first asked for
        from importlib.metadata import version

        return version("pytest-xquik")
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_xquik' has no attribute {name!r}")
    return getattr(importlib.import_module(f"pytest_xquik.{module}"), name)
