"""The management client's HTTP: out of reach of every HTTP recorder and mock in the process.

The plugin's own calls (create, list, revoke) carry the management
credential, and the create answer carries the key's secret. Recorders and
mocks of httpx hook it at one of three levels, by patching a class attribute:

- ``httpx.Client.send`` and what it calls (vcrpy up to 7 patches
  ``Client._send_single_request``; respx's ``using="httpx"`` mocker
  ``Client._transport_for_url``);
- httpx's transport classes (vcrpy 8.5 and later patch ``handle_request`` of
  ``HTTPTransport`` and ``MockTransport``, pytest-httpx of ``HTTPTransport``);
- httpcore's connection pool and connection (vcrpy 8.0 patches
  ``ConnectionPool.handle_request``, respx that and ``HTTPConnection``'s).

:class:`UnrecordedClient` takes none of these paths: it builds requests with an
``httpx.Client`` (base URL, headers, timeouts, exactly as before) but hands
them straight to a transport of its own class, never to ``Client.send``. In
live mode that transport (:class:`DirectTransport`) speaks HTTP/1.1 through
httpcore's ``HTTP11Connection`` on one keep-alive socket it opens itself (or
through one connection of httpcore's proxy, behind a proxy); in mock mode
(:class:`HandlerTransport`) it calls the fake API's handler. So a cassette
never holds the plugin's own traffic, and no mock of the code under test
answers it, whatever the order in which they were started.
"""

from __future__ import annotations

import ssl
import threading
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

#: httpx's default: an idle connection older than this is not reused.
_KEEPALIVE_EXPIRY = 5.0


class UnrecordedClient:
    """The ``request``/``close`` part of an ``httpx.Client``, sent straight to ``transport``.

    ``options`` are ``httpx.Client`` options (``base_url``, ``headers``,
    ``timeout``); the response is read before it is returned.
    """

    def __init__(self, transport: httpx.BaseTransport, **options: Any) -> None:
        self._transport = transport
        # Builds the requests only; trust_env=False: no proxy transports to build.
        self._builder = httpx.Client(transport=transport, trust_env=False, **options)

    @property
    def base_url(self) -> httpx.URL:
        """The base URL relative request URLs are resolved against."""
        return self._builder.base_url

    def request(self, method: str, url: str, **options: Any) -> httpx.Response:
        """Send one request and return its answer, body read.

        ``options`` are those of ``httpx.Client.build_request`` (``json``,
        ``params``, ``headers``, ``timeout``, ...).
        """
        request = self._builder.build_request(method, url, **options)
        response = self._transport.handle_request(request)
        try:
            response.read()
        finally:
            response.close()
        return response

    def close(self) -> None:
        """Close the transport (its connection, in live mode)."""
        self._builder.close()


class HandlerTransport(httpx.BaseTransport):
    """Mock mode: each request is answered by ``handler`` (the fake API), in process."""

    def __init__(self, handler: Callable[[httpx.Request], httpx.Response]) -> None:
        self._handler = handler

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        return self._handler(request)


class DirectTransport(httpx.BaseTransport):
    """Live mode: HTTP/1.1 on one keep-alive connection, reopened when the server closed it.

    Requests are sent one at a time (the fixtures' calls from worker threads
    of async tests wait their turn), which keeps the process at one
    connection to the service. With a ``proxy`` (see :func:`environment_proxy`),
    the connection goes through it, as httpx's own would.
    """

    def __init__(self, ssl_context: ssl.SSLContext, proxy: httpx.Proxy | None = None) -> None:
        self._ssl_context = ssl_context
        self._backend = httpcore.SyncBackend()
        self._connection: httpcore.ConnectionInterface | None = None
        self._lock = threading.Lock()
        self._proxy: httpcore.HTTPProxy | None = None
        if proxy is not None:  # only its connections are used: a pool never sends here
            url = proxy.url
            self._proxy = httpcore.HTTPProxy(
                proxy_url=httpcore.URL(
                    scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
                ),
                proxy_auth=proxy.raw_auth,
                proxy_headers=proxy.headers.raw,
                ssl_context=ssl_context,
                keepalive_expiry=_KEEPALIVE_EXPIRY,
            )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
            ),
            headers=request.headers.raw,
            content=request.read(),
            extensions=request.extensions,
        )
        connect_timeout = request.extensions.get("timeout", {}).get("connect")
        with self._lock, _as_httpx_error(request):
            connection = self._connection_to(core_request.url.origin, connect_timeout)
            response = connection.handle_request(core_request)
            try:
                content = response.read()
            finally:
                response.close()
        return httpx.Response(
            response.status,
            headers=response.headers,
            stream=httpx.ByteStream(content),
            extensions=response.extensions,
            request=request,
        )

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def _connection_to(
        self, origin: httpcore.Origin, timeout: float | None
    ) -> httpcore.ConnectionInterface:
        connection = self._connection
        if (
            connection is not None
            and connection.can_handle_request(origin)
            and connection.is_available()
            and not connection.has_expired()
        ):
            return connection
        if connection is not None:
            connection.close()
            self._connection = None
        if self._proxy is not None:  # connects (and tunnels) on its first request
            self._connection = self._proxy.create_connection(origin)
            return self._connection
        host = origin.host.decode("ascii")
        stream = self._backend.connect_tcp(host, origin.port, timeout=timeout)
        if origin.scheme == b"https":
            try:
                stream = stream.start_tls(self._ssl_context, server_hostname=host, timeout=timeout)
            except BaseException:
                stream.close()
                raise
        self._connection = httpcore.HTTP11Connection(
            origin, stream, keepalive_expiry=_KEEPALIVE_EXPIRY
        )
        return self._connection


def environment_proxy(url: str) -> httpx.Proxy | None:
    """The proxy the environment names for ``url`` (``HTTPS_PROXY``, ``ALL_PROXY``, ...).

    ``None`` when there is none, or ``NO_PROXY`` leaves ``url`` out.
    """
    target = httpx.URL(url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(target.scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(target.host):
        return None
    return httpx.Proxy(proxy if "://" in proxy else f"http://{proxy}")


@contextmanager
def _as_httpx_error(request: httpx.Request) -> Iterator[None]:
    """Raise httpcore's errors as httpx's of the same name, as httpx's own transport does."""
    try:
        yield
    except Exception as error:
        for kind in type(error).__mro__:
            if not kind.__module__.startswith("httpcore"):
                continue
            mapped = getattr(httpx, kind.__name__, None)
            if isinstance(mapped, type) and issubclass(mapped, httpx.TransportError):
                raise mapped(str(error), request=request) from error
        raise
