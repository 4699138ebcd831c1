"""A faithful, in-memory copy of the Xquik API-key endpoints.

:class:`FakeXquikApi` answers ``httpx.Request`` objects with
``httpx.Response`` objects, following the contract of the real service
(create, list, revoke, ``GET /account``, authentication and errors). It knows
nothing about how requests reach it: the plugin routes intercepted httpx
traffic to it in mock mode, and the plugin's own test suite serves it over a
real loopback HTTP server.
"""

from __future__ import annotations

import builtins
import dataclasses
import json
import re
import secrets
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Literal

import httpx

KEY_LIMIT = 100
Call = Literal["create", "list", "revoke"]
CALLS: tuple[Call, ...] = ("create", "list", "revoke")
#: Faults that are not an answer: the call times out, or the connection drops.
TransportFault = Literal["timeout", "disconnect"]
TRANSPORT_FAULTS: tuple[TransportFault, ...] = ("timeout", "disconnect")
RouteHandler = Callable[[httpx.Request], httpx.Response]

_UNAUTHENTICATED_HEADERS = {
    "Cache-Control": "no-store",
    "WWW-Authenticate": 'Bearer realm="xquik"',
}
_ERROR_MESSAGES = {
    400: "Bad request",
    401: "Missing or invalid credentials",
    403: "Forbidden",
    404: "Not found",
    408: "Request timeout",
    409: "Conflict",
    429: "Too many requests",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
}
_ERROR_CODES = {
    400: "invalid_input",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    429: "rate_limit_exceeded",
}


def is_under(url: httpx.URL, base: httpx.URL) -> bool:
    """Whether ``url`` is the base URL ``base`` or below it (same scheme, host and port)."""
    if (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port):
        return False
    path = base.path.rstrip("/")
    return url.path == path or url.path.startswith(path + "/")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def error_response(
    status: int, code: str | None = None, message: str | None = None, **fields: Any
) -> httpx.Response:
    """A response in the API's error shape: ``{"error": code, "message": text, ...}``."""
    body: dict[str, Any] = {
        "error": code or _ERROR_CODES.get(status, "internal_error"),
        "message": message or _ERROR_MESSAGES.get(status, "Error"),
        **fields,
    }
    headers: dict[str, str] = {}
    if status == 401:
        headers.update(_UNAUTHENTICATED_HEADERS)
    if "retryAfter" in fields:
        headers["Retry-After"] = str(fields["retryAfter"])
    return httpx.Response(status, json=body, headers=headers)


@dataclasses.dataclass
class FakeKey:
    """A key as the fake service stores it."""

    id: str
    name: str
    full_key: str = dataclasses.field(repr=False)
    created_at: str
    is_active: bool = True
    last_used_at: str | None = None

    @property
    def prefix(self) -> str:
        """The public first 8 characters of the key."""
        return self.full_key[:8]

    def listed(self) -> dict[str, Any]:
        """The key as ``GET /api-keys`` shows it (never the secret)."""
        item: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "prefix": self.prefix,
            "isActive": self.is_active,
            "createdAt": self.created_at,
        }
        if self.last_used_at is not None:
            item["lastUsedAt"] = self.last_used_at
        return item


@dataclasses.dataclass(frozen=True)
class Fault:
    """How one create, list or revoke call is made to fail: a status, or a transport error."""

    status: int | TransportFault
    code: str | None = None
    retry_after: int | None = None

    def response(self, request: httpx.Request) -> httpx.Response:
        """The error response of this fault; a transport fault raises httpx's error instead."""
        if self.status == "timeout":
            raise httpx.ReadTimeout("timed out (a fault injected by pytest-xquik)", request=request)
        if self.status == "disconnect":
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response (a fault injected by pytest-xquik)",
                request=request,
            )
        fields: dict[str, Any] = {}
        if self.retry_after is not None:
            fields["retryAfter"] = self.retry_after
        return error_response(self.status, self.code, **fields)


class FakeXquikApi:
    """The fake Xquik service: its keys, the requests it saw, and its faults.

    In mock mode the ``xquik_mock`` fixture gives this object. Use it to look
    at the service's state (:attr:`keys`, :attr:`active_keys`,
    :attr:`requests`), to serve other Xquik endpoints (:meth:`route`), and to
    make the next create, list or revoke calls fail (:meth:`fail_next`).
    Every route, including the added ones, answers 401 ``unauthenticated`` to
    a missing, unknown or revoked credential, like the real service.
    """

    def __init__(
        self,
        base_url: str,
        *,
        admin_tokens: Iterable[str] = (),
        session_cookie_name: str = "session_token",
        key_limit: int = KEY_LIMIT,
    ) -> None:
        url = httpx.URL(base_url)
        self.base_url = str(url).rstrip("/")
        self._base = url
        self._base_path = url.path.rstrip("/")
        self._admin_tokens = set(admin_tokens)
        self._cookie_name = session_cookie_name
        self._key_limit = key_limit
        self._keys: dict[str, FakeKey] = {}
        self._next_id = 1000
        self._requests: builtins.list[httpx.Request] = []
        self._faults: dict[Call, deque[Fault]] = {call: deque() for call in CALLS}
        self._routes: dict[tuple[str, str], RouteHandler] = {}
        self._lock = threading.RLock()
        self._depth = 0

    def __repr__(self) -> str:
        with self._lock:
            active = sum(key.is_active for key in self._keys.values())
            return (
                f"<FakeXquikApi {self.base_url}: {len(self._keys)} key(s), {active} active, "
                f"{len(self._requests)} request(s)>"
            )

    # -- what a test looks at ---------------------------------------------------

    @property
    def keys(self) -> builtins.list[FakeKey]:
        """Every key the service holds, active and revoked, oldest first."""
        with self._lock:
            return builtins.list(self._keys.values())

    @property
    def active_keys(self) -> builtins.list[FakeKey]:
        """The keys that still authenticate."""
        return [key for key in self.keys if key.is_active]

    @property
    def requests(self) -> builtins.list[httpx.Request]:
        """Every request the service answered in this test, oldest first."""
        with self._lock:
            return builtins.list(self._requests)

    # -- what a test changes ----------------------------------------------------

    def route(
        self,
        method: str,
        path: str,
        *,
        status: int = 200,
        json: Any = None,
        handler: RouteHandler | None = None,
    ) -> None:
        """Serve ``method path`` (relative to the base URL, e.g. ``"/tweets/search"``).

        The route answers ``status`` with ``json`` as its body, or whatever
        ``handler(request)`` returns. Like every route of the service, it
        answers 401 first when the request has no working credential.
        """
        if handler is None:

            def handler(request: httpx.Request) -> httpx.Response:
                return httpx.Response(status, json=json)

        with self._lock:
            self._routes[(method.upper(), "/" + path.lstrip("/"))] = handler

    def fail_next(
        self,
        call: Call,
        status: int | TransportFault,
        *,
        times: int = 1,
        code: str | None = None,
        retry_after: int | None = None,
    ) -> builtins.list[Fault]:
        """Make the next ``times`` ``call`` requests (create, list or revoke) answer ``status``.

        ``code`` is the API error code in the body (the usual one for the
        status by default); ``retry_after`` adds a ``Retry-After`` header and
        ``retryAfter`` body field, as the service sends with 429. A
        ``status`` of ``"timeout"`` or ``"disconnect"`` makes the call raise
        ``httpx.ReadTimeout`` or ``httpx.RemoteProtocolError`` instead, with
        no effect on the service. Returns the faults queued (see :meth:`withdraw`).
        """
        if call not in CALLS:
            raise ValueError(f"fail_next() takes one of {', '.join(CALLS)}, not {call!r}")
        if isinstance(status, str) and status not in TRANSPORT_FAULTS:
            raise ValueError(
                f"fail_next() takes an HTTP status or one of {', '.join(TRANSPORT_FAULTS)}, "
                f"not {status!r}"
            )
        faults = [Fault(status, code, retry_after) for _ in range(times)]
        with self._lock:
            self._faults[call].extend(faults)
        return faults

    def withdraw(self, faults: Iterable[Fault]) -> None:
        """Drop those of ``faults`` (as :meth:`fail_next` returned them) that are still pending."""
        gone = {id(fault) for fault in faults}
        with self._lock:
            for call, queue in self._faults.items():
                self._faults[call] = deque(fault for fault in queue if id(fault) not in gone)

    def add_key(self, name: str = "Default") -> FakeKey:
        """Create a key directly in the service's state (as another client would)."""
        with self._lock:
            self._next_id += 1
            key = FakeKey(
                id=str(self._next_id),
                name=name,
                full_key="xq_" + secrets.token_hex(32),
                created_at=_now(),
            )
            self._keys[key.id] = key
            return key

    # -- the life of a scope ------------------------------------------------------

    @property
    def in_use(self) -> bool:
        """Whether a fixture is using the service now (the mock intercepts only then)."""
        return self._depth > 0

    @contextmanager
    def scope(self) -> Iterator[FakeXquikApi]:
        """Use the service for one fixture's scope, and forget that scope's state after it.

        Keys created inside the scope, its added routes, pending faults and
        the requests it saw are dropped when it ends; keys of an enclosing
        scope (a module-scoped key used by this test) are kept.
        """
        with self._lock:
            self._depth += 1
            known = set(self._keys)
            self._requests.clear()
        try:
            yield self
        finally:
            with self._lock:
                self._depth -= 1
                for key_id in set(self._keys) - known:
                    del self._keys[key_id]
                self._routes.clear()
                for faults in self._faults.values():
                    faults.clear()
                self._requests.clear()

    # -- serving ------------------------------------------------------------------

    def owns(self, url: httpx.URL) -> bool:
        """Whether ``url`` is under the service's base URL."""
        return is_under(url, self._base)

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request the way the real service would."""
        with self._lock:
            self._requests.append(request)
            path = request.url.path[len(self._base_path) :] or "/"
            if not self._authenticated(request):
                return error_response(401, "unauthenticated")
            method = request.method.upper()
            if path == "/api-keys" and method == "POST":
                return self._fault("create", request) or self._create(request)
            if path == "/api-keys" and method == "GET":
                return self._fault("list", request) or self._list()
            match = re.fullmatch(r"/api-keys/([^/]+)", path)
            if match and method == "DELETE":
                return self._fault("revoke", request) or self._revoke(match.group(1))
            if path == "/account" and method == "GET":
                return httpx.Response(200, json=_account())
            handler = self._routes.get((method, path))
            if handler is not None:
                return handler(request)
        return error_response(
            404,
            "not_found",
            f"pytest-xquik's mock does not serve {method} {path}; "
            "add it with xquik_mock.route(method, path, json=...)",
        )

    def _authenticated(self, request: httpx.Request) -> bool:
        headers = request.headers
        authorization = headers.get("authorization", "")
        bearer = authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
        api_key = headers.get("x-api-key") or (bearer if bearer.startswith("xq_") else "")
        if api_key:
            key = next((k for k in self._keys.values() if k.full_key == api_key), None)
            if key is None or not key.is_active:
                return False
            key.last_used_at = _now()
            return True
        if bearer:
            return bearer in self._admin_tokens
        session = _cookie(headers.get("cookie", ""), self._cookie_name)
        return session is not None and session in self._admin_tokens

    def _fault(self, call: Call, request: httpx.Request) -> httpx.Response | None:
        faults = self._faults[call]
        return faults.popleft().response(request) if faults else None

    def _create(self, request: httpx.Request) -> httpx.Response:
        try:
            body = json.loads(request.content or b"{}")
        except ValueError:
            return error_response(400, "invalid_json", "Request body is not valid JSON")
        if not isinstance(body, dict) or not isinstance(body.get("name", ""), str):
            return error_response(400, "invalid_input", "name must be a string")
        if sum(key.is_active for key in self._keys.values()) >= self._key_limit:
            return error_response(
                403,
                "api_key_limit_reached",
                f"You can have at most {self._key_limit} API keys",
                limit=self._key_limit,
            )
        key = self.add_key(body.get("name") or "Default")
        return httpx.Response(
            201,
            json={
                "id": key.id,
                "fullKey": key.full_key,
                "prefix": key.prefix,
                "name": key.name,
                "createdAt": key.created_at,
            },
        )

    def _list(self) -> httpx.Response:
        return httpx.Response(200, json={"keys": [key.listed() for key in self._keys.values()]})

    def _revoke(self, key_id: str) -> httpx.Response:
        if not key_id.isdigit():
            return error_response(400, "invalid_id", "Key id must be numeric")
        key = self._keys.get(key_id)
        if key is None or not key.is_active:
            return error_response(404, "not_found", "API key not found")
        key.is_active = False
        return httpx.Response(200, json={"success": True})


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def _account() -> dict[str, Any]:
    return {
        "plan": "active",
        "monitorsAllowed": 9007199254740991,
        "monitorsUsed": 0,
        "subscription": {"status": "active", "tier": "starter"},
        "monitorBilling": {
            "activeDailyEstimate": "0",
            "activeHourlyBurn": "0",
            "creditsPerActiveMonitorDay": "720",
            "creditsPerActiveMonitorHour": "30",
            "eventsIncluded": True,
            "instantCheckIntervalSeconds": 1,
            "unlimitedSlots": True,
        },
    }
