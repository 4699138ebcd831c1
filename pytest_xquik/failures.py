"""pytest-xquik's errors in fixture setup and teardown, shown as their message.

Such an error (a key that could not be created or revoked) says all there is
to say; the frames pytest would show are the plugin's, or those of another
plugin that wraps fixture setup (pytest-asyncio's hook wrapper), or none at
all ("All traceback entries are hidden"). The report shows the message
instead, as ``pytest.fail(..., pytrace=False)`` does, under the usual header
that names the test and the phase (``ERROR at setup of test_x``); the
report is masked like any other.
"""

from __future__ import annotations

import pytest

from pytest_xquik.errors import XquikError

#: The ``--tb`` styles that show frames; the others (native, line, no) are left as asked.
_FRAME_STYLES = ("auto", "long", "short")


def show_as_message(
    item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport
) -> None:
    """Show an :class:`XquikError` raised in setup or teardown as its message, without frames."""
    excinfo = call.excinfo
    if call.when == "call" or excinfo is None or not isinstance(excinfo.value, XquikError):
        return
    config = item.config
    if config.getoption("fulltrace", False) or config.getoption("tbstyle", "auto") not in (
        _FRAME_STYLES
    ):
        return
    # Unfiltered: a traceback whose every frame is hidden would print "All traceback
    # entries are hidden" even in the "value" style.
    report.longrepr = excinfo.getrepr(style="value", tbfilter=False, chain=False)
