"""The ledger: every key a live run creates, on disk before its test gets it.

One JSON-lines file per process (``<run id>-<xdist worker id or main>.jsonl``)
in ``<cache_dir>/xquik/`` (``.pytest_cache/xquik/`` by default: beside
pytest's own cache, outside the ``d/`` and ``v/`` that ``--cache-clear``
empties), appended to and flushed at each event, so that a killed process
loses nothing. (It is not fsynced: that would only guard against the machine
itself crashing, costs more than the rest of the ledger, and the sweep finds
such keys anyway, by their name and age.)

- ``run``: the first line: the run id, and the service (base URL and a
  fingerprint of the management credential) the keys belong to;
- ``creating``: a key is about to be created, with its unique name and test;
- ``created``: the service made it: id, prefix, name, test, the service's
  ``createdAt`` (never the secret);
- ``ambiguous``: a failed attempt of that create may have made a key of the
  name that the account's list did not show yet;
- ``not_created``: the create failed in a way that cannot have made a key
  (other than those recorded), with whether any attempt reached the service;
- ``revoked``: it was revoked (or the service no longer knew it).

A file survives a killed process, so that the end of the run (the xdist
controller, for its workers) and a later ``pytest --xquik-sweep`` know every
key that may still be active. A process holds an advisory lock on its file
while it runs (POSIX only), so that a sweep leaves a run in progress alone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import sys
import threading
import time
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

import pytest

from pytest_xquik.errors import XquikError

DIRECTORY_NAME = "xquik"


def ledger_directory(config: pytest.Config) -> Path:
    """Where the ledger files live: ``<cache_dir>/xquik``, out of ``--cache-clear``'s reach.

    ``cache_dir`` is pytest's ini option (default ``.pytest_cache``, relative
    to the rootdir); without the cache provider (``-p no:cacheprovider``),
    the default.
    """
    try:
        cache_dir = str(config.getini("cache_dir"))  # declared by the cache provider
    except ValueError:
        cache_dir = ".pytest_cache"
    # As pytest resolves cache_dir: variables and ~ expanded, relative to the rootdir.
    return config.rootpath / os.path.expanduser(os.path.expandvars(cache_dir)) / DIRECTORY_NAME


def credential_fingerprint(secret: str) -> str:
    """A short one-way fingerprint of the management credential: whose keys a ledger holds."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


@dataclasses.dataclass(frozen=True)
class Owner:
    """The service a ledger's keys belong to: its base URL and the credential's fingerprint."""

    base_url: str
    credential: str


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _try_lock(file: IO[str], exclusive: bool) -> bool:
    """Take an advisory lock on ``file`` without waiting; ``False`` if another holds it."""
    if sys.platform == "win32":
        return True  # no flock on Windows: see in_use()
    import fcntl

    operation = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    try:
        fcntl.flock(file.fileno(), operation | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


class Ledger:
    """This process's ledger file; created on the first key, locked while open."""

    def __init__(self, directory: Path, run_id: str, owner: Owner, worker: str | None = None):
        #: This run's bookkeeping directory (other run-wide state may live here too).
        self.directory = directory
        self.run_id = run_id
        self.owner = owner
        self.path = directory / f"{run_id}-{worker or 'main'}.jsonl"
        self._file: IO[str] | None = None
        self._lock = threading.Lock()  # async fixtures create keys from worker threads

    def creating(self, name: str, test: str) -> None:
        """Record that a key named ``name`` is about to be created for ``test``."""
        self._write({"event": "creating", "name": name, "test": test, "at": _now()})

    def created(self, key_id: str, prefix: str, name: str, test: str, created_at: datetime) -> None:
        """Record that key ``key_id`` exists (its secret is never written)."""
        self._write(
            {
                "event": "created",
                "id": key_id,
                "prefix": prefix,
                "name": name,
                "test": test,
                "createdAt": created_at.isoformat(),
                "at": _now(),
            }
        )

    def ambiguous(self, name: str) -> None:
        """Record that a key named ``name`` may exist that the list did not show."""
        self._write({"event": "ambiguous", "name": name, "at": _now()})

    def not_created(self, name: str, *, reached: bool) -> None:
        """Record that the create of ``name`` failed without making a key."""
        self._write({"event": "not_created", "name": name, "reached": reached, "at": _now()})

    def revoked(self, key_id: str) -> None:
        """Record that key ``key_id`` is revoked."""
        self._write({"event": "revoked", "id": key_id, "at": _now()})

    def run_files(self) -> list[Path]:
        """The ledger files of this run: this process's and, under xdist, every worker's."""
        return sorted(self.directory.glob(f"{self.run_id}-*.jsonl"))

    def close(self) -> None:
        """Close (and unlock) the file."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def _write(self, record: dict[str, Any]) -> None:
        try:
            with self._lock:
                self._append(record)
        except OSError as error:
            raise XquikError(
                f"pytest-xquik cannot write its ledger {self.path} ({error}). Live mode "
                "records every key there before a test gets it, so that none can be lost; "
                "make the directory writable, or set pytest's cache_dir (-o cache_dir=...) "
                "to a writable place."
            ) from None

    def _append(self, record: dict[str, Any]) -> None:
        if self._file is None:
            if not self.directory.is_dir():
                self.directory.mkdir(parents=True, exist_ok=True)
                # Like pytest's cache: never committed by mistake.
                self.directory.joinpath(".gitignore").write_text("*\n", encoding="utf-8")
            self._file = self.path.open("a", encoding="utf-8")
            _try_lock(self._file, exclusive=True)
            header = {"event": "run", "run": self.run_id, **dataclasses.asdict(self.owner)}
            self._file.write(json.dumps(header) + "\n")
        self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._file.flush()


@dataclasses.dataclass
class LedgerEntry:
    """What the ledger knows about one key, or one create that got no key id.

    ``id`` is ``None`` for a create without an answer; ``open`` is set when a
    key of the name may exist that the ledger has no id for; ``not_created``
    when the create is known to have made no such key (``reached``: whether
    it reached the service at all).
    """

    name: str
    test: str
    id: str | None = None
    prefix: str | None = None
    revoked: bool = False
    open: bool = False
    not_created: bool = False
    reached: bool = True
    since: datetime | None = None  # when its create was about to be sent (this machine's clock)


def in_use(path: Path, *, written_within: float) -> bool:
    """Whether a running process still holds ``path`` (its run is in progress).

    Without file locks (Windows), a file written to in the last
    ``written_within`` seconds counts as in use.
    """
    try:
        if sys.platform == "win32":
            return time.time() - path.stat().st_mtime < written_within
        with path.open(encoding="utf-8") as file:
            return not _try_lock(file, exclusive=False)
    except FileNotFoundError:
        return False


def run_id_of(path: Path) -> str:
    """The run id of a ledger file, from its name ``<run id>-<worker>.jsonl``."""
    return path.name.split("-", 1)[0]


def owner_of(path: Path) -> Owner | None:
    """The service a ledger file belongs to (``None`` if it does not say)."""
    for record in _records([path]):
        if record.get("event") == "run":
            with contextlib.suppress(KeyError):
                return Owner(str(record["base_url"]), str(record["credential"]))
        break
    return None


def read_entries(paths: Iterable[Path]) -> list[LedgerEntry]:
    """Every key the files record, and every create that may have made one.

    A name whose create never got an answer is an open entry without an id:
    the key may exist under that name. A line cut short by a killed process
    is skipped.
    """
    pending: dict[str, tuple[str, datetime | None]] = {}
    created: dict[str, LedgerEntry] = {}
    revoked: set[str] = set()
    ambiguous: set[str] = set()
    not_created: dict[str, bool] = {}
    for record in _records(paths):
        try:
            event = record["event"]
            if event == "creating":
                pending.setdefault(str(record["name"]), (str(record["test"]), _at(record)))
            elif event == "created":
                key_id = str(record["id"])
                name, test, prefix = str(record["name"]), str(record["test"]), str(record["prefix"])
                created[key_id] = LedgerEntry(name, test, key_id, prefix)
            elif event == "ambiguous":
                ambiguous.add(str(record["name"]))
            elif event == "not_created":
                not_created[str(record["name"])] = bool(record.get("reached", True))
            elif event == "revoked":
                revoked.add(str(record["id"]))
        except (KeyError, TypeError):
            continue
    for key_id in revoked & created.keys():
        created[key_id].revoked = True
    answered = {entry.name for entry in created.values()}
    for entry in created.values():
        entry.open = entry.name in ambiguous
        entry.since = pending.get(entry.name, ("", None))[1]
    unanswered = [
        LedgerEntry(
            name,
            test,
            open=name not in not_created,
            not_created=name in not_created,
            reached=not_created.get(name, True),
            since=since,
        )
        for name, (test, since) in pending.items()
        if name not in answered
    ]
    return [*created.values(), *unanswered]


def _at(record: dict[str, Any]) -> datetime | None:
    try:
        return datetime.fromisoformat(str(record["at"]))
    except (KeyError, ValueError):
        return None


def _records(paths: Iterable[Path]) -> Iterable[dict[str, Any]]:
    for path in paths:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            continue
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                yield record


def remove(paths: Iterable[Path]) -> None:
    """Delete ledger files whose keys are all revoked."""
    for path in paths:
        with contextlib.suppress(FileNotFoundError, PermissionError):  # open on Windows
            path.unlink()
