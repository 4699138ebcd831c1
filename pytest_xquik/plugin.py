"""pytest-xquik's hooks, in the order pytest calls them; the fixtures live in ``fixtures``."""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Generator
from typing import Any

import pytest

from pytest_xquik.aio import (
    _xquik_async_client_anyio,
    _xquik_async_client_asyncio,
    xquik_async_api_key_factory,
    xquik_async_client,
)
from pytest_xquik.coexist import leave_base_url_to_xquik
from pytest_xquik.credentials import credential_from_env, missing_credential_message
from pytest_xquik.fixtures import (
    SESSION,
    _xquik_fake,
    xquik_admin,
    xquik_api_key,
    xquik_api_key_factory,
    xquik_client,
    xquik_mock,
    xquik_session,
)
from pytest_xquik.markers import check_markers, injected_faults, register_markers, skip_inapplicable
from pytest_xquik.masking import SecretMasker
from pytest_xquik.naming import KeyNamer, new_run_id
from pytest_xquik.redaction import REDACTION, Redaction
from pytest_xquik.session import XquikSession
from pytest_xquik.settings import add_options, resolve_settings

__all__ = [
    "_xquik_async_client_anyio",
    "_xquik_async_client_asyncio",
    "_xquik_fake",
    "xquik_admin",
    "xquik_api_key",
    "xquik_api_key_factory",
    "xquik_async_api_key_factory",
    "xquik_async_client",
    "xquik_client",
    "xquik_mock",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    settings = resolve_settings(config)
    credential = None
    if settings.mode == "live":
        credential = credential_from_env(os.environ, settings.session_cookie_name)
        if credential is None:
            raise pytest.UsageError(missing_credential_message())
    # pytest-xdist gives every worker the controller's run id and its own worker id.
    workerinput = getattr(config, "workerinput", None)
    run_id = workerinput["testrunuid"][:8] if workerinput else _controller_run_id(config)
    worker = workerinput["workerid"] if workerinput else None
    namer = KeyNamer(settings.key_name_prefix, run_id, worker)
    masker = SecretMasker(backstop=settings.mask_key_pattern)
    config.stash[SESSION] = XquikSession(settings, credential, namer, masker)
    config.stash[REDACTION] = redaction = Redaction(masker)
    # pytest_warning_recorded gets no config to find the masker by: a plugin
    # object of this session's own answers it.
    config.pluginmanager.register(_WarningRedaction(redaction), "xquik-warning-redaction")
    register_markers(config)


def _controller_run_id(config: pytest.Config) -> str:
    """The run id; with pytest-xdist, the one its workers get (xdist's ``--testrunuid``)."""
    if not config.pluginmanager.hasplugin("xdist"):
        return new_run_id()
    if config.getoption("testrunuid") is None:
        # xdist reads the option when it starts the workers, after this hook.
        config.option.testrunuid = uuid.uuid4().hex
    return str(config.getoption("testrunuid"))[:8]


class _WarningRedaction:
    def __init__(self, redaction: Redaction) -> None:
        self._redaction = redaction

    @pytest.hookimpl(tryfirst=True)
    def pytest_warning_recorded(self, warning_message: warnings.WarningMessage) -> None:
        self._redaction.redact_warning(warning_message)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[REDACTION].install(session.config)


def pytest_report_header(config: pytest.Config) -> str:
    session = xquik_session(config)
    settings = session.settings
    credential = "none (the mock's own)" if session.is_mock else session.credential.describe()
    return (
        f"xquik: mode={settings.mode}, base URL={settings.base_url}, "
        f"credential={credential}, key names={settings.key_name_prefix} {session.namer.run_id}-*"
    )


@pytest.hookimpl(wrapper=True)
def pytest_pycollect_makeitem(
    collector: pytest.Module | pytest.Class, name: str, obj: object
) -> Generator[None, object, object]:
    collected = yield
    check_markers(collected)
    return collected


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    session = xquik_session(config)
    skip_inapplicable(items, session)
    leave_base_url_to_xquik(items, session)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    namer = xquik_session(item.config).namer
    namer.test = item.nodeid
    redaction = item.config.stash[REDACTION]
    redaction.item = item
    try:
        return (yield)
    finally:
        namer.test = None
        redaction.item = None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    with injected_faults(item, xquik_session(item.config)):
        yield


@pytest.hookimpl(tryfirst=True)
def pytest_assertrepr_compare(
    config: pytest.Config, op: str, left: Any, right: Any
) -> list[str] | None:
    return config.stash[REDACTION].explain(config, op, left, right)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item,
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    item.config.stash[REDACTION].redact_report(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_sessionfinish(session: pytest.Session) -> Generator[None, None, None]:
    redaction = session.config.stash[REDACTION]
    try:
        yield
    except BaseException as error:  # a teardown run here, after Ctrl-C: outside any report
        redaction.redact_exception(error)
        raise
    finally:
        redaction.mask_junit_xml(session.config)


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(SESSION, None)
    if session is not None:
        session.close()
    redaction = config.stash.get(REDACTION, None)
    if redaction is not None:
        redaction.uninstall()
