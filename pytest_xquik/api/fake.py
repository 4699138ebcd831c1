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
import math
import re
import secrets
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any, Literal, get_args

import httpx

from pytest_xquik.credentials import Kind as CredentialKind
from pytest_xquik.settings import ManagementAuth

KEY_LIMIT = 100
Call = Literal["create", "list", "revoke"]
CALLS: tuple[Call, ...] = ("create", "list", "revoke")
#: Who may create, list and revoke keys: ``any`` credential of the account (the
#: create page, May 2026 docs), or only the dashboard ``session`` cookie (August 2026 OpenAPI).
MANAGEMENT_AUTH: tuple[ManagementAuth, ...] = get_args(ManagementAuth)
#: The service's rate-limit buckets: reads (GET), deletes (DELETE), writes (everything else).
Bucket = Literal["reads", "writes", "deletes"]
BUCKETS: tuple[Bucket, ...] = get_args(Bucket)
#: The ``Retry-After`` of a 429 that does not say (the service always sends one).
DEFAULT_RETRY_AFTER = 1
#: How long a fixture scope lives, narrowest first (pytest's scope names).
ScopeName = Literal["function", "class", "module", "package", "session"]
SCOPE_NAMES: tuple[ScopeName, ...] = get_args(ScopeName)
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
    415: "Send Content-Type: application/json.",
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
    415: "unsupported_media_type",
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
    if status == 429:  # the service sends both with every 429
        body.setdefault("retryAfter", DEFAULT_RETRY_AFTER)
    if "retryAfter" in body:
        headers["Retry-After"] = str(body["retryAfter"])
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


class FakeScope:
    """One fixture's use of the fake service: it owns the keys made for it.

    ``with scope.fixture_calls():`` marks the calls a fixture makes for
    itself (creating its key, revoking it): they never meet the faults or
    rate limits a test sets up, and the keys they create belong to this
    scope, whichever test first requested the fixture.
    """

    def __init__(self, api: FakeXquikApi, name: ScopeName) -> None:
        self.api = api
        self.name = name
        self.rank = SCOPE_NAMES.index(name)
        self.keys: set[str] = set()

    def __repr__(self) -> str:
        return f"<FakeScope {self.name}: {len(self.keys)} key(s)>"

    @contextmanager
    def fixture_calls(self) -> Iterator[None]:
        """Mark the requests made inside as this fixture's own (see the class)."""
        token = _FIXTURE_CALL.set(self)
        try:
            yield
        finally:
            _FIXTURE_CALL.reset(token)


#: The scope of the fixture whose own call is being made, if any (see FakeScope.fixture_calls).
_FIXTURE_CALL: ContextVar[FakeScope | None] = ContextVar("xquik_fixture_call", default=None)


@dataclasses.dataclass
class _RateLimit:
    limit: int
    window: float
    window_index: int = -1
    count: int = 0


class FakeXquikApi:
    """The fake Xquik service: its keys, the requests it saw, and its faults.

    In mock mode the ``xquik_mock`` fixture gives this object. Use it to look
    at the service's state (:attr:`keys`, :attr:`active_keys`,
    :attr:`requests`), to serve other Xquik endpoints (:meth:`route`), to
    make the next create, list or revoke calls fail (:meth:`fail_next`), to
    enforce rate limits (:meth:`rate_limit`, on a fake clock moved by
    :meth:`advance`), and to choose who may manage keys
    (:attr:`management_auth`). Every route, including the added ones,
    answers 401 ``unauthenticated`` to a missing, unknown or revoked
    credential, like the real service.
    """

    def __init__(
        self,
        base_url: str,
        *,
        admin_tokens: Iterable[str] = (),
        session_cookie_name: str = "session_token",
        key_limit: int = KEY_LIMIT,
        management_auth: ManagementAuth = "any",
    ) -> None:
        url = httpx.URL(base_url)
        self.base_url = str(url).rstrip("/")
        self._base = url
        self._base_path = url.path.rstrip("/")
        self._admin_tokens = set(admin_tokens)
        self._cookie_name = session_cookie_name
        self._key_limit = key_limit
        self._default_management_auth = _checked_policy(management_auth)
        self._management_auth = self._default_management_auth
        self._keys: dict[str, FakeKey] = {}
        self._next_id = 1000
        self._requests: builtins.list[httpx.Request] = []
        self._faults: dict[Call, deque[Fault]] = {call: deque() for call in CALLS}
        self._routes: dict[tuple[str, str], RouteHandler] = {}
        self._limits: dict[Bucket, _RateLimit] = {}
        self._clock = 0.0
        self._scopes: builtins.list[FakeScope] = []
        self._lock = threading.RLock()

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

    @property
    def clock(self) -> float:
        """Seconds on the fake clock of the rate limits since the test began (see advance)."""
        return self._clock

    # -- what a test changes ----------------------------------------------------

    @property
    def management_auth(self) -> ManagementAuth:
        """Who may create, list and revoke keys in this test: ``"any"`` or ``"session"``.

        ``"any"``: the session cookie, an API key or a bearer token (the
        create page, May 2026 docs); ``"session"``: only the session cookie
        (the August 2026 OpenAPI), an API key or bearer token getting 401.
        The ini option ``xquik_mock_management_auth`` sets the default.
        """
        return self._management_auth

    @management_auth.setter
    def management_auth(self, policy: ManagementAuth) -> None:
        self._management_auth = _checked_policy(policy)

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
        answers 401 first when the request has no working API key or bearer token.
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
        status by default); ``retry_after`` sets the ``Retry-After`` header
        and ``retryAfter`` body field (a 429 always has both, 1 s unless
        given). A ``status`` of ``"timeout"`` or ``"disconnect"`` makes the
        call raise ``httpx.ReadTimeout`` or ``httpx.RemoteProtocolError``
        instead, with no effect on the service. Only the test's own calls
        meet the faults, never the fixtures' own creates and revokes.
        Returns the faults queued (see :meth:`withdraw`).
        """
        if call not in CALLS:
            raise ValueError(f"fail_next() takes one of {', '.join(CALLS)}, not {call!r}")
        if isinstance(status, str) and status not in TRANSPORT_FAULTS:
            raise ValueError(
                f"fail_next() takes an HTTP status or one of {', '.join(TRANSPORT_FAULTS)}, "
                f"not {status!r}"
            )
        if retry_after is not None and retry_after < 1:
            raise ValueError(f"fail_next(retry_after={retry_after!r}): expected seconds >= 1")
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

    def rate_limit(self, bucket: Bucket, limit: int, *, window: float = 60) -> None:
        """Enforce ``limit`` requests per fixed ``window`` of seconds in ``bucket``.

        Buckets: ``"reads"`` (GET), ``"deletes"`` (DELETE), ``"writes"``
        (any other method), over every route, for the rest of the test.
        Windows start at 0 on the fake :attr:`clock`; a request over the
        limit gets 429 ``rate_limit_exceeded`` with ``Retry-After`` (and
        ``retryAfter``) counting the whole seconds to the next window. Time
        passes only through :meth:`advance`, so nothing really waits. The
        fixtures' own creates and revokes are neither counted nor limited.
        """
        if bucket not in BUCKETS:
            raise ValueError(f"rate_limit() takes a bucket of {', '.join(BUCKETS)}, not {bucket!r}")
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            raise ValueError(f"rate_limit(limit={limit!r}): expected a whole number >= 0")
        if not window > 0 or window == math.inf:
            raise ValueError(f"rate_limit(window={window!r}): expected seconds > 0")
        with self._lock:
            self._limits[bucket] = _RateLimit(limit, float(window))

    def advance(self, seconds: float) -> None:
        """Move the fake clock of the rate limits forward (pass it where your code would sleep)."""
        if not seconds >= 0:
            raise ValueError(f"advance({seconds!r}): expected seconds >= 0")
        with self._lock:
            self._clock += seconds

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
            owner = _FIXTURE_CALL.get() or self._narrowest_scope()
            if owner is not None and owner.api is self:
                owner.keys.add(key.id)
            return key

    # -- the life of a scope ------------------------------------------------------

    @property
    def in_use(self) -> bool:
        """Whether a fixture is using the service now (the mock intercepts only then)."""
        return bool(self._scopes)

    @contextmanager
    def scope(self, name: ScopeName = "function") -> Iterator[FakeScope]:
        """Use the service for one fixture's scope, and drop the keys made for it after it.

        A key belongs to the scope of the fixture that made it (see
        :meth:`FakeScope.fixture_calls`), else to the narrowest scope open
        (the test's), and is dropped when that scope ends, in whatever order
        scopes end. A function scope (one test) also starts and ends with a
        fresh view (when the test's first function scope starts and its last
        ends): no requests, added routes, faults or rate limits, the clock at
        0 and the default management policy. A key made while no
        scope is open stays until the session ends, as on the real service.
        """
        held = FakeScope(self, name)
        with self._lock:
            if name == "function" and not self._in_test():
                self._fresh_view()
            self._scopes.append(held)
        try:
            yield held
        finally:
            with self._lock:
                self._scopes.remove(held)
                for key_id in held.keys:
                    self._keys.pop(key_id, None)
                if name == "function" and not self._in_test():
                    self._fresh_view()

    def _in_test(self) -> bool:
        return any(scope.name == "function" for scope in self._scopes)

    def _fresh_view(self) -> None:
        self._requests.clear()
        self._routes.clear()
        for faults in self._faults.values():
            faults.clear()
        self._limits.clear()
        self._clock = 0.0
        self._management_auth = self._default_management_auth

    def _narrowest_scope(self) -> FakeScope | None:
        # The narrowest, and of those the latest opened.
        return min(reversed(self._scopes), key=lambda scope: scope.rank, default=None)

    # -- serving ------------------------------------------------------------------

    def owns(self, url: httpx.URL) -> bool:
        """Whether ``url`` is under the service's base URL."""
        return is_under(url, self._base)

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request the way the real service would."""
        with self._lock:
            self._requests.append(request)
            path = request.url.path[len(self._base_path) :] or "/"
            method = request.method.upper()
            revoking = re.fullmatch(r"/api-keys/([^/]+)", path) if method == "DELETE" else None
            call: Call | None = None
            if path == "/api-keys":
                call = "create" if method == "POST" else "list" if method == "GET" else None
            elif revoking:
                call = "revoke"
            managing = path == "/api-keys" or path.startswith("/api-keys/")
            if not self._authenticated(request, managing=managing):
                return self._unauthenticated(managing=managing)
            own = _FIXTURE_CALL.get() is not None
            limited = None if own else self._over_limit(method)
            if limited is not None:
                return limited
            fault = self._fault(call, request) if call is not None and not own else None
            if fault is not None:
                return fault
            if call == "create":
                return self._create(request)
            if call == "list":
                return self._list()
            if revoking:
                return self._revoke(revoking.group(1))
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

    def _credentials(self, request: httpx.Request) -> set[CredentialKind] | None:
        """The working credentials the request carries; ``None`` if one it carries does not work."""
        headers = request.headers
        authorization = headers.get("authorization", "")
        bearer = authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
        # Xquik-Api-Key is the documented vendor-prefixed alias of x-api-key.
        api_key = (
            headers.get("x-api-key")
            or headers.get("xquik-api-key")
            or (bearer if bearer.startswith("xq_") else "")
        )
        kinds: set[CredentialKind] = set()
        if api_key:
            key = next((k for k in self._keys.values() if k.full_key == api_key), None)
            if key is None or not key.is_active:
                return None
            key.last_used_at = _now()
            kinds.add("api-key")
        elif bearer:
            if bearer not in self._admin_tokens:
                return None
            kinds.add("bearer")
        session = _cookie(headers.get("cookie", ""), self._cookie_name)
        if session is not None and session in self._admin_tokens:
            kinds.add("session")
        return kinds

    def _authenticated(self, request: httpx.Request, *, managing: bool) -> bool:
        kinds = self._credentials(request)
        if not kinds:
            return False
        if managing:  # the key endpoints: the management policy decides
            return "session" in kinds or self._management_auth == "any"
        # Every other route (GET /account included) takes an API key or a bearer token only.
        return bool(kinds & {"api-key", "bearer"})

    def _unauthenticated(self, *, managing: bool) -> httpx.Response:
        if managing and self._management_auth == "session":
            message = (
                "Authentication required. API keys are managed with a dashboard session "
                f"(cookie {self._cookie_name})."
            )
        else:
            message = _ERROR_MESSAGES[401]
        return error_response(401, "unauthenticated", message)

    def _over_limit(self, method: str) -> httpx.Response | None:
        if not self._limits:
            return None  # most tests
        bucket: Bucket = (
            "reads" if method in ("GET", "HEAD") else "deletes" if method == "DELETE" else "writes"
        )
        limit = self._limits.get(bucket)
        if limit is None:
            return None
        window_index = math.floor(self._clock / limit.window)
        if window_index != limit.window_index:
            limit.window_index, limit.count = window_index, 0
        if limit.count < limit.limit:
            limit.count += 1
            return None
        wait = max(1, math.ceil((window_index + 1) * limit.window - self._clock))
        return error_response(
            429,
            "rate_limit_exceeded",
            f"Too many requests: {limit.limit} {bucket} per {limit.window:g} s. Try again later.",
            retryAfter=wait,
        )

    def _fault(self, call: Call, request: httpx.Request) -> httpx.Response | None:
        faults = self._faults[call]
        return faults.popleft().response(request) if faults else None

    def _create(self, request: httpx.Request) -> httpx.Response:
        media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if media_type != "application/json":
            return error_response(
                415, "unsupported_media_type", "Send Content-Type: application/json."
            )
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
                f"API key limit reached ({self._key_limit}). Delete an existing key first.",
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


def _checked_policy(policy: str) -> ManagementAuth:
    if policy not in MANAGEMENT_AUTH:
        raise ValueError(
            f"management_auth takes {' or '.join(map(repr, MANAGEMENT_AUTH))}, not {policy!r}"
        )
    return policy


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
