"""The management client: create, list and revoke the account's keys."""

from __future__ import annotations

import builtins
import json
from typing import Any

import httpx

from pytest_xquik.credentials import ManagementCredential
from pytest_xquik.errors import XquikApiError
from pytest_xquik.keys import ApiKeyInfo, ScratchKey
from pytest_xquik.masking import SecretMasker
from pytest_xquik.naming import KeyNamer

_EXCERPT_LENGTH = 200


class XquikAdmin:
    """The management client the fixtures use, authenticated as the management credential.

    ``create(name)`` makes a key (its name always starts with the plugin's
    prefix, with ``name`` in it), ``list()`` returns every key of the account
    (without secrets), ``revoke(id)`` revokes one. A key you create through
    this client is yours to revoke; the fixtures revoke theirs.
    """

    def __init__(
        self,
        client: httpx.Client,
        credential: ManagementCredential,
        namer: KeyNamer,
        masker: SecretMasker,
    ) -> None:
        self._client = client
        self._credential = credential
        self._namer = namer
        self._masker = masker

    def create(self, name: str | None = None, *, test: str | None = None) -> ScratchKey:
        """Create a key named ``<prefix> <run>-<n> [name ]<test>`` and return it with its secret.

        ``test`` is the node id the key belongs to; the running test by default.
        """
        __tracebackhide__ = True
        key_name = self._namer.name(name, test=test)
        body = self._call("create", "POST", "/api-keys", {"name": key_name})
        try:
            self._masker.register(str(body["fullKey"]))
            return ScratchKey.from_response(body)
        except (KeyError, TypeError, ValueError) as error:
            raise self._undocumented("create", "POST", "/api-keys", 201, body, error) from None

    def list(self) -> builtins.list[ApiKeyInfo]:
        """Every key of the account, active or not; never a secret."""
        __tracebackhide__ = True
        body = self._call("list", "GET", "/api-keys")
        try:
            return [ApiKeyInfo.from_response(item) for item in body["keys"]]
        except (KeyError, TypeError, ValueError) as error:
            raise self._undocumented("list", "GET", "/api-keys", 200, body, error) from None

    def revoke(self, key_id: str) -> bool:
        """Revoke key ``key_id``; ``False`` if the service no longer knew it (already revoked)."""
        __tracebackhide__ = True
        try:
            self._call("revoke", "DELETE", f"/api-keys/{key_id}")
        except XquikApiError as error:
            if error.status == 404:
                return False
            raise
        return True

    def close(self) -> None:
        """Close the underlying connection pool."""
        self._client.close()

    def _call(
        self, call: str, method: str, path: str, payload: dict[str, Any] | None = None
    ) -> Any:
        __tracebackhide__ = True
        label = f"{call} ({method} {path})"
        try:
            response = self._client.request(method, path, json=payload)
        except httpx.HTTPError as error:
            raise XquikApiError(
                label, None, None, self._masker.mask(f"{type(error).__name__}: {error}")
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.is_success and isinstance(body, dict):
            return body
        if not isinstance(body, dict) or "error" not in body:
            raise self._undocumented(call, method, path, response.status_code, response.text)
        code = str(body["error"])
        detail = self._masker.mask(str(body.get("message", "")) or "(no message)")
        raise XquikApiError(label, response.status_code, code, detail, self._hint(response, code))

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
        self,
        call: str,
        method: str,
        path: str,
        status: int,
        body: Any,
        error: Exception | None = None,
    ) -> XquikApiError:
        text = body if isinstance(body, str) else json.dumps(body)
        excerpt = self._masker.mask(text)[:_EXCERPT_LENGTH] or "(empty body)"
        detail = f"the body is not the documented JSON: {excerpt!r}"
        if error is not None:
            detail += f" ({type(error).__name__}: {error})"
        return XquikApiError(f"{call} ({method} {path})", status, None, self._masker.mask(detail))
