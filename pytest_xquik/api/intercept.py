"""Route the process's httpx traffic for the base URL to the fake API (mock mode).

While a fixture uses the fake (from the first scope opened to the last one
closed), every ``httpx.Client`` and ``httpx.AsyncClient`` of the process,
whenever it was built and whatever its transport (httpx's own, the
httpx-aiohttp transport of the official SDK's ``DefaultAioHttpClient``, a
custom or mocked one), gets the fake for a URL under the base URL: the
clients' ``_transport_for_url`` is patched, one level above every transport
and every transport-level mock (respx's ``respx_mock``, pytest-httpx's
``httpx_mock``). Other URLs go to the client's own transport, untouched and
unrecorded. A second guard, at the socket level, refuses to resolve the base
URL's host, so that a client the first cannot reach (not httpx) fails loudly
instead of calling the real service. Outside every scope nothing is patched.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from pytest_xquik.api.fake import FakeXquikApi
from pytest_xquik.errors import XquikMockEscapeError

_CLIENTS: tuple[type[httpx.Client | httpx.AsyncClient], ...] = (httpx.Client, httpx.AsyncClient)
_METHOD = "_transport_for_url"


class Interceptor:
    """Patches httpx clients and name resolution while the fake API is in use."""

    def __init__(self, api: FakeXquikApi) -> None:
        self._api = api
        self._transport = httpx.MockTransport(api.handle)
        url = httpx.URL(api.base_url)
        self._host = url.host.lower()
        self._ports = {str(url.port or {"https": 443, "http": 80}[url.scheme]), url.scheme}
        self._users = 0
        self._originals: list[tuple[Any, str, Any, Any]] = []

    @contextmanager
    def active(self) -> Iterator[None]:
        """Intercept while inside; the first to enter patches, the last to leave restores."""
        if self._users == 0:
            self._patch()
        self._users += 1
        try:
            yield
        finally:
            self._users -= 1
            if self._users == 0:
                self._restore()

    def _patch(self) -> None:
        for client_class in _CLIENTS:
            # httpx has no public hook between a client and its transport; respx's
            # "httpx" mocker patches this same private method.
            original = getattr(client_class, _METHOD, None)
            if original is None:  # pragma: no cover - an httpx without the method
                raise XquikMockEscapeError(
                    f"pytest-xquik cannot intercept this httpx {httpx.__version__}: "
                    f"{client_class.__name__}.{_METHOD} is gone. Pin httpx to a version "
                    "pytest-xquik supports, or report it."
                )
            self._swap(client_class, _METHOD, self._transport_for_url(original))
        self._swap(socket, "getaddrinfo", self._guarded_getaddrinfo(socket.getaddrinfo))

    def _swap(self, owner: Any, name: str, replacement: Any) -> None:
        self._originals.append((owner, name, owner.__dict__[name], replacement))
        setattr(owner, name, replacement)

    def _restore(self) -> None:
        while self._originals:
            owner, name, original, replacement = self._originals.pop()
            # Another patcher that came after us and is still there keeps its patch
            # (ours, under it, does nothing once the fake is out of use).
            if owner.__dict__.get(name) is replacement:
                setattr(owner, name, original)

    def _transport_for_url(self, original: Callable[[Any, httpx.URL], Any]) -> Callable[..., Any]:
        api, transport = self._api, self._transport

        def transport_for_url(client: Any, url: httpx.URL) -> Any:
            if api.in_use and api.owns(url):
                return transport
            return original(client, url)

        return transport_for_url

    def _guarded_getaddrinfo(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            if self._api.in_use and self._is_base(host, port):
                raise XquikMockEscapeError(
                    f"pytest-xquik (mock mode) refused a connection to {self._host}:{port}, the "
                    "host of the base URL: its mock answers httpx clients only, and this client "
                    "(not httpx, or one that bypasses httpx's transports) would have reached the "
                    "real service. Call the API through httpx, or run it in live mode "
                    "(--xquik-mode=live)."
                )
            return original(host, port, *args, **kwargs)

        return getaddrinfo

    def _is_base(self, host: Any, port: Any) -> bool:
        if isinstance(host, bytes):
            host = host.decode("ascii", "replace")
        if not isinstance(host, str) or host.lower().rstrip(".") != self._host:
            return False
        return port is None or str(port) in self._ports
