"""Live mode behind a proxy named by the environment: the management client goes through it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.xquik_server import XquikServer

ONE_KEY = """
def test_key(xquik_api_key):
    assert xquik_api_key.full_key.startswith("xq_")
"""


class ForwardProxy:
    """An HTTP proxy on 127.0.0.1 that forwards absolute-form requests and lists them."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._client = httpx.Client(trust_env=False)

    def __enter__(self) -> ForwardProxy:
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._client.close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                proxy.requests.append((self.command, self.path))
                length = int(self.headers.get("Content-Length") or 0)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "proxy-connection"}
                answer = proxy._client.request(
                    self.command,
                    self.path,
                    headers=headers,
                    content=self.rfile.read(length) if length else None,
                )
                self.send_response(answer.status_code)
                for name, value in answer.headers.items():
                    if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = do_DELETE = _forward

        return Handler


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[ForwardProxy]:
    """A forward proxy, named by ``HTTP_PROXY`` for the inner runs."""
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    with ForwardProxy() as server:
        monkeypatch.setenv("HTTP_PROXY", server.url)
        yield server


def test_keys_are_created_and_revoked_through_the_proxy_of_the_environment(
    pytester: pytest.Pytester, live: XquikServer, proxy: ForwardProxy
) -> None:
    pytester.makepyfile(ONE_KEY)
    pytester.runpytest_subprocess().assert_outcomes(passed=1)
    [key] = live.scratch_keys()
    assert not key.is_active
    through = [(method, url.removeprefix(live.base_url)) for method, url in proxy.requests]
    assert through == [
        ("POST", "/api-keys"),
        ("DELETE", f"/api-keys/{key.id}"),
        ("GET", "/api-keys"),
    ]


def test_no_proxy_sends_straight_to_the_service(
    pytester: pytest.Pytester,
    live: XquikServer,
    proxy: ForwardProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    pytester.makepyfile(ONE_KEY)
    pytester.runpytest_subprocess().assert_outcomes(passed=1)
    assert len(live.scratch_keys()) == 1
    assert proxy.requests == []
