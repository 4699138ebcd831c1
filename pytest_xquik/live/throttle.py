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

Each process opens each file once; locks are ``fcntl.flock`` locks (and a
thread lock, for the worker threads of async fixtures), released by the
system when a process dies.
On Windows (no ``flock``) the state is shared without locks: best effort.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

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
    """A bucket held for one request; :meth:`close_for` records a 429's schedule."""

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
        self._files: dict[str, int] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    @contextlib.contextmanager
    def turn(self, bucket: str, budget: float, sleep: Callable[[float], None]) -> Iterator[Turn]:
        """Wait until ``bucket`` is open, then hold it while the caller sends one request.

        Raises :class:`Closed` when that would mean waiting for more than
        ``budget`` seconds in all.
        """
        waited = 0.0
        while True:
            with self._locked(bucket) as (fd, state):
                now = self._clock()
                closed_until = float(state.get("closed_until", 0.0))
                if now >= closed_until:
                    turn = Turn(state, waited, self._clock)
                    yield turn
                    if turn.changed:
                        _write(fd, turn.state)
                    return
                # Take the next turn after the window reopens, in the order of arrival.
                slot = max(closed_until, float(state.get("next_turn", 0.0)))
                if slot - now > budget - waited:
                    raise Closed(bucket, closed_until - now)
                state["next_turn"] = slot + STAGGER
                _write(fd, state)
            sleep(slot - now)
            waited += slot - now

    def outage(self) -> Outage | None:
        """The service's outage, if one was found; ``None`` when the service is not known down.

        Of the callers during an outage, at most one per :data:`PROBE_INTERVAL`
        gets ``probe=True``: it sends one attempt; the others fail at once.
        """
        if os.fstat(self._file("outage")).st_size == 0:
            return None  # the usual case: no lock, no read
        with self._locked("outage") as (fd, state):
            if "cause" not in state:
                return None
            now = self._clock()
            probe = now - float(state["tried"]) >= self._probe_interval
            if probe:
                state["tried"] = now  # this caller probes; the others fail at once meanwhile
                _write(fd, state)
            return Outage(str(state["cause"]), now - float(state["since"]), probe)

    def unreachable(self, cause: str) -> None:
        """Record that a call failed for good because the service cannot be reached."""
        with self._locked("outage") as (fd, state):
            now = self._clock()
            _write(fd, {"cause": cause, "since": state.get("since", now), "tried": now})

    def reachable(self) -> None:
        """Record that the service answered: clear an outage."""
        if os.fstat(self._file("outage")).st_size == 0:
            return
        with self._locked("outage") as (fd, _state):
            _write(fd, {})

    def close(self) -> None:
        """Close this process's files of the run's state."""
        with self._guard:
            for fd in self._files.values():
                os.close(fd)
            self._files.clear()

    def remove(self) -> None:
        """Delete the run's state (at the end of the run, by the process that started it)."""
        self.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    def _file(self, name: str) -> int:
        """This process's descriptor of the state file ``name``, opened once."""
        with self._guard:
            fd = self._files.get(name)
            if fd is None:
                try:
                    self.directory.mkdir(parents=True, exist_ok=True)
                    fd = os.open(self.directory / f"{name}.json", os.O_RDWR | os.O_CREAT, 0o600)
                except OSError as error:
                    raise XquikError(
                        f"pytest-xquik cannot write the run's shared state in {self.directory} "
                        f"({error}); make the directory writable, or set pytest's cache_dir "
                        "(-o cache_dir=...) to a writable place."
                    ) from None
                self._files[name] = fd
                self._locks[name] = threading.Lock()
            return fd

    @contextlib.contextmanager
    def _locked(self, name: str) -> Iterator[tuple[int, dict[str, Any]]]:
        """Hold ``name`` against the other threads of this process and the other processes."""
        fd = self._file(name)
        with self._locks[name]:
            _lock(fd, exclusive=True)
            try:
                data = os.pread(fd, 1 << 16, 0)
                try:
                    state = json.loads(data) if data else {}
                except ValueError:
                    state = {}  # cut short by a killed process: start afresh
                yield fd, state if isinstance(state, dict) else {}
            finally:
                _lock(fd, exclusive=False)


def _write(fd: int, state: dict[str, Any]) -> None:
    os.ftruncate(fd, 0)
    if state:
        os.pwrite(fd, json.dumps(state).encode(), 0)


def _lock(fd: int, *, exclusive: bool) -> None:
    """Take (and wait for) or release the lock on ``fd`` across processes."""
    if sys.platform == "win32":
        return  # no flock: the state is shared without locks
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_UN)
