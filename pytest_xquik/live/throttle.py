"""What the processes of one live run share about the service: rate limits and outages.

The service limits each account in fixed windows, with a bucket per kind of
call (create, list, revoke). Under pytest-xdist, every worker would meet its
own 429 in every window; instead, the processes of a run share one small
state file per bucket in the run's directory (next to the ledger):

- a call of a bucket is sent while holding an exclusive lock on the bucket's
  file, so that the processes send that kind of call one at a time;
- a 429 that says when to come back writes that time into the file before
  the lock is released, so every process waits until then before its next
  call of the bucket: the run meets at most one 429 per bucket and window;
- the processes that wait take turns, a few milliseconds apart and in the
  order they came, so that none starves when the window reopens.

A call that failed for good because the service cannot be reached
(connection refused, unknown host, TLS failure) writes the cause into the
``outage`` file: the run's later calls fail at once with it, without a
request, except one probe every :data:`PROBE_INTERVAL` seconds, whose success
clears the outage.

Locks are ``fcntl.flock`` locks, released by the system when a process dies.
On Windows (no ``flock``) the state is shared without locks: best effort.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, NamedTuple

from pytest_xquik.errors import XquikError

#: Seconds between two probes of a service found unreachable.
PROBE_INTERVAL = 5.0
#: Seconds between the turns of processes that waited for the same window.
STAGGER = 0.02


class Closed(Exception):
    """A bucket is closed for longer than the call may wait."""

    def __init__(self, bucket: str, seconds: float) -> None:
        super().__init__(bucket, seconds)
        self.bucket = bucket
        self.seconds = seconds


class Outage(NamedTuple):
    """The service found unreachable: why, how long ago, and whether this caller probes it."""

    cause: str
    seconds_ago: float
    probe: bool


class Turn:
    """A bucket held for one request; :meth:`close_until` records a 429's schedule."""

    def __init__(self, state: dict[str, Any], waited: float, clock: Callable[[], float]) -> None:
        self.state = state
        self.waited = waited
        self.changed = False
        self._clock = clock

    def close_for(self, seconds: float) -> None:
        """No process of the run sends a call of this bucket in the next ``seconds``."""
        moment = self._clock() + seconds
        self.state["closed_until"] = max(moment, float(self.state.get("closed_until", 0.0)))
        self.changed = True


class RunThrottle:
    """The rate-limit and outage state of one run, shared through ``directory``."""

    def __init__(
        self,
        directory: Path,
        *,
        clock: Callable[[], float] = time.time,
        probe_interval: float = PROBE_INTERVAL,
    ) -> None:
        self.directory = directory
        self._clock = clock
        self._probe_interval = probe_interval

    @contextlib.contextmanager
    def turn(self, bucket: str, budget: float, sleep: Callable[[float], None]) -> Iterator[Turn]:
        """Wait until ``bucket`` is open, then hold it while the caller sends one request.

        Raises :class:`Closed` when that would mean waiting for more than
        ``budget`` seconds in all.
        """
        waited = 0.0
        while True:
            with self._locked(bucket) as (file, state):
                now = self._clock()
                closed_until = float(state.get("closed_until", 0.0))
                if now >= closed_until:
                    turn = Turn(state, waited, self._clock)
                    yield turn
                    if turn.changed:
                        self._write(file, turn.state)
                    return
                # Take the next turn after the window reopens, in the order of arrival.
                slot = max(closed_until, float(state.get("next_turn", 0.0)))
                if slot - now > budget - waited:
                    raise Closed(bucket, closed_until - now)
                state["next_turn"] = slot + STAGGER
                self._write(file, state)
            sleep(slot - now)
            waited += slot - now

    def outage(self) -> Outage | None:
        """The service's outage, if one was found; ``None`` when the service is not known down.

        Of the callers during an outage, at most one per :data:`PROBE_INTERVAL`
        gets ``probe=True``: it sends one attempt; the others fail at once.
        """
        path = self._path("outage")
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_size == 0:
                return None  # the usual case: a stat, no lock
        with self._locked("outage") as (file, state):
            if "cause" not in state:
                return None
            now = self._clock()
            probe = now - float(state["tried"]) >= self._probe_interval
            if probe:
                state["tried"] = now  # this caller probes; the others fail at once meanwhile
                self._write(file, state)
            return Outage(str(state["cause"]), now - float(state["since"]), probe)

    def unreachable(self, cause: str) -> None:
        """Record that a call failed for good because the service cannot be reached."""
        with self._locked("outage") as (file, state):
            now = self._clock()
            self._write(file, {"cause": cause, "since": state.get("since", now), "tried": now})

    def reachable(self) -> None:
        """Record that the service answered: clear an outage."""
        path = self._path("outage")
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_size == 0:
                return
        with self._locked("outage") as (file, _state):
            self._write(file, {})

    def remove(self) -> None:
        """Delete the run's state (at the end of the run, by the process that started it)."""
        shutil.rmtree(self.directory, ignore_errors=True)

    def _path(self, name: str) -> Path:
        return self.directory / f"{name}.json"

    @contextlib.contextmanager
    def _locked(self, name: str) -> Iterator[tuple[IO[str], dict[str, Any]]]:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            file = self._path(name).open("a+", encoding="utf-8")
        except OSError as error:
            raise XquikError(
                f"pytest-xquik cannot write the run's shared state in {self.directory} "
                f"({error}); make the directory writable, or set pytest's cache_dir "
                "(-o cache_dir=...) to a writable place."
            ) from None
        with file:
            _lock(file)
            file.seek(0)
            try:
                state = json.loads(file.read() or "{}")
            except ValueError:
                state = {}  # cut short by a killed process: start afresh
            yield file, state if isinstance(state, dict) else {}

    @staticmethod
    def _write(file: IO[str], state: dict[str, Any]) -> None:
        file.seek(0)
        file.truncate()
        file.write(json.dumps(state) if state else "")
        file.flush()


def _lock(file: IO[str]) -> None:
    """Take an exclusive lock on ``file``, waiting for it; released when the file closes."""
    if sys.platform == "win32":
        return  # no flock: the state is shared without locks
    import fcntl

    fcntl.flock(file.fileno(), fcntl.LOCK_EX)
