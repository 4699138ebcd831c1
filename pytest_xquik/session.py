"""What one pytest session (or one xdist worker) holds: settings, credential, clients, mock."""

from __future__ import annotations

import dataclasses
import os
import ssl
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
    visible_secrets,
)
from pytest_xquik.masking.ci_runner import runner_masks
from pytest_xquik.masking.masker import SecretMasker
from pytest_xquik.naming import KeyNamer, new_run_id
from pytest_xquik.settings import Settings, hide_userinfo, resolve_settings

#: The key of ``workerinput`` that carries the controller's run id to pytest-xdist's workers.
RUN_ID_INPUT = "xquik_run_id"

if TYPE_CHECKING:
    from pytest_xquik.api.admin import XquikAdmin
    from pytest_xquik.api.fake import FakeScope, FakeXquikApi, ScopeName
    from pytest_xquik.api.intercept import Interceptor
    from pytest_xquik.api.retry import RetryPolicy
    from pytest_xquik.live.ledger import Ledger
    from pytest_xquik.live.throttle import RunThrottle


class XquikSession:
    """The plugin's state for one session; nothing is built until a fixture needs it."""

    def __init__(
        self,
        settings: Settings,
        credential: ManagementCredential | None,
        namer: KeyNamer,
        masker: SecretMasker,
        ledger: Ledger | None = None,
        *,
        is_worker: bool = False,
    ) -> None:
        self.settings = settings
        self.is_worker = is_worker  # a pytest-xdist worker, not the process that started the run
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
        # A run id of its own for every run, whatever --testrunuid says: a worker of
        # pytest-xdist gets its controller's (see plugin.XdistHooks) and its worker id.
        workerinput = getattr(config, "workerinput", None)
        run_id = workerinput.get(RUN_ID_INPUT) if workerinput else None
        run_id = run_id or new_run_id()
        worker = workerinput["workerid"] if workerinput else None
        namer = KeyNamer(settings.key_name_prefix, run_id, worker)
        masker = SecretMasker(backstop=settings.mask_key_pattern)
        add_mask = runner_masks(config, settings.github_add_mask)
        if add_mask is not None:  # first: the runner learns every secret the masker does
            masker.listeners.append(add_mask)
        for secret in visible_secrets(os.environ, settings.base_url):
            masker.register(secret)
        ledger = None
        if credential is not None:  # live mode keeps a ledger of its keys
            from pytest_xquik.live.ledger import (
                Ledger,
                Owner,
                credential_fingerprint,
                ledger_directory,
            )

            # The URL without its user information: the ledger file holds no secret.
            owner = Owner(
                hide_userinfo(settings.base_url), credential_fingerprint(credential.secret)
            )
            ledger = Ledger(ledger_directory(config), run_id, owner, worker)
        return cls(settings, credential, namer, masker, ledger, is_worker=worker is not None)

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
            management_auth=self.settings.mock_management_auth,
        )

    @contextmanager
    def fake_scope(self, scope: ScopeName = "function") -> Iterator[FakeScope | None]:
        """In mock mode, intercept and use the fake API for one fixture's scope; else ``None``.

        The process's httpx clients are intercepted from the first scope
        opened to the last one closed, and not at all outside them.
        """
        if not self.is_mock:
            yield None
            return
        if self._interceptor is None:
            from pytest_xquik.api.intercept import Interceptor

            self._interceptor = Interceptor(self.fake)
        with self._interceptor.active(), self.fake.scope(scope) as held:
            yield held

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
        from pytest_xquik.api.unrecorded import (
            DirectTransport,
            HandlerTransport,
            UnrecordedClient,
            environment_proxy,
        )

        # Past every recorder and mock of httpx (see api.unrecorded): straight to the fake API
        # in mock mode, over a connection of its own in live mode.
        transport: httpx.BaseTransport
        if self.is_mock:
            transport = HandlerTransport(self.fake.handle)
        else:
            proxy = environment_proxy(self.settings.base_url)
            transport = DirectTransport(self._ssl_context, proxy)
        client = UnrecordedClient(
            transport,
            base_url=self.settings.base_url,
            headers=self.credential.headers,
            timeout=self.settings.timeout,
        )
        return XquikAdmin(
            client,
            self.credential,
            self.namer,
            self.masker,
            retry=self._retry_policy(),
            ledger=self.ledger,
            mock=self.is_mock,
            throttle=self._throttle,
        )

    @cached_property
    def _throttle(self) -> RunThrottle | None:
        """Live mode: the rate limits and outages the run's processes share, next to the ledger."""
        if self.ledger is None:
            return None
        from pytest_xquik.live.throttle import RunThrottle

        return RunThrottle(self.ledger.directory / f"{self.namer.run_id}-shared")

    def _retry_policy(self) -> RetryPolicy:
        from pytest_xquik.api.retry import RetryPolicy

        settings = self.settings
        policy = RetryPolicy(
            settings.max_retries, settings.retry_backoff, settings.rate_limit_deadline
        )
        if self.is_mock:  # the fake's clock moves instead of the plugin waiting
            return dataclasses.replace(policy, sleep=self.fake.advance)
        return policy

    def close(self) -> None:
        """Close the management client and the ledger."""
        if "admin" in self.__dict__:
            self.admin.close()
        if self.ledger is not None:
            self.ledger.close()
            throttle = self._throttle
            assert throttle is not None
            if self.is_worker:
                throttle.close()
            else:
                throttle.remove()  # the workers are done: the run's shared state goes


def _only_shows_help(config: pytest.Config) -> bool:
    """Whether this command only lists fixtures or markers: it needs no credential."""
    option = config.option
    return bool(option.showfixtures or option.show_fixtures_per_test or option.markers)
