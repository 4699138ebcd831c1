"""pytest-xquik's hooks, in the order pytest calls them; the fixtures live in ``fixtures``."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Generator
from typing import Any

import pytest

from pytest_xquik.aio import (
    _xquik_async_client_anyio,
    xquik_async_api_key_factory,
    xquik_async_client,
)
from pytest_xquik.fixtures import (
    SESSION,
    _xquik_fake,
    _xquik_reused_key,
    mock_the_admin_tests,
    xquik_admin,
    xquik_api_key,
    xquik_api_key_factory,
    xquik_client,
    xquik_mock,
    xquik_session,
)
from pytest_xquik.live.end_of_run import RUN_END, RunEnd
from pytest_xquik.markers import (
    FaultInjection,
    carrying,
    register_markers,
    skip_inapplicable,
    wrong_marker,
    xquik_options,
)
from pytest_xquik.masking.cassettes import CassetteMasking
from pytest_xquik.masking.process import PROCESS_REDACTION, ProcessRedaction
from pytest_xquik.masking.redaction import REDACTION, Redaction
from pytest_xquik.session import RUN_ID_INPUT, XquikSession
from pytest_xquik.settings import SOURCES, add_options, hide_userinfo

__all__ = [
    "_xquik_async_client_anyio",
    "_xquik_fake",
    "_xquik_reused_key",
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


def pytest_cmdline_main(config: pytest.Config) -> int | pytest.ExitCode | None:
    # An xdist worker (started for nothing, since the controller runs no test) does not sweep.
    if _sweeping(config) and not config.option.help and not hasattr(config, "workerinput"):
        # wrap_session is private, but it is how pytest's own --cache-show runs a command
        # in a configured session (hooks, terminal output, exit status) without tests.
        from _pytest.main import wrap_session

        return wrap_session(config, _sweep_command)
    return None


def _sweeping(config: pytest.Config) -> bool:
    return bool(config.option.xquik_sweep or config.option.xquik_sweep_dry_run)


def _sweep_command(config: pytest.Config, session: pytest.Session) -> pytest.ExitCode:
    if xquik_session(config).is_mock:
        raise pytest.UsageError(
            "pytest-xquik: --xquik-sweep revokes keys on the real service, and this run is in "
            "mock mode. Add --xquik-mode=live (or set XQUIK_MODE=live) with the management "
            "credential of the account."
        )
    dry_run = config.option.xquik_sweep_dry_run or config.option.collectonly
    return pytest.ExitCode.OK if _sweep(config, dry_run) else pytest.ExitCode.TESTS_FAILED


def _sweep(config: pytest.Config, dry_run: bool) -> bool:
    from pytest_xquik.live.sweeper import sweep_account

    reporter = config.pluginmanager.get_plugin("terminalreporter")
    write = reporter.write_line if reporter is not None else print
    return sweep_account(xquik_session(config), dry_run=dry_run, write=write)


def pytest_configure(config: pytest.Config) -> None:
    if config.option.help:  # --help works whatever the settings and credentials
        return
    config.stash[SESSION] = session = XquikSession.from_config(config)
    config.stash[REDACTION] = redaction = Redaction(session.masker)
    redaction.mask_trace(config)
    # pytest_warning_recorded and pytest_runtest_logreport get no config to
    # find the masker by, and pytest_sessionfinish is needed twice (a wrapper
    # here, a trylast check below): a plugin object of this session holds them.
    config.pluginmanager.register(_RedactionHooks(redaction, config), "xquik-redaction")
    config.stash[PROCESS_REDACTION] = ProcessRedaction(redaction, config)
    cassettes = CassetteMasking(session.masker)
    cassettes.install()
    config.add_cleanup(cassettes.uninstall)
    register_markers(config)
    if config.pluginmanager.has_plugin("xdist"):
        config.pluginmanager.register(_XdistHooks(session.namer.run_id), "xquik-xdist")
    if config.pluginmanager.has_plugin("asyncio"):
        config.pluginmanager.import_plugin("pytest_xquik.aio_asyncio")


class _XdistHooks:
    """Registered only with pytest-xdist, whose hook this is."""

    def __init__(self, run_id: str) -> None:
        self._run_id = run_id

    def pytest_configure_node(self, node: Any) -> None:
        # Every worker names its keys with this run's id (not --testrunuid, which runs share).
        node.workerinput[RUN_ID_INPUT] = self._run_id


class _RedactionHooks:
    def __init__(self, redaction: Redaction, config: pytest.Config) -> None:
        self._redaction = redaction
        self._config = config

    @pytest.hookimpl(tryfirst=True)
    def pytest_warning_recorded(self, warning_message: warnings.WarningMessage) -> None:
        self._redaction.redact_warning(warning_message)

    @pytest.hookimpl(tryfirst=True)  # before the terminal, report plugins or pytest-xdist see it
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._redaction.redact_report(report)

    @pytest.hookimpl(tryfirst=True)
    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        self._redaction.redact_report(report)

    @pytest.hookimpl(wrapper=True)
    def pytest_report_to_serializable(
        self,
    ) -> Generator[None, dict[str, Any] | None, dict[str, Any] | None]:
        data = yield
        # An xdist worker's serialized reports go to the controller, node ids intact.
        if data is None or hasattr(self._config, "workerinput"):
            return data
        return self._redaction.mask_serialized_report(data)

    @pytest.hookimpl(wrapper=True)
    def pytest_sessionfinish(self) -> Generator[None, None, None]:
        try:
            yield
        except BaseException as error:  # a teardown run here, after Ctrl-C: outside any report
            self._redaction.redact_exception(error)
            raise
        finally:
            self._redaction.mask_report_files(self._config)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    config.stash[REDACTION].install(config)
    config.stash[PROCESS_REDACTION].start()  # every handler and pytest's own hooks in place
    settings = xquik_session(config).settings
    if (
        settings.mode == "live"
        and settings.sweep_on_start
        and not hasattr(config, "workerinput")
        and not _sweeping(config)
    ):
        _sweep(config, dry_run=False)


def pytest_report_header(config: pytest.Config) -> str:
    session = xquik_session(config)
    settings = session.settings
    sources = config.stash[SOURCES]
    if session.is_mock:
        credential = "none (the mock's own)"
    elif session.ledger is None:  # live mode, only listing fixtures or markers
        credential = "none"
    else:
        credential = session.credential.describe()
    return (
        f"xquik: mode={settings.mode} ({sources['mode'].kind}), "
        f"base URL={hide_userinfo(settings.base_url)} ({sources['base_url'].kind}), "
        f"credential={credential}, key names={settings.key_name_prefix} {session.namer.run_id}-*"
    )


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    # Once per module or class, not per test: a wrong marker fails the collection of either.
    report = yield
    problem = wrong_marker(report.result) if report.passed else None
    if problem is None:
        return report
    return pytest.CollectReport(report.nodeid, "failed", problem, [], report.sections)


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    config.stash[REDACTION].learn_collected(session, items)
    xquik = xquik_session(config)
    marked = carrying(items, "xquik", "xquik_live")
    skip_inapplicable(marked, xquik)
    if "pytest_httpx" in sys.modules:  # only pytest-httpx's httpx_mock needs it
        from pytest_xquik.api.coexist import leave_base_url_to_xquik

        leave_base_url_to_xquik(items, xquik)
    if xquik.is_mock:
        mock_the_admin_tests(items)
    # Only a run with fault markers pays for a hook around every test's call.
    if xquik.is_mock and any(xquik_options(item).sets_up_faults for item in marked):
        config.pluginmanager.register(FaultInjection(xquik.fake), "xquik-faults")


def pytest_collection_finish(session: pytest.Session) -> None:
    config = session.config
    # --fixtures-per-test prints the collected tests (their ids) with a terminal
    # writer of its own on sys.stdout, once collection is done.
    if config.option.show_fixtures_per_test:
        config.stash[REDACTION].mask_standard_streams()


@pytest.hookimpl(tryfirst=True)
def pytest_assertrepr_compare(
    config: pytest.Config, op: str, left: Any, right: Any
) -> list[str] | None:
    return config.stash[REDACTION].explain(config, op, left, right)


#: The exit statuses after which pytest's terminal shows the plugins' summary sections.
_SUMMARY_SHOWN = (
    pytest.ExitCode.OK,
    pytest.ExitCode.TESTS_FAILED,
    pytest.ExitCode.INTERRUPTED,
    pytest.ExitCode.USAGE_ERROR,
    pytest.ExitCode.NO_TESTS_COLLECTED,
)


@pytest.hookimpl(wrapper=True, trylast=True)  # inside the terminal's, which shows the summary
def pytest_sessionfinish(
    session: pytest.Session, exitstatus: int | pytest.ExitCode
) -> Generator[None, None, None]:
    # The runner tears the remaining fixtures down in this hook: after Ctrl-C, pytest.exit
    # or -x, a session-scoped key is revoked here. Whatever that does, the check runs.
    config = session.config
    run_end = config.stash[RUN_END] = RunEnd()
    teardown_failed = False
    try:
        yield
    except BaseException as error:
        # The plugin's own is shown in the pytest-xquik section, not as a traceback;
        # another plugin's, or Ctrl-C again, is raised after the check below.
        teardown_failed = run_end.teardown_failed(error)
        if not teardown_failed:
            raise
    finally:
        controller = not hasattr(config, "workerinput")
        failing = run_end.check(xquik_session(config), controller=controller) or teardown_failed
        if failing and session.exitstatus in (
            pytest.ExitCode.OK,
            pytest.ExitCode.NO_TESTS_COLLECTED,
        ):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if exitstatus not in _SUMMARY_SHOWN and reporter is not None:
            pytest_terminal_summary(reporter, config)  # pytest.exit(returncode=...) shows none


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    run_end = config.stash.get(RUN_END, None)
    if run_end is not None:
        run_end.show(terminalreporter, xquik_session(config).settings.on_leak)


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(SESSION, None)
    if session is not None:
        session.close()
    redaction = config.stash.get(REDACTION, None)
    if redaction is not None:
        redaction.uninstall()
