"""A real HTTP server on 127.0.0.1 that implements the Xquik key endpoints.

Live-mode tests point the plugin at it. It serves the same contract as the
plugin's fake API (it delegates each request to a ``FakeXquikApi``), but over
real sockets, so that live mode is exercised exactly as against the real
service: connection pooling, timeouts, dropped connections and all. Tests
inject faults with :meth:`XquikServer.inject`, and may give it the service's
fixed-window rate limits (``rate_limits={"create": 30, "revoke": 15}``, per
``window`` seconds).
"""

from __future__ import annotations

import dataclasses
import math
import secrets
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from pytest_xquik.api.fake import FakeXquikApi, error_response

#: A fault: given the request, returns the response to send instead of the
#: fake's answer, or ``"drop"`` to close the connection without answering.
FaultAction = Callable[[httpx.Request, FakeXquikApi], "httpx.Response | str | None"]


@dataclasses.dataclass
class _Fault:
    method: str
    path_prefix: str
    action: FaultAction


class XquikServer:
    """The loopback Xquik API: start it, point ``--xquik-base-url`` at :attr:`base_url`."""

    def __init__(
        self,
        session_cookie_name: str = "session_token",
        *,
        list_limit: int = 200,
        rate_limits: dict[str, int] | None = None,
        window: float = 60.0,
        port: int = 0,
    ) -> None:
        self.admin_api_key = "xq_" + secrets.token_hex(32)
        self.bearer_token = secrets.token_urlsafe(24)
        self.session_token = secrets.token_urlsafe(24)
        self._httpd = _HTTPServer(("127.0.0.1", port), self._handler_class())
        self._httpd.daemon_threads = True
        port = self._httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{port}/api/v1"
        self.api = FakeXquikApi(
            self.base_url,
            admin_tokens=[self.bearer_token, self.session_token],
            session_cookie_name=session_cookie_name,
        )
        # The admin API key is an ordinary active key of the account.
        admin_key = self.api.add_key("admin")
        admin_key.full_key = self.admin_api_key
        self.list_limit = list_limit
        self.requests: list[tuple[str, str]] = []
        self.connections = 0
        self.rate_limits = rate_limits or {}
        self.window = window
        #: Every request answered 429 by the rate limits: its bucket and window number.
        self.rejections: list[tuple[str, int]] = []
        self._calls: dict[tuple[str, int], int] = {}
        self._first_call: float | None = None  # the first window opens with the first call
        self._faults: deque[_Fault] = deque()
        self._lock = threading.Lock()
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> XquikServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    @property
    def env(self) -> dict[str, str]:
        """Environment variables that run the plugin in live mode against this server."""
        return {
            "XQUIK_MODE": "live",
            "XQUIK_BASE_URL": self.base_url,
            "XQUIK_ADMIN_API_KEY": self.admin_api_key,
        }

    def scratch_keys(self, active: bool | None = None) -> list[Any]:
        """The keys the plugin created (every key but the admin key)."""
        keys = [key for key in self.api.keys if key.full_key != self.admin_api_key]
        return [key for key in keys if active is None or key.is_active == active]

    def inject(self, method: str, path_prefix: str, action: FaultAction, times: int = 1) -> None:
        """Answer the next ``times`` requests matching ``method path_prefix`` with ``action``."""
        with self._lock:
            self._faults.extend([_Fault(method.upper(), path_prefix, action)] * times)

    def fail(
        self, method: str, path_prefix: str, status: int, times: int = 1, **fields: Any
    ) -> None:
        """Answer the next ``times`` matching requests with an API error of ``status``."""
        self.inject(method, path_prefix, lambda r, a: error_response(status, **fields), times)

    def _rate_limited(self, method: str, path: str) -> httpx.Response | None:
        """The 429 of a call over its bucket's limit in this window, as the service sends it."""
        bucket = _bucket(method, path)
        limit = self.rate_limits.get(bucket or "")
        if bucket is None or limit is None:
            return None
        with self._lock:
            now = time.monotonic()
            if self._first_call is None:
                self._first_call = now
            elapsed = now - self._first_call
            window = int(elapsed // self.window)
            calls = self._calls.get((bucket, window), 0)
            if calls < limit:
                self._calls[(bucket, window)] = calls + 1
                return None
            self.rejections.append((bucket, window))
        reopens = (window + 1) * self.window - elapsed
        # Whole seconds in the header and retryAfter, like the service; milliseconds too.
        return error_response(
            429, retryAfter=math.ceil(reopens), retryAfterMs=math.ceil(reopens * 1000)
        )

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.method == method and path.startswith("/api/v1" + fault.path_prefix):
                    self._faults.remove(fault)
                    return fault
        return None

    def _as_the_service_lists(
        self, request: httpx.Request, response: httpx.Response
    ) -> httpx.Response:
        """A list answer as the service gives it: newest first, at most ``list_limit`` keys."""
        if request.method != "GET" or not request.url.path.endswith("/api-keys"):
            return response
        body = response.json() if response.status_code == 200 else None
        if not isinstance(body, dict) or not isinstance(body.get("keys"), list):
            return response
        body["keys"] = body["keys"][::-1][: self.list_limit]  # the fake lists oldest first
        return httpx.Response(200, json=body)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: without TCP_NODELAY, the
            # second waits for the client's delayed ACK (40 ms per request).
            disable_nagle_algorithm = True

            def setup(self) -> None:
                super().setup()
                with server._lock:
                    server.connections += 1

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = httpx.Request(
                    self.command,
                    server.base_url.rsplit("/api/v1", 1)[0] + self.path,
                    headers=list(self.headers.items()),
                    content=body,
                )
                with server._lock:
                    server.requests.append((self.command, self.path))
                response = server._rate_limited(self.command, self.path)
                fault = server._take_fault(self.command, self.path) if response is None else None
                if fault is not None:
                    response = fault.action(request, server.api)
                if response == "drop":
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                if not isinstance(response, httpx.Response):
                    response = server._as_the_service_lists(request, server.api.handle(request))
                content = response.read()
                self.send_response(response.status_code)
                for name, value in response.headers.items():
                    if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _serve

        return Handler


class _HTTPServer(ThreadingHTTPServer):
    """The server's threads: a client that hung up is not an error worth printing.

    (A test's injected timeout leaves the client gone before the answer is
    written; the standard server would print that from a thread that may
    outlive the test's captured stderr.)
    """

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def _bucket(method: str, path: str) -> str | None:
    """The rate-limit bucket of a request to the key endpoints: create, list or revoke."""
    if path == "/api/v1/api-keys":
        return {"POST": "create", "GET": "list"}.get(method)
    if path.startswith("/api/v1/api-keys/") and method == "DELETE":
        return "revoke"
    return None


def closed_port() -> int:
    """A port of 127.0.0.1 that nothing listens on (a connection to it is refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def slow(seconds: float) -> FaultAction:
    """A fault that answers normally, but only after ``seconds``."""

    def action(request: httpx.Request, api: FakeXquikApi) -> httpx.Response:
        time.sleep(seconds)
        return api.handle(request)

    return action


def after_effect(status: int) -> FaultAction:
    """A fault that lets the call take effect, then answers ``status`` anyway."""

    def action(request: httpx.Request, api: FakeXquikApi) -> httpx.Response:
        api.handle(request)
        return error_response(status)

    return action


def slow_after_effect(seconds: float) -> FaultAction:
    """A fault that lets the call take effect at once, but answers only after ``seconds``."""

    def action(request: httpx.Request, api: FakeXquikApi) -> httpx.Response:
        response = api.handle(request)
        time.sleep(seconds)
        return response

    return action


def drop_after_effect(request: httpx.Request, api: FakeXquikApi) -> str:
    """A fault that lets the call take effect, then closes the connection without answering."""
    api.handle(request)
    return "drop"
