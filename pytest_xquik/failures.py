"""pytest-xquik's errors in fixture setup and teardown, shown as their message.

Such an error (a key that could not be created or revoked) says all there is
to say; the frames pytest would show are the plugin's, or those of another
plugin that wraps fixture setup (pytest-asyncio's hook wrapper), or none at
all ("All traceback entries are hidden"). The report shows the message
instead, as ``pytest.fail(..., pytrace=False)`` does, under the usual header
that names the test and the phase (``ERROR at setup of test_x``); the
report is masked like any other.

The hook that does it wraps the making of every report, so it is registered
only once one of the plugin's fixtures is set up (:func:`show_errors_as_messages`):
a run that uses none pays nothing for it.
"""

from __future__ import annotations

from collections.abc import Generator

import pytest

from pytest_xquik.errors import XquikError

#: The ``--tb`` styles that show frames; the others (native, line, no) are left as asked.
_FRAME_STYLES = ("auto", "long", "short")


_PLUGIN_NAME = "xquik-errors-as-messages"


def show_errors_as_messages(config: pytest.Config) -> None:
    """Show the plugin's errors in this run's reports as their message, from now on (once)."""
    manager = config.pluginmanager
    if manager.get_plugin(_PLUGIN_NAME) is None and not manager.is_blocked(_PLUGIN_NAME):
        manager.register(ErrorsAsMessages(), _PLUGIN_NAME)


class ErrorsAsMessages:
    """The hook that makes a report show the plugin's error as its message."""

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        error = shown_as_message(item, call)
        report = yield
        if error is not None:
            show_message(report, error)
        return report


def shown_as_message(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> pytest.ExceptionInfo[BaseException] | None:
    """The error the report of ``call`` shows as its message, if it does: an XquikError in
    setup or teardown, with frames not asked for (``--full-trace``, ``--tb=native|line|no``).

    If so, the traceback pytest is about to format is cut to its last frame:
    pytest formats it before any hook can replace it, and parsing the source
    of every frame (pytest-asyncio's large module among them) is most of the
    cost of a failed setup.
    """
    excinfo = call.excinfo
    if call.when == "call" or excinfo is None or not isinstance(excinfo.value, XquikError):
        return None
    config = item.config
    if config.getoption("fulltrace", False):
        return None
    if config.getoption("tbstyle", "auto") not in _FRAME_STYLES:
        return None
    last = excinfo.tb
    while last.tb_next is not None:
        last = last.tb_next
    call.excinfo = pytest.ExceptionInfo.from_exc_info((excinfo.type, excinfo.value, last))
    return excinfo


def show_message(report: pytest.TestReport, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
    """Make ``report`` show the error of ``excinfo`` as its message, without frames.

    The value style reads no source; the whole traceback gives the short
    summary its crash line (the last frame not hidden).
    """
    # Unfiltered: a traceback whose every frame is hidden would print "All traceback
    # entries are hidden" even in the "value" style.
    report.longrepr = excinfo.getrepr(style="value", tbfilter=False, chain=False)
