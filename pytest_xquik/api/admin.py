"""The management client: create, list and revoke the account's keys."""

from __future__ import annotations

import builtins
import contextlib
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import httpx

from pytest_xquik.api.retry import (
    CallBudget,
    RetryPolicy,
    is_ambiguous,
    is_retried_error,
    is_retried_status,
    is_unreachable,
    retry_after,
    was_sent,
)
from pytest_xquik.credentials import ManagementCredential
from pytest_xquik.errors import XquikApiError, XquikError
from pytest_xquik.keys import ApiKeyInfo, ScratchKey
from pytest_xquik.live.ledger import Ledger
from pytest_xquik.live.throttle import PROBE_INTERVAL, Closed, Outage, RunThrottle, Turn
from pytest_xquik.masking.masker import SecretMasker
from pytest_xquik.naming import KeyNamer
from pytest_xquik.running import running_test

_EXCERPT_LENGTH = 200
logger = logging.getLogger("pytest_xquik")


class HttpClient(Protocol):
    """What the management client needs of its HTTP client (``httpx.Client`` has it)."""

    @property
    def base_url(self) -> httpx.URL: ...

    def request(self, method: str, url: str, *, json: Any = None) -> httpx.Response: ...

    def close(self) -> None: ...


class XquikAdmin:
    """The management client the fixtures use, authenticated as the management credential.

    ``create(name)`` makes a key (its name always starts with the plugin's
    prefix, with ``name`` in it), ``list()`` returns every key of the account
    (without secrets), ``revoke(id)`` revokes one. A key you create through
    this client is yours to revoke; the fixtures revoke theirs.

    Every call is retried as ``retry`` says. In live mode, every key created
    and revoked is written to the ``ledger`` first, and the ``throttle``
    shares rate limits and outages with the run's other processes. ``mock`` says the
    client talks to pytest-xquik's mock, whose errors never suggest live-mode remedies.
    """

    def __init__(
        self,
        client: HttpClient,
        credential: ManagementCredential,
        namer: KeyNamer,
        masker: SecretMasker,
        *,
        retry: RetryPolicy | None = None,
        ledger: Ledger | None = None,
        mock: bool = False,
        throttle: RunThrottle | None = None,
    ) -> None:
        self.mock = mock
        self._client = client
        self._credential = credential
        self._namer = namer
        self._masker = masker
        self._retry = retry or RetryPolicy()
        self._ledger = ledger
        self._throttle = throttle
        self._revoked: set[str] = set()

    def create(self, name: str | None = None, *, test: str | None = None) -> ScratchKey:
        """Create a key named ``<prefix> <run>-<n> [name ]<test>`` and return it with its secret.

        ``test`` is the node id the key belongs to; the running test by default.
        Create is not idempotent: after a failure that may have created the
        key anyway, the key is looked up by its unique name and revoked
        before the next attempt.
        """
        __tracebackhide__ = True
        owner = test or running_test() or "(session)"
        key_name = self._namer.name(name, test=owner)
        if self._ledger is not None:
            self._ledger.creating(key_name, owner)
        # Whether a failed attempt may have made a key of the name that the list did not show.
        unresolved = False

        def reconcile(failure: XquikApiError) -> None:
            nonlocal unresolved
            before, unresolved = unresolved, True  # stays set if the look-up raises
            if self._reconcile(key_name, owner, failure):
                unresolved = before

        try:
            body = self._call(
                "create", "POST", "/api-keys", {"name": key_name}, reconcile=reconcile
            )
            try:
                self._masker.register(str(body["fullKey"]))
                key = ScratchKey.from_response(body)
            except (KeyError, TypeError, ValueError) as error:
                failure = self._undocumented("create (POST /api-keys)", 201, body, error)
                reconcile(failure)
                raise failure from None
        except XquikApiError as error:
            if self._ledger is not None and not unresolved:
                # No attempt can have made a key beyond those the look-ups revoked.
                self._ledger.not_created(key_name, reached=error.reached)
            raise
        if self._ledger is not None:
            if unresolved:
                self._ledger.ambiguous(key_name)
            self._ledger.created(key.id, key.prefix, key.name, owner, key.created_at)
        return key

    def list(self) -> builtins.list[ApiKeyInfo]:
        """Every key of the account, active or not; never a secret."""
        __tracebackhide__ = True
        body = self._call("list", "GET", "/api-keys")
        try:
            return [ApiKeyInfo.from_response(item) for item in body["keys"]]
        except (KeyError, TypeError, ValueError) as error:
            raise self._undocumented("list (GET /api-keys)", 200, body, error) from None

    def revoke(self, key_id: str) -> bool:
        """Revoke key ``key_id``; ``False`` if the service no longer knew it (already revoked)."""
        __tracebackhide__ = True
        try:
            self._call("revoke", "DELETE", f"/api-keys/{key_id}")
        except XquikApiError as error:
            if error.status != 404:
                raise
            revoked = False
        else:
            revoked = True
        self._revoked.add(key_id)
        if self._ledger is not None:
            self._ledger.revoked(key_id)
        return revoked

    def was_revoked(self, key_id: str) -> bool:
        """Whether this client revoked key ``key_id`` (or found it already revoked)."""
        return key_id in self._revoked

    def close(self) -> None:
        """Close the underlying connection pool."""
        self._client.close()

    def _call(
        self,
        call: str,
        method: str,
        path: str,
        payload: dict[str, Any] | None = None,
        *,
        reconcile: Callable[[XquikApiError], None] | None = None,
    ) -> Any:
        __tracebackhide__ = True
        request = f"{call} ({method} {path})"
        probing = False
        if self._throttle is not None:
            outage = self._throttle.outage()
            if outage is not None and not outage.probe:
                raise self._unreachable(request, outage)
            probing = outage is not None
        budget = CallBudget(self._retry)
        reached = False
        while True:
            label = request
            if budget.retries:
                label = (
                    f"{call} ({method} {path}, attempt {budget.retries + 1} of {budget.attempts})"
                )
            response: httpx.Response | None = None
            transport_error: httpx.HTTPError | None = None
            body: Any = None
            asked: float | None = None
            try:
                with self._turn(call, budget) as turn:
                    try:
                        response = self._client.request(method, path, json=payload)
                    except httpx.HTTPError as error:
                        transport_error = error
                    else:
                        body = _json(response)
                        if response.status_code == 429:
                            asked = retry_after(response, body)
                        if asked is not None and turn is not None:
                            turn.close_for(asked)
            except Closed as closed:
                raise self._closed(label, closed, budget, reached) from None
            wait: float | None = None
            if transport_error is not None:
                reached = reached or was_sent(transport_error)
                failure = XquikApiError(
                    label,
                    None,
                    None,
                    self._masker.mask(f"{type(transport_error).__name__}: {transport_error}"),
                    reached=reached,
                )
                ambiguous = is_ambiguous(None, transport_error)
                unreachable = is_unreachable(transport_error)
                if is_retried_error(transport_error) and not (probing and unreachable):
                    wait = budget.retry()
            else:
                assert response is not None
                reached, unreachable = True, False
                if self._throttle is not None:
                    self._throttle.reachable()
                if response.is_success and isinstance(body, dict):
                    logger.debug("%s: %s", label, response.status_code)
                    return body
                if asked is not None:
                    wait = budget.rate_limit(asked)
                elif is_retried_status(response.status_code):
                    wait = budget.retry()
                failure = self._failure(label, response, body, budget, asked, wait is None)
                ambiguous = is_ambiguous(response.status_code)
            if ambiguous and reconcile is not None:
                reconcile(failure)
            if wait is None:
                logger.debug("%s; not retried", failure)
                if unreachable and self._throttle is not None:
                    self._throttle.unreachable(failure.detail)
                raise failure
            if asked is not None:
                logger.debug("%s; rate limited: waiting %.3f s, not a retry", failure, wait)
            else:
                logger.debug("%s; retrying in %.3f s", failure, wait)
            self._retry.sleep(wait)

    @contextlib.contextmanager
    def _turn(self, call: str, budget: CallBudget) -> Iterator[Turn | None]:
        """Hold the bucket of ``call`` across the run's processes (live mode) for one attempt."""
        if self._throttle is None:
            yield None
            return
        with self._throttle.turn(call, budget.remaining, self._retry.sleep) as turn:
            budget.waited += turn.waited
            if turn.waited:
                logger.debug("%s: waited %.3f s for the rate limit of the run", call, turn.waited)
            yield turn

    def _unreachable(self, request: str, outage: Outage) -> XquikApiError:
        """The error of a call not sent because the service was found unreachable."""
        base_url = str(self._client.base_url).rstrip("/")
        return XquikApiError(
            request,
            None,
            None,
            f"not sent: the service at {base_url} could not be reached "
            f"{outage.seconds_ago:.1f} s ago ({outage.cause})",
            f"pytest-xquik tries it again at most every {PROBE_INTERVAL:g} s; check "
            "xquik_base_url and the network",
            reached=False,
        )

    def _closed(
        self, label: str, closed: Closed, budget: CallBudget, reached: bool
    ) -> XquikApiError:
        """The error of a call not sent because its bucket stays closed past the deadline."""
        return XquikApiError(
            label,
            None,
            None,
            f"not sent: rate limited: the service's {closed.bucket} bucket is closed for "
            f"{closed.seconds:.1f} s more (another call of this run was answered 429)",
            self._rate_limit_hint(budget),
            reached=reached,
        )

    def _rate_limit_hint(self, budget: CallBudget) -> str:
        deadline = self._retry.rate_limit_deadline
        return (
            f"This call may wait {budget.remaining:g} s more of xquik_rate_limit_deadline = "
            f"{deadline:g} s for rate limits. The service allows each account about 30 creates "
            "and 15 revokes a minute: raise xquik_rate_limit_deadline, run fewer pytest-xdist "
            "workers, or share one key per process with --xquik-reuse-keys"
        )

    def _failure(
        self,
        label: str,
        response: httpx.Response,
        body: Any,
        budget: CallBudget,
        asked: float | None,
        final: bool,
    ) -> XquikApiError:
        """The error for an answer that is not a success."""
        if not isinstance(body, dict) or "error" not in body:
            return self._undocumented(label, response.status_code, response.text)
        code = str(body["error"])
        detail = self._masker.mask(str(body.get("message", "")) or "(no message)")
        hint = self._hint(response, code)
        if response.status_code == 429 and final:
            bucket = label.split(" ", 1)[0]
            if asked is not None:
                hint = (
                    f"Rate limited: the service's {bucket} bucket reopens in {asked:g} s. "
                    + self._rate_limit_hint(budget)
                )
            else:
                hint = (
                    f"Rate limited: the service's {bucket} bucket is closed, and the 429 did "
                    f"not say for how long; {budget.retries} retries (xquik_max_retries) are "
                    "used up. " + self._rate_limit_hint(budget)
                )
        return XquikApiError(label, response.status_code, code, detail, hint)

    def _reconcile(self, name: str, test: str, failure: XquikApiError) -> bool:
        """After ``failure``, revoke the key named ``name`` if the create made it after all.

        ``True`` if the list showed an active key of the name (revoked now).
        """
        found = False
        try:
            for info in self.list():
                if info.name == name and info.is_active:
                    logger.debug("create: the failed attempt made key id=%s; revoking it", info.id)
                    if self._ledger is not None:
                        self._ledger.created(info.id, info.prefix, info.name, test, info.created_at)
                    self.revoke(info.id)
                    found = True
        except XquikError as error:
            raise XquikApiError(
                failure.call,
                failure.status,
                failure.code,
                f"{failure.detail}; the key may have been created anyway, and finding or "
                f"revoking it by its name {name!r} failed: {error}",
                "It exists only in pytest-xquik's mock, which forgets it after the test."
                if self.mock
                else "The end of the run looks for it again; `pytest --xquik-mode=live "
                "--xquik-sweep` revokes it.",
            ) from None
        return found

    def _hint(self, response: httpx.Response, code: str) -> str:
        if response.status_code == 401:
            hint = f"The credential used was {self._credential.describe()}"
            if self._credential.kind == "api-key":
                hint += (
                    "; some versions of the service accept only a dashboard session "
                    "cookie for key management"
                )
            return f"{hint}. The plugin also accepts {self._credential.others()}."
        if code == "api_key_limit_reached" and self.mock:
            return (
                "pytest-xquik's mock holds as many active keys as the service allows: revoke "
                "some in the test (each test starts with only the keys of wider fixtures)."
            )
        if code == "api_key_limit_reached":
            return (
                "The account is at its limit of API keys. Revoke the keys earlier runs "
                "left behind with `pytest --xquik-mode=live --xquik-sweep`, or in the dashboard."
            )
        return ""

    def _undocumented(
        self, label: str, status: int, body: Any, error: Exception | None = None
    ) -> XquikApiError:
        text = body if isinstance(body, str) else json.dumps(body)
        excerpt = self._masker.mask(text)[:_EXCERPT_LENGTH] or "(empty body)"
        detail = f"the body is not the documented JSON: {excerpt!r}"
        if error is not None:
            detail += f" ({type(error).__name__}: {error})"
        return XquikApiError(label, status, None, self._masker.mask(detail))


def _json(response: httpx.Response) -> Any:
    """The body of ``response`` as JSON; ``None`` if it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None
