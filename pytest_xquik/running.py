"""Which test runs now, as pytest itself publishes it (no hook around every test)."""

from __future__ import annotations

import os


def running_test() -> str | None:
    """The node id of the test running now (in its setup, call or teardown), if any.

    pytest sets ``PYTEST_CURRENT_TEST`` to ``"<node id> (<phase>)"`` around
    each phase of each test, in every process (xdist workers too).
    """
    current = os.environ.get("PYTEST_CURRENT_TEST")
    if not current:
        return None
    nodeid, _, phase = current.rpartition(" (")
    return nodeid if nodeid and phase in ("setup)", "call)", "teardown)") else current
