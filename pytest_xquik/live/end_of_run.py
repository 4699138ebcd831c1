"""The end of a live run: its check, its errors, and the ``pytest-xquik`` summary section.

:class:`RunEnd` is what the plugin's ``pytest_sessionfinish`` and
``pytest_terminal_summary`` hooks ask of it. The check runs however the
session ends (Ctrl-C, ``pytest.exit``, a failing session-scoped revoke), and
a pytest-xquik error at that point is one line of the section, never a
traceback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pytest_xquik.errors import XquikError

if TYPE_CHECKING:
    from pytest_xquik.live.sweeper import RunSummary
    from pytest_xquik.session import XquikSession


def plugin_errors(error: BaseException) -> list[XquikError] | None:
    """``error``'s pytest-xquik errors if it is made of them only (pytest groups several)."""
    if isinstance(error, XquikError):
        return [error]
    inner = getattr(error, "exceptions", None)  # a BaseExceptionGroup (a backport on 3.10)
    if not isinstance(inner, (list, tuple)) or not inner:
        return None
    found = [plugin_errors(each) for each in inner]
    return None if None in found else [each for errors in found if errors for each in errors]


class RunEnd:
    """The end of one run: what the check found, and the plugin's errors at the end."""

    def __init__(self) -> None:
        self.summary: RunSummary | None = None
        self.errors: list[str] = []

    def teardown_failed(self, error: BaseException) -> bool:
        """Keep ``error`` for the section if it is the plugin's own; whether it was."""
        errors = plugin_errors(error)
        if errors is None:
            return False
        self.errors += [f"The session's teardown failed: {each}" for each in errors]
        return True

    def check(self, xquik: XquikSession, *, controller: bool) -> bool:
        """Check a live run's keys at its end (in the xdist controller); whether that fails it."""
        if xquik.ledger is None or not controller:
            return False  # mock mode, or an xdist worker: the controller checks the whole run
        from pytest_xquik.live.sweeper import check_run

        try:
            summary = check_run(xquik.admin, xquik.ledger)
        except (XquikError, OSError) as error:  # the ledger could not be read or cleaned up
            self.errors.append(f"The end-of-run check failed: {error}")
            return True
        if summary is None:
            return False
        self.summary = summary
        return xquik.settings.on_leak == "fail" and summary.failing

    def show(self, terminalreporter: pytest.TerminalReporter, on_leak: str) -> None:
        """Write the ``pytest-xquik`` section, if there is anything to say."""
        if self.summary is None and not self.errors:
            return
        terminalreporter.write_sep("=", "pytest-xquik")
        for line in self.errors:
            terminalreporter.write_line(line)
        if self.summary is not None:
            for line in self.summary.lines(on_leak):
                terminalreporter.write_line(line)


RUN_END = pytest.StashKey[RunEnd]()
