"""Unique, greppable names for the keys the plugin creates."""

from __future__ import annotations

import itertools
import os

_LABEL_LENGTH = 40
_TEST_LENGTH = 80


#: Random hex digits of a run id: 48 bits, so that no two runs on an account share one.
RUN_ID_LENGTH = 12


def new_run_id() -> str:
    """A random id shared by every key of one run (and its xdist workers), new for each run."""
    return os.urandom(RUN_ID_LENGTH // 2).hex()


def _shorten(text: str, limit: int) -> str:
    """Keep the end of ``text`` (the most specific part of a test id) within ``limit``."""
    return text if len(text) <= limit else "…" + text[-(limit - 1) :]


class KeyNamer:
    """Names keys ``<prefix> <run>-[<worker>-]<n> [<name> ]<test>``.

    Every name starts with the prefix and a space, so that a person (or the
    sweeper) can find every key of the plugin in the account's key list, and
    tell from the rest which run and which test created it.
    """

    def __init__(self, prefix: str, run_id: str, worker: str | None = None) -> None:
        self.prefix = prefix
        self.run_id = run_id
        self._serial = f"{run_id}-{worker}-" if worker else f"{run_id}-"
        self._counter = itertools.count(1)

    def name(self, label: str | None = None, *, test: str) -> str:
        """The next unique name, for ``test`` (a node id, or ``(session)``), with ``label``."""
        parts = [self.prefix, f"{self._serial}{next(self._counter)}"]
        if label:
            parts.append(_shorten(" ".join(label.split()), _LABEL_LENGTH))
        parts.append(_shorten(test, _TEST_LENGTH))
        return " ".join(parts)

    def owns(self, name: str) -> bool:
        """Whether ``name`` is the name of a key this plugin created (in any run)."""
        return name.startswith(self.prefix + " ")

    def run_id_of(self, name: str) -> str | None:
        """The run id in the name of a key of the plugin (``None`` for another key)."""
        if not self.owns(name):
            return None
        return name[len(self.prefix) + 1 :].split("-", 1)[0]
