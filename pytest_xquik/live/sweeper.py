"""Revoking what is left: the end-of-run check and ``pytest --xquik-sweep``.

Both read the ledger, make one list call and revoke every active key that
should not be. The end-of-run check covers the keys of this run (all xdist
workers, including one that died before its teardown); the sweep covers the
keys earlier runs left: those in the ledger, and the account's keys named
with the prefix that are older than ``--xquik-sweep-older-than``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path

from pytest_xquik.api.admin import XquikAdmin
from pytest_xquik.errors import XquikError
from pytest_xquik.keys import ApiKeyInfo, describe_key
from pytest_xquik.live.ledger import Ledger, LedgerEntry, in_use, read_entries, remove
from pytest_xquik.naming import KeyNamer
from pytest_xquik.session import XquikSession

Write = Callable[[str], None]
SWEEP_COMMAND = "pytest --xquik-mode=live --xquik-sweep"


def _matches(entries: Iterable[LedgerEntry], listed: Iterable[ApiKeyInfo]) -> list[ApiKeyInfo]:
    """The listed keys the ledger entries stand for, by id or (for an unanswered create) name.

    A create retried after an ambiguous failure reuses the name, so every
    key of that name counts.
    """
    ids = {entry.id for entry in entries if entry.id}
    names = {entry.name for entry in entries}
    return [key for key in listed if key.id in ids or key.name in names]


@dataclasses.dataclass
class Leak:
    """A key of this run still active at its end."""

    key_id: str
    prefix: str
    name: str
    test: str
    reason: str

    def describe(self) -> str:
        """The key and why it leaked, as the summary shows it (never the secret)."""
        key = describe_key(self.key_id, self.prefix, self.name)
        return f"{key} test={self.test}: {self.reason}"


@dataclasses.dataclass
class RunSummary:
    """What became of the keys of one live run."""

    run_id: str
    created: int
    revoked: int
    revoked_at_end: int
    leaks: list[Leak]
    ledger_directory: Path
    check_error: str = ""

    def lines(self, on_leak: str) -> list[str]:
        """The terminal-summary section."""
        at_end = f" ({self.revoked_at_end} at the end of the run)" if self.revoked_at_end else ""
        lines = [
            f"run {self.run_id}: {self.created} key(s) created, {self.revoked} revoked{at_end}, "
            f"{len(self.leaks)} leaked"
        ]
        if self.check_error:
            lines.append(
                f"The end-of-run check could not list the account's keys ({self.check_error}); "
                f"run `{SWEEP_COMMAND}` to revoke any key of this run still active."
            )
        if self.leaks:
            lines += [f"LEAKED {leak.describe()}" for leak in self.leaks]
            lines.append(
                f"These keys are still active on the account. Revoke them with `{SWEEP_COMMAND}` "
                f"(the ledger in {self.ledger_directory} keeps them), or in the Xquik dashboard."
            )
            if on_leak == "warn":
                lines.append("xquik_on_leak = warn: they do not change the exit status.")
        return lines


def check_run(admin: XquikAdmin, ledger: Ledger) -> RunSummary | None:
    """At the end of a run: make sure no key of it is still active (revoke those that are).

    ``None`` when the run created no key. The ledger files of the run are
    deleted when nothing leaked, and kept for the sweep otherwise.
    """
    files = ledger.run_files()
    entries = read_entries(files)
    if not entries:
        remove(files)
        return None
    try:
        listed = admin.list()
    except XquikError as error:
        # Unchecked: the ledger files stay for the sweep; what they do not show revoked leaked.
        unchecked = [
            Leak(entry.id or "?", entry.prefix or "?", entry.name, entry.test, "not revoked")
            for entry in entries
            if not entry.revoked
        ]
        created = sum(entry.id is not None for entry in entries)
        revoked = sum(entry.revoked for entry in entries)
        return RunSummary(
            ledger.run_id, created, revoked, 0, unchecked, ledger.directory, str(error)
        )
    found = _matches(entries, listed)
    tests = {entry.name: entry.test for entry in entries}
    ids = {entry.id for entry in entries if entry.id} | {key.id for key in found}
    revoked_at_end = 0
    leaks: list[Leak] = []
    for key in found:
        if not key.is_active:
            continue
        try:
            admin.revoke(key.id)
        except XquikError as error:
            leaks.append(Leak(key.id, key.prefix, key.name, tests.get(key.name, "?"), str(error)))
        else:
            revoked_at_end += 1
    if not leaks:
        ledger.close()
        remove(ledger.run_files())  # with this process's, which may be new
    created = len(ids)
    return RunSummary(
        ledger.run_id, created, created - len(leaks), revoked_at_end, leaks, ledger.directory
    )


def _age(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"


def sweep(
    admin: XquikAdmin,
    namer: KeyNamer,
    directory: Path,
    older_than: float,
    *,
    dry_run: bool,
    write: Write,
) -> bool:
    """Revoke (or, in a dry run, list) what earlier runs left; ``False`` if a revoke failed.

    Swept: the active keys named with the prefix that the ledger of a
    finished run records, and those older than ``older_than`` seconds (0:
    any). A key whose name does not start with the prefix and a space is
    never touched. Ledger files of finished runs are deleted after a
    sweep that revoked all their keys.
    """
    files = [path for path in sorted(directory.glob("*.jsonl")) if not in_use(path)]
    listed = admin.list()
    in_ledger = {key.id for key in _matches(read_entries(files), listed)}
    now = datetime.now(timezone.utc)
    targets = [
        key
        for key in listed
        if key.is_active
        and namer.owns(key.name)
        and (key.id in in_ledger or (now - key.created_at).total_seconds() >= older_than)
    ]
    verb = "would revoke" if dry_run else "revoked"
    failed = 0
    for key in targets:
        age = _age((now - key.created_at).total_seconds())
        described = f"{describe_key(key.id, key.prefix, key.name)} age={age}"
        if not dry_run:
            try:
                admin.revoke(key.id)
            except XquikError as error:
                failed += 1
                write(f"could not revoke {described}: {error}")
                continue
        write(f"{verb} {described}")
    done = len(targets) - failed
    write(f"pytest-xquik sweep: {verb} {done} key(s)" + (f", {failed} failed" if failed else ""))
    if not dry_run and not failed:
        remove(files)
    return not failed


def sweep_account(session: XquikSession, *, dry_run: bool, write: Write) -> bool:
    """:func:`sweep` with the session's client, ledger and settings; ``False`` if it failed."""
    assert session.ledger is not None, "the sweep exists in live mode only"
    try:
        return sweep(
            session.admin,
            session.namer,
            session.ledger.directory,
            session.settings.sweep_older_than,
            dry_run=dry_run,
            write=write,
        )
    except XquikError as error:
        write(f"pytest-xquik sweep failed: {error}")
        return False
