"""Revoking what is left: the end-of-run check and ``pytest --xquik-sweep``.

Both read the ledger, make one list call and settle every key the ledger
records: a listed active key is revoked; a key the list does not show (it
holds only the newest :data:`LIST_LIMIT` keys) and the ledger does not show
revoked is revoked by its id, never assumed gone. The end-of-run check covers
the keys of this run (all xdist workers, including one that died before its
teardown); the sweep covers the keys earlier runs of the same service left:
those in their ledgers, and the account's keys named with the prefix that
have not been created or used for ``--xquik-sweep-older-than``. Keys of a run
in progress on this machine are never swept.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

from pytest_xquik.api.admin import XquikAdmin
from pytest_xquik.errors import XquikError
from pytest_xquik.keys import ApiKeyInfo, describe_key
from pytest_xquik.live.ledger import (
    Ledger,
    LedgerEntry,
    in_use,
    owner_of,
    read_entries,
    remove,
    run_id_of,
)
from pytest_xquik.naming import KeyNamer
from pytest_xquik.session import XquikSession

Write = Callable[[str], None]
SWEEP_COMMAND = "pytest --xquik-mode=live --xquik-sweep"
#: The most keys ``GET /api-keys`` returns (the newest, revoked ones included); no pagination.
LIST_LIMIT = 200


@dataclasses.dataclass
class Leak:
    """A key of this run that is, or may be, still active at its end."""

    key_id: str
    prefix: str
    name: str
    test: str
    reason: str

    def describe(self) -> str:
        """The key and why it is left, as the summary shows it (never the secret)."""
        key = describe_key(self.key_id, self.prefix, self.name)
        return f"{key} test={self.test}: {self.reason}"


@dataclasses.dataclass
class Settlement:
    """What became of the keys some ledger entries stand for.

    Every key (by id) is in exactly one of ``revoked`` (before: by the
    ledger's revoke or the list), ``revoked_now`` (revoked here; ``gone``
    of them were unknown to the service already), ``leaked`` (listed active,
    and its revoke failed) and ``unverified`` (it may be active: not listed
    and its revoke failed, or a create without an answer whose name the list
    cannot rule out). ``not_created`` counts creates that made no key.
    """

    revoked: int = 0
    revoked_now: int = 0
    gone: int = 0
    leaked: list[Leak] = dataclasses.field(default_factory=list)
    unverified: list[Leak] = dataclasses.field(default_factory=list)
    not_created: int = 0
    not_reached: int = 0

    @property
    def created(self) -> int:
        """Every key made (or, unverified, maybe made)."""
        return self.revoked + self.revoked_now + len(self.leaked) + len(self.unverified)

    @property
    def settled(self) -> bool:
        """Whether every key is proven revoked."""
        return not self.leaked and not self.unverified


def settle(
    admin: XquikAdmin,
    entries: Sequence[LedgerEntry],
    listed: Sequence[ApiKeyInfo] | None,
    *,
    dry_run: bool = False,
    write: Write | None = None,
    describe: Callable[[str, str, str], str] = describe_key,
) -> Settlement:
    """Revoke every key ``entries`` stand for that may still be active.

    ``listed`` is the account's list (``None`` when it could not be had).
    Keys are found by the ledger's ids and by name: a create retried after
    an ambiguous failure reuses its name, so every key of that name counts
    (names are unique to their run). ``write`` reports each key revoked (or,
    in a dry run, that would be), naming it with ``describe(id, prefix, name)``.
    """
    outcome = Settlement()
    tests = {entry.name: entry.test for entry in entries}
    names = set(tests)
    known = {entry.id: entry for entry in entries if entry.id}
    listed_by_id = {key.id: key for key in listed or () if key.id in known or key.name in names}
    complete = listed is not None and len(listed) < LIST_LIMIT

    def revoke(key_id: str, prefix: str, name: str, *, in_list: bool) -> None:
        described = describe(key_id, prefix, name)
        if dry_run:
            outcome.revoked_now += 1
            if write:
                write(f"would revoke {described}" + ("" if in_list else " (not in the list)"))
            return
        try:
            existed = admin.revoke(key_id)
        except XquikError as error:
            leak = Leak(key_id, prefix, name, tests.get(name, "?"), str(error))
            if in_list:
                outcome.leaked.append(leak)
            else:
                where = "not in the account's list" if listed is not None else "not listed"
                leak.reason = f"{where}, and revoking it by id failed: {error}"
                outcome.unverified.append(leak)
            if write:
                write(f"could not revoke {described}: {error}")
            return
        outcome.revoked_now += 1
        outcome.gone += not existed
        if write:
            write(f"revoked {described}" + ("" if existed else " (the service no longer knew it)"))

    for key_id in known.keys() | listed_by_id.keys():
        entry, key = known.get(key_id), listed_by_id.get(key_id)
        if key is not None:
            if key.is_active:
                revoke(key.id, key.prefix, key.name, in_list=True)
            else:
                outcome.revoked += 1
        elif entry is not None and entry.revoked:
            outcome.revoked += 1
        elif entry is not None:  # absent from the list is not revoked: ask by id
            revoke(key_id, entry.prefix or "?", entry.name, in_list=False)
    found = {key.name for key in listed_by_id.values()}
    for entry in entries:
        if entry.not_created:
            outcome.not_created += 1
            outcome.not_reached += not entry.reached
        elif entry.open and entry.name not in found:
            if complete or _within_the_list(entry, listed):
                outcome.not_created += entry.id is None  # the list rules the name out
                continue
            what = "its create got no answer"
            if entry.id is not None:
                what = "a failed attempt of its create may have made another key of the name"
            why = f"the account's list shows only its {LIST_LIMIT} newest keys"
            if listed is None:
                why = "the account's list could not be had"
            outcome.unverified.append(Leak("?", "?", entry.name, entry.test, f"{what}, and {why}"))
    return outcome


#: How far this machine's clock and the service's may differ, as far as the list is concerned.
CLOCK_SKEW = timedelta(minutes=15)


def _within_the_list(entry: LedgerEntry, listed: Sequence[ApiKeyInfo] | None) -> bool:
    """Whether a key made by the entry's create would be among the (newest) keys listed."""
    if not listed or entry.since is None:
        return False
    return min(key.created_at for key in listed) < entry.since - CLOCK_SKEW


@dataclasses.dataclass
class RunSummary:
    """What became of the keys of one live run."""

    run_id: str
    settlement: Settlement
    ledger_directory: Path
    check_error: str = ""

    @property
    def failing(self) -> bool:
        """Whether a key is, or may be, still active."""
        return not self.settlement.settled

    def lines(self, on_leak: str) -> list[str]:
        """The terminal-summary section."""
        done = self.settlement
        revoked = done.revoked + done.revoked_now
        gone = f", {done.gone} of them already gone" if done.gone else ""
        at_end = f" ({done.revoked_now} at the end of the run{gone})" if done.revoked_now else ""
        line = (
            f"run {self.run_id}: {done.created} key(s) created, {revoked} revoked{at_end}, "
            f"{len(done.leaked)} leaked"
        )
        if done.unverified:
            line += f", {len(done.unverified)} unverified"
        if done.not_created:
            line += f"; {done.not_created} create(s) failed without making a key"
            if done.not_reached == done.not_created:
                line += " (the service was not reached)"
        lines = [line]
        if self.check_error:
            lines.append(
                f"The end-of-run check could not list the account's keys ({self.check_error}); "
                f"run `{SWEEP_COMMAND}` to revoke any key of this run still active."
            )
        where = f"the ledger in {self.ledger_directory} keeps them"
        if done.leaked:
            lines += [f"LEAKED {leak.describe()}" for leak in done.leaked]
            lines.append(
                f"These keys are still active on the account. Revoke them with `{SWEEP_COMMAND}` "
                f"({where}), or in the Xquik dashboard."
            )
        if done.unverified:
            lines += [f"UNVERIFIED {leak.describe()}" for leak in done.unverified]
            lines.append(
                f"These keys may still be active on the account: the check could not prove them "
                f"revoked. Run `{SWEEP_COMMAND}` ({where}) to revoke any that is."
            )
        if self.failing and on_leak == "warn":
            lines.append("xquik_on_leak = warn: they do not change the exit status.")
        return lines


def check_run(admin: XquikAdmin, ledger: Ledger) -> RunSummary | None:
    """At the end of a run: make sure no key of it is still active (revoke those that are).

    ``None`` when the run tried to create no key. The ledger files of the run
    are deleted when every key is proven revoked, and kept for the sweep
    otherwise.
    """
    files = ledger.run_files()
    entries = read_entries(files)
    if not entries:
        remove(files)
        return None
    listed: list[ApiKeyInfo] | None = None
    check_error = ""
    if any(entry.id or entry.open for entry in entries):  # else no key can exist
        try:
            listed = admin.list()
        except XquikError as error:
            check_error = str(error)
    settlement = settle(admin, entries, listed)
    if settlement.settled and not check_error:
        ledger.close()
        remove(ledger.run_files())  # with this process's, which may be new
    return RunSummary(ledger.run_id, settlement, ledger.directory, check_error)


def _age(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"


def _idle_since(key: ApiKeyInfo) -> datetime:
    """When the key was last created or used, as far as the service says."""
    return max(key.created_at, key.last_used_at or key.created_at)


def sweep(
    admin: XquikAdmin,
    namer: KeyNamer,
    ledger: Ledger,
    older_than: float,
    *,
    dry_run: bool,
    write: Write,
) -> bool:
    """Revoke (or, in a dry run, list) what earlier runs left; ``False`` if one may be left.

    Swept: the keys the ledgers of finished runs of the same service (base
    URL and credential) record, and the active keys named with the prefix
    that were neither created nor used in the last ``older_than`` seconds
    (0: any). Never swept: a key whose name does not start with the prefix
    and a space, and a key of a run in progress on this machine. Ledger files
    are deleted after a sweep that proved all their keys revoked.
    """
    files, running = [], set()
    for path in sorted(ledger.directory.glob("*.jsonl")):
        if in_use(path, written_within=older_than):
            running.add(run_id_of(path))
        elif owner_of(path) == ledger.owner:
            files.append(path)
    listed = admin.list()
    now = datetime.now(timezone.utc)
    aged = [
        key
        for key in listed
        if key.is_active
        and namer.owns(key.name)
        and namer.run_id_of(key.name) not in running
        and (now - _idle_since(key)).total_seconds() >= older_than
    ]
    entries = [entry for entry in read_entries(files) if namer.run_id_of(entry.name) not in running]
    entries += [LedgerEntry(key.name, "?", key.id, key.prefix) for key in aged]

    ages = {key.id: _age((now - key.created_at).total_seconds()) for key in listed}

    def describe(key_id: str, prefix: str, name: str) -> str:
        age = f" age={ages[key_id]}" if key_id in ages else ""
        return describe_key(key_id, prefix, name) + age

    settlement = settle(
        admin, _unique(entries), listed, dry_run=dry_run, write=write, describe=describe
    )
    for leak in settlement.unverified:
        write(f"unverified: {leak.describe()}")
    verb = "would revoke" if dry_run else "revoked"
    failed = len(settlement.leaked) + len(settlement.unverified)
    write(
        f"pytest-xquik sweep: {verb} {settlement.revoked_now} key(s)"
        + (f", {failed} failed" if failed else "")
    )
    if not dry_run and settlement.settled:
        remove(files)
    return settlement.settled


def _unique(entries: Iterable[LedgerEntry]) -> list[LedgerEntry]:
    """One entry per key id (the ledger's, which knows more), and every entry without one."""
    seen: set[str] = set()
    unique = []
    for entry in entries:
        if entry.id is None or entry.id not in seen:
            unique.append(entry)
        if entry.id is not None:
            seen.add(entry.id)
    return unique


def sweep_account(session: XquikSession, *, dry_run: bool, write: Write) -> bool:
    """:func:`sweep` with the session's client, ledger and settings; ``False`` if it failed."""
    assert session.ledger is not None, "the sweep exists in live mode only"
    try:
        return sweep(
            session.admin,
            session.namer,
            session.ledger,
            session.settings.sweep_older_than,
            dry_run=dry_run,
            write=write,
        )
    except XquikError as error:
        write(f"pytest-xquik sweep failed: {error}")
        return False
