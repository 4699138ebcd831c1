"""The management client: create, list and revoke the account's keys."""

from __future__ import annotations

import builtins
import json
import logging
from collections.abc import Callable
from typing import Any, Protocol

import httpx

from pytest_xquik.api.retry import (
    RetryPolicy,
    is_ambiguous,
    is_retried_error,
    is_retried_status,
    retry_after,
)
from pytest_xquik.credentials import ManagementCredential
from pytest_xquik.errors import XquikApiError, XquikError
from pytest_xquik.keys import ApiKeyInfo, ScratchKey
from pytest_xquik.live.ledger import Ledger
from pytest_xquik.masking.masker import SecretMasker
from pytest_xquik.naming import KeyNamer

_EXCERPT_LENGTH = 200
logger = logging.getLogger("pytest_xquik")


class HttpClient(Protocol):
    """What the management client needs of its HTTP client (``httpx.Client`` has it)."""

    def request(self, method: str, url: str, *, json: Any = None) -> httpx.Response: ...

    def close(self) -> None: ...


class XquikAdmin:
    """The management client the fixtures use, authenticated as the management credential.

    ``create(name)`` makes a key (its name always starts with the plugin's
    prefix, with ``name`` in it), ``list()`` returns every key of the account
    (without secrets), ``revoke(id)`` revokes one. A key you create through
    this client is yours to revoke; the fixtures revoke theirs.

    Every call is retried as ``retry`` says. In live mode, every key created
    and revoked is written to the ``ledger`` first.
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
    ) -> None:
        self._client = client
        self._credential = credential
        self._namer = namer
        self._masker = masker
        self._retry = retry or RetryPolicy()
        self._ledger = ledger

    def create(self, name: str | None = None, *, test: str | None = None) -> ScratchKey:
        """Create a key named ``<prefix> <run>-<n> [name ]<test>`` and return it with its secret.

        ``test`` is the node id the key belongs to; the running test by default.
        Create is not idempotent: after a failure that may have created the
        key anyway, the key is looked up by its unique name and revoked
        before the next attempt.
        """
        __tracebackhide__ = True
        key_name = self._namer.name(name, test=test)
        owner = test or self._namer.test or "(session)"
        if self._ledger is not None:
            self._ledger.creating(key_name, owner)

        def reconcile(failure: XquikApiError) -> None:
            self._reconcile(key_name, owner, failure)

        body = self._call("create", "POST", "/api-keys", {"name": key_name}, reconcile=reconcile)
        try:
            self._masker.register(str(body["fullKey"]))
            key = ScratchKey.from_response(body)
        except (KeyError, TypeError, ValueError) as error:
            failure = self._undocumented("create (POST /api-keys)", 201, body, error)
            reconcile(failure)
            raise failure from None
        if self._ledger is not None:
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
        if self._ledger is not None:
            self._ledger.revoked(key_id)
        return revoked

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
        attempts = self._retry.max_retries + 1
        for attempt in range(1, attempts + 1):
            label = f"{call} ({method} {path})"
            if attempt > 1:
                label = f"{call} ({method} {path}, attempt {attempt} of {attempts})"
            wait: float | None = None
            try:
                response = self._client.request(method, path, json=payload)
            except httpx.HTTPError as error:
                failure = XquikApiError(
                    label, None, None, self._masker.mask(f"{type(error).__name__}: {error}")
                )
                ambiguous = is_ambiguous(None, error)
                if is_retried_error(error):
                    wait = self._retry.wait(attempt, None)
            else:
                try:
                    body = response.json()
                except ValueError:
                    body = None
                if response.is_success and isinstance(body, dict):
                    logger.debug("%s: %s", label, response.status_code)
                    return body
                asked = retry_after(response, body) if response.status_code == 429 else None
                if is_retried_status(response.status_code):
                    wait = self._retry.wait(attempt, asked)
                failure = self._failure(label, response, body, asked if wait is None else None)
                ambiguous = is_ambiguous(response.status_code)
            if ambiguous and reconcile is not None:
                reconcile(failure)
            if wait is None or attempt == attempts:
                logger.debug("%s; not retried", failure)
                raise failure
            logger.debug("%s; retrying in %.3f s", failure, wait)
            self._retry.sleep(wait)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _failure(
        self, label: str, response: httpx.Response, body: Any, refused_wait: float | None
    ) -> XquikApiError:
        """The error for an answer that is not a success."""
        if not isinstance(body, dict) or "error" not in body:
            return self._undocumented(label, response.status_code, response.text)
        code = str(body["error"])
        detail = self._masker.mask(str(body.get("message", "")) or "(no message)")
        hint = self._hint(response, code)
        if refused_wait is not None:
            hint = (
                f"The service asked to wait {refused_wait:g} s before trying again, more than "
                f"xquik_retry_max_wait = {self._retry.max_wait:g} s; raise that ini option, "
                "or run again later."
            )
        return XquikApiError(label, response.status_code, code, detail, hint)

    def _reconcile(self, name: str, test: str, failure: XquikApiError) -> None:
        """After ``failure``, revoke the key named ``name`` if the create made it after all."""
        try:
            for info in self.list():
                if info.name == name and info.is_active:
                    logger.debug("create: the failed attempt made key id=%s; revoking it", info.id)
                    if self._ledger is not None:
                        self._ledger.created(info.id, info.prefix, info.name, test, info.created_at)
                    self.revoke(info.id)
        except XquikError as error:
            raise XquikApiError(
                failure.call,
                failure.status,
                failure.code,
                f"{failure.detail}; the key may have been created anyway, and finding or "
                f"revoking it by its name {name!r} failed: {error}",
                "The end of the run looks for it again; `pytest --xquik-mode=live "
                "--xquik-sweep` revokes it.",
            ) from None

    def _hint(self, response: httpx.Response, code: str) -> str:
        if response.status_code == 401:
            hint = f"The credential used was {self._credential.describe()}"
            if self._credential.kind == "api-key":
                hint += (
                    "; some versions of the service accept only a dashboard session "
                    "cookie for key management"
                )
            return f"{hint}. The plugin also accepts {self._credential.others()}."
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
