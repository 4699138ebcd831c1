"""What one pytest session (or one xdist worker) holds: settings, credential, clients, mock."""

from __future__ import annotations

import dataclasses
import os
import ssl
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from pytest_xquik.credentials import (
    ManagementCredential,
    credential_from_env,
    missing_credential_message,
)
from pytest_xquik.masking.masker import SecretMasker
from pytest_xquik.naming import KeyNamer, new_run_id
from pytest_xquik.settings import Settings, resolve_settings

if TYPE_CHECKING:
    from pytest_xquik.api.admin import XquikAdmin
    from pytest_xquik.api.fake import FakeXquikApi
    from pytest_xquik.api.intercept import Interceptor
    from pytest_xquik.api.retry import RetryPolicy
    from pytest_xquik.live.ledger import Ledger


class XquikSession:
    """The plugin's state for one session; nothing is built until a fixture needs it."""

    def __init__(
        self,
        settings: Settings,
        credential: ManagementCredential | None,
        namer: KeyNamer,
        masker: SecretMasker,
        ledger: Ledger | None = None,
    ) -> None:
        self.settings = settings
        self.namer = namer
        self.masker = masker
        self.ledger = ledger  # live mode only
        if credential is None:  # mock mode: the fake service's own session token
            credential = ManagementCredential(
                "session",
                "the mock's session token",
                os.urandom(16).hex(),
                settings.session_cookie_name,
            )
        self.credential = credential
        masker.register(credential.secret)
        self._interceptor: Interceptor | None = None

    @classmethod
    def from_config(cls, config: pytest.Config) -> XquikSession:
        """Resolve and validate the settings, and find the credential (live mode).

        Raises ``pytest.UsageError`` for a bad setting, or for live mode
        without a credential.
        """
        settings = resolve_settings(config)
        credential = None
        if settings.mode == "live":
            credential = credential_from_env(os.environ, settings.session_cookie_name)
            if credential is None and not _only_shows_help(config):
                raise pytest.UsageError(missing_credential_message())
        # pytest-xdist gives every worker the controller's run id and its own worker id.
        workerinput = getattr(config, "workerinput", None)
        run_id = workerinput["testrunuid"][:8] if workerinput else _controller_run_id(config)
        worker = workerinput["workerid"] if workerinput else None
        namer = KeyNamer(settings.key_name_prefix, run_id, worker)
        masker = SecretMasker(backstop=settings.mask_key_pattern)
        ledger = None
        if credential is not None:  # live mode keeps a ledger of its keys
            from pytest_xquik.live.ledger import Ledger, ledger_directory

            ledger = Ledger(ledger_directory(config), run_id, worker)
        return cls(settings, credential, namer, masker, ledger)

    @property
    def is_mock(self) -> bool:
        """Whether the session runs against the in-process fake API."""
        return self.settings.mode == "mock"

    @cached_property
    def fake(self) -> FakeXquikApi:
        """The fake API of mock mode (one per session; fixtures scope its state)."""
        from pytest_xquik.api.fake import FakeXquikApi

        return FakeXquikApi(
            self.settings.base_url,
            admin_tokens=[self.credential.secret],
            session_cookie_name=self.settings.session_cookie_name,
        )

    def intercept(self) -> Interceptor:
        """Route the process's httpx traffic for the base URL to the fake API, first of all."""
        if self._interceptor is None:
            from pytest_xquik.api.intercept import Interceptor

            self._interceptor = Interceptor(self.fake)
        self._interceptor.start()
        return self._interceptor

    @contextmanager
    def fake_scope(self) -> Iterator[FakeXquikApi | None]:
        """In mock mode, intercept and use the fake API for one fixture's scope; else ``None``."""
        if not self.is_mock:
            yield None
            return
        interceptor = self.intercept()
        with self.fake.scope() as fake:
            yield fake
        interceptor.forget_calls()

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
        from pytest_xquik.api.admin import XquikAdmin

        return XquikAdmin(
            httpx.Client(**self.client_options(self.credential.headers)),
            self.credential,
            self.namer,
            self.masker,
            retry=self._retry_policy(),
            ledger=self.ledger,
        )

    def _retry_policy(self) -> RetryPolicy:
        from pytest_xquik.api.retry import RetryPolicy

        settings = self.settings
        policy = RetryPolicy(settings.max_retries, settings.retry_backoff, settings.retry_max_wait)
        if self.is_mock:  # the fake has no clock: its retries need not wait
            return dataclasses.replace(policy, sleep=lambda seconds: None)
        return policy

    def close(self) -> None:
        """Close the management client and the ledger, and stop intercepting."""
        if "admin" in self.__dict__:
            self.admin.close()
        if self.ledger is not None:
            self.ledger.close()
        if self._interceptor is not None:
            self._interceptor.stop()


def _only_shows_help(config: pytest.Config) -> bool:
    """Whether this command only lists fixtures or markers: it needs no credential."""
    option = config.option
    return bool(option.showfixtures or option.show_fixtures_per_test or option.markers)


def _controller_run_id(config: pytest.Config) -> str:
    """The run id; with pytest-xdist, the one its workers get (xdist's ``--testrunuid``)."""
    if not config.pluginmanager.hasplugin("xdist"):
        return new_run_id()
    if config.getoption("testrunuid") is None:
        # xdist reads the option when it starts the workers, after pytest_configure.
        config.option.testrunuid = uuid.uuid4().hex
    return str(config.getoption("testrunuid"))[:8]
