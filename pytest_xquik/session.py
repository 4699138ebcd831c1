"""What one pytest session (or one xdist worker) holds: settings, credential, clients, mock."""

from __future__ import annotations

import secrets
import ssl
from functools import cached_property
from typing import TYPE_CHECKING, Any

import httpx

from pytest_xquik.credentials import ManagementCredential
from pytest_xquik.masking import SecretMasker
from pytest_xquik.naming import KeyNamer
from pytest_xquik.settings import Settings

if TYPE_CHECKING:
    from pytest_xquik.admin import XquikAdmin
    from pytest_xquik.fake_api import FakeXquikApi
    from pytest_xquik.intercept import Interceptor


class XquikSession:
    """The plugin's state for one session; nothing is built until a fixture needs it."""

    def __init__(
        self,
        settings: Settings,
        credential: ManagementCredential | None,
        namer: KeyNamer,
        masker: SecretMasker,
    ) -> None:
        self.settings = settings
        self.namer = namer
        self.masker = masker
        if credential is None:  # mock mode: the fake service's own session token
            credential = ManagementCredential(
                "session",
                "the mock's session token",
                secrets.token_hex(16),
                settings.session_cookie_name,
            )
        self.credential = credential
        masker.register(credential.secret)
        self._interceptor: Interceptor | None = None

    @property
    def is_mock(self) -> bool:
        """Whether the session runs against the in-process fake API."""
        return self.settings.mode == "mock"

    @cached_property
    def fake(self) -> FakeXquikApi:
        """The fake API of mock mode (one per session; fixtures scope its state)."""
        from pytest_xquik.fake_api import FakeXquikApi

        return FakeXquikApi(
            self.settings.base_url,
            admin_tokens=[self.credential.secret],
            session_cookie_name=self.settings.session_cookie_name,
        )

    def intercept(self) -> Interceptor:
        """Start (once) routing the process's httpx traffic for the base URL to the fake API."""
        if self._interceptor is None:
            from pytest_xquik.intercept import Interceptor

            self._interceptor = Interceptor(self.fake)
            self._interceptor.start()
        return self._interceptor

    @cached_property
    def _ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context()

    def client_options(self, headers: dict[str, str]) -> dict[str, Any]:
        """Keyword arguments for an ``httpx.Client`` or ``AsyncClient`` of the base URL.

        In mock mode the client is wired straight to the fake API; in live mode
        it shares one TLS context, since loading the CA bundle is most of the
        cost of building a client.
        """
        options: dict[str, Any] = {
            "base_url": self.settings.base_url,
            "headers": headers,
            "timeout": self.settings.timeout,
        }
        if self.is_mock:
            options["transport"] = httpx.MockTransport(self.fake.handle)
        else:
            options["verify"] = self._ssl_context
        return options

    @cached_property
    def admin(self) -> XquikAdmin:
        """The management client, built on first use."""
        from pytest_xquik.admin import XquikAdmin

        return XquikAdmin(
            httpx.Client(**self.client_options(self.credential.headers)),
            self.credential,
            self.namer,
            self.masker,
        )

    def close(self) -> None:
        """Close the management client and stop intercepting."""
        if "admin" in self.__dict__:
            self.admin.close()
        if self._interceptor is not None:
            self._interceptor.stop()
