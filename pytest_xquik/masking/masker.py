"""Replace registered secrets in text with their masked form.

The masked form of an Xquik key keeps its public prefix (at most the first 8
characters, which the API itself shows in key lists) followed by a fixed
marker; any other secret (a bearer or session token) is replaced by the marker
alone.

:meth:`SecretMasker.mask` finds, in time linear in the size of the text
whatever the number of secrets:

- every *piece* of a registered key, wherever it is and whatever cut it: any
  run of :data:`PIECE_LENGTH` or more of its 64 hex digits (of either case),
  on its own or glued to other hex digits, whether pytest shortened the value
  (``...``, "Skipping N identical leading characters"), unittest did
  (``[N chars]``), a diff wrapped it or a ``bytes`` repr split it; the same
  for every run of 8 or more hex digits inside any other secret;
- every registered secret, on its own or inside longer text, and its
  JSON-escaped, URL-encoded and ``repr()`` forms;
- the pieces of a secret of another format (a bearer token) that a shortened
  value leaves next to a ``...`` or ``…``, from 8 characters on;
- as a backstop (which :class:`SecretMasker` may be told to leave off), any
  string of the key format ``xq_`` + 64 hex characters (of either case),
  registered or not, and such a string cut short next to an ellipsis.

How: one C-speed pass marks the hex digits of the text (``bytes.translate``,
64 Ki characters at a time), and ``bytes.find`` jumps from one run of 8 or
more of them to the next; inside a run, the 8-digit windows are looked up in
:class:`HexWindows`, a compact set of every 8-digit window of every secret (6
to 12 bytes a window, at most 0.7 KB a key), and a run is masked where its
windows are found. A key of the key format needs no look-up at all while the
backstop is on. A regular expression alternation is used only for the few
secrets of another format (the management credential).
"""

from __future__ import annotations

import json
import re
import string
import threading
from array import array
from collections.abc import Callable, Iterator
from urllib.parse import quote, quote_plus

MARKER = "[MASKED]"
PUBLIC_PREFIX_LENGTH = 8
KEY_PREFIX = "xq_"
KEY_HEX_LENGTH = 64

#: Pieces of a secret shorter than this are left alone.
PIECE_LENGTH = 8

_KEY_FORMAT = re.compile(r"xq_[0-9a-f]{64}")
# The hex digits of a key past its prefix that the masked form shows.
_PUBLIC_HEX = PUBLIC_PREFIX_LENGTH - len(KEY_PREFIX)
# Every run of PIECE_LENGTH or more hex digits inside a secret.
_HEX_RUN = re.compile(f"[0-9a-fA-F]{{{PIECE_LENGTH},}}")
# Text encoded as ASCII (one byte a character, "?" for the others) and translated
# with this table reads "1" for a hex digit and "0" for anything else.
_HEX_FLAGS = bytes(ord("1") if chr(byte) in string.hexdigits else ord("0") for byte in range(256))
_PIECE_FLAGS = b"1" * PIECE_LENGTH
#: Characters of text whose hex flags are made at a time.
_WINDOW = 1 << 16
_MULTIPLIER = 0x9E3779B1  # 2**32 / phi, for Fibonacci hashing
_TOKEN = "[A-Za-z0-9_%+/=-]"
# An ellipsis with at least a piece's length of token characters on one side; one
# pattern per kind, since a literal start lets the regex engine skip ahead fast.
_ELLIPSES = [
    re.compile(
        rf"{re.escape(ellipsis)}(?:(?={_TOKEN}{{{PIECE_LENGTH}}})"
        rf"|(?<={_TOKEN}{{{PIECE_LENGTH}}}{re.escape(ellipsis)}))"
    )
    for ellipsis in ("...", "…")
]


def masked_form(secret: str) -> str:
    """What ``secret`` looks like in output: public prefix and marker."""
    if secret.startswith(KEY_PREFIX):
        return secret[:PUBLIC_PREFIX_LENGTH] + MARKER
    return MARKER


def encoded_forms(secret: str) -> set[str]:
    """``secret`` as it appears in text: as is, JSON-escaped, in a ``repr()``, URL-encoded."""
    return {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
    }


def _probe(table: array[int], value: int) -> int:
    """The slot of ``table`` that holds ``value``, or the empty one where it would go."""
    # Fibonacci hashing: the top bits of the low 32 bits of value * 2**32 / phi.
    slot = ((value * _MULTIPLIER) & 0xFFFFFFFF) >> (33 - len(table).bit_length())
    mask = len(table) - 1
    while table[slot] and table[slot] != value:
        slot = (slot + 1) & mask
    return slot


class HexWindows:
    """A set of 8-hex-digit windows, each stored as the 32-bit number it spells.

    An open-addressing table (linear probing) in an ``array`` of 32-bit
    slots, a third to two thirds full, so that a window costs 6 to 12 bytes
    instead of the 80 or so of a Python ``set`` of ``int``. A window is found
    whatever the case of its letters. The window ``00000000``, which cannot
    tell itself from an empty slot, is kept aside. :meth:`add_run` is called
    under the masker's lock; :meth:`spans` may run at the same time (it reads
    the table once: a grown table replaces the old one whole).
    """

    def __init__(self) -> None:
        self._table = array("I", bytes(4 << 10))
        self._count = 0
        self._zero = False

    def __len__(self) -> int:
        return self._count + self._zero

    def add_run(self, run: str) -> bool:
        """Add every window of ``run``, a run of hex digits; whether any was new."""
        windows = len(run) - PIECE_LENGTH + 1
        if 3 * (self._count + windows) > 2 * len(self._table):
            self._grow(self._count + windows)
        table, number, new = self._table, int(run, 16), False
        for shift in range(4 * (windows - 1), -1, -4):
            value = (number >> shift) & 0xFFFFFFFF
            if not value:
                new, self._zero = new or not self._zero, True
                continue
            slot = _probe(table, value)
            if not table[slot]:
                table[slot] = value
                self._count += 1
                new = True
        return new

    def spans(self, run: str) -> list[tuple[int, int]]:
        """Where ``run``, a run of hex digits, holds windows of the set: the (start, end)
        of each stretch that they cover, in order; stretches that touch are one."""
        last = len(run) - PIECE_LENGTH
        table, zero, number = self._table, self._zero, int(run, 16) if last >= 0 else 0
        # _probe, inlined: a piece of a key takes a look-up per 8 digits, a long text many.
        wrap, shift = len(table) - 1, 33 - len(table).bit_length()

        def found(start: int) -> bool:
            value = (number >> 4 * (last - start)) & 0xFFFFFFFF
            if not value:
                return zero
            slot = ((value * _MULTIPLIER) & 0xFFFFFFFF) >> shift
            while (held := table[slot]) != value:
                if not held:
                    return False
                slot = (slot + 1) & wrap
            return True

        spans = []
        start = 0
        while start <= last:
            if not found(start):
                start += 1
                continue
            end = start + PIECE_LENGTH
            # Extend the stretch window by window, trying the furthest window that
            # overlaps or touches it first: a long piece takes one look-up per 8 digits.
            while end < len(run):
                window = min(end, last)
                while window > end - PIECE_LENGTH and not found(window):
                    window -= 1
                if window == end - PIECE_LENGTH:
                    break
                end = window + PIECE_LENGTH
            spans.append((start, end))
            start = end + 1
        return spans

    def _grow(self, count: int) -> None:
        """A table large enough for ``count`` windows, holding every window of this one."""
        size = len(self._table)
        while 3 * count > 2 * size:
            size *= 2
        table = array("I", bytes(4 * size))
        for value in filter(None, self._table):
            table[_probe(table, value)] = value
        self._table = table


class SecretMasker:
    """The set of secrets this process must never print, and the masking of text.

    ``backstop`` (on by default) also masks every string of the key format
    that was never registered.
    """

    def __init__(self, *, backstop: bool = True) -> None:
        self.backstop = backstop
        # Every 8-digit window of every run of hex digits in every secret.
        self._windows = HexWindows()
        # Every form of every secret not of the key format -> its masked form; the
        # heads (prefixes) and tails (suffixes) of PIECE_LENGTH or more characters
        # of those forms, longest first, by their last and their first PIECE_LENGTH
        # characters.
        self._others: dict[str, str] = {}
        self._others_pattern: re.Pattern[str] | None = None
        self._heads: dict[str, list[str]] = {}
        self._tails: dict[str, list[str]] = {}
        # Shorter texts hold nothing to mask (a progress dot, a short terminal write).
        self._shortest = PIECE_LENGTH
        self._lock = threading.Lock()
        #: Called with each newly registered secret, once it is masked (a CI runner's mask).
        self.listeners: list[Callable[[str], None]] = []

    def register(self, secret: str) -> None:
        """Mask ``secret`` from now on in everything :meth:`mask` sees."""
        secret = str(secret)
        if not secret:
            return
        with self._lock:
            # A secret is new if it brings a window or a form the masker did not know.
            new = False
            for run in _HEX_RUN.findall(secret):
                new = self._windows.add_run(run) or new
            if not _KEY_FORMAT.fullmatch(secret):
                forms = {form for form in encoded_forms(secret) if form not in self._others}
                new = new or bool(forms)
                self._add_others(forms)
        if new:
            for listener in self.listeners:
                listener(secret)

    def _add_others(self, forms: set[str]) -> None:
        """Mask ``forms`` of a secret of another format, whole and cut next to an ellipsis."""
        for form in forms:
            self._others[form] = masked_form(form)
            self._shortest = min(self._shortest, len(form))
            for length in range(PIECE_LENGTH, len(form)):
                head, tail = form[:length], form[-length:]
                self._heads.setdefault(head[-PIECE_LENGTH:], []).append(head)
                self._tails.setdefault(tail[:PIECE_LENGTH], []).append(tail)
        if forms:
            for cuts in (*self._heads.values(), *self._tails.values()):
                cuts.sort(key=len, reverse=True)
            alternatives = sorted(self._others, key=len, reverse=True)
            self._others_pattern = re.compile("|".join(map(re.escape, alternatives)))

    def mask(self, text: str) -> str:
        """Return ``text`` with every secret, and every piece of one, in its masked form."""
        if len(text) < self._shortest:
            return text
        others = self._others
        if len(others) == 1:  # the usual case (the management credential): str.replace is faster
            for secret, masked in others.items():
                text = text.replace(secret, masked)
        elif self._others_pattern is not None:
            text = self._others_pattern.sub(lambda match: others[match.group()], text)
        if self._heads:
            text = self._mask_cut_others(text)
        return self._mask_hex_runs(text)

    def _mask_hex_runs(self, text: str) -> str:
        """Mask the keys of the key format and the pieces of secrets in every run of hex digits."""
        backstop, startswith = self.backstop, text.startswith
        parts: list[str] = []
        append = parts.append
        done = 0
        for offset, flags in _hex_flags(text):
            find = flags.find
            found = find(_PIECE_FLAGS)
            while found >= 0:
                stop = find(b"0", found + PIECE_LENGTH)
                if stop < 0:
                    stop = len(flags)
                start, end = offset + found, offset + stop
                anchored = start >= 3 and startswith(KEY_PREFIX, start - 3)
                if end - start == KEY_HEX_LENGTH and backstop and anchored:
                    # A key of the key format (the usual case, first): public prefix, marker.
                    append(text[done : start + _PUBLIC_HEX])
                    append(MARKER)
                    done = end
                else:
                    if backstop and anchored and startswith(("...", "…"), end):
                        masked: str | None = text[start : start + _PUBLIC_HEX] + MARKER  # cut short
                    else:
                        masked = self._mask_run(text[start:end], anchored)
                    if masked is not None:
                        append(text[done:start])
                        append(masked)
                        done = end
                found = find(_PIECE_FLAGS, stop)
        if not parts:
            return text
        append(text[done:])
        return "".join(parts)

    def _mask_run(self, run: str, anchored: bool) -> str | None:
        """``run`` of hex digits with every piece of a secret masked, or None if it holds none.

        ``anchored``: the run follows ``xq_``, so its first digits are a key's public prefix.
        With the backstop on, a run of more than 64 digits after ``xq_`` starts with a key
        of the key format, masked whether registered or not.
        """
        parts: list[str] = []
        done = 0
        if anchored and self.backstop and len(run) >= KEY_HEX_LENGTH:
            parts += [run[:_PUBLIC_HEX], MARKER]
            done = KEY_HEX_LENGTH
        base = done
        for start, end in self._windows.spans(run[base:]):
            public = _PUBLIC_HEX if anchored and start + base == 0 else 0
            parts += [run[done : base + start + public], MARKER]
            done = base + end
        if not parts:
            return None
        parts.append(run[done:])
        return "".join(parts)

    def _mask_cut_others(self, text: str) -> str:
        """Mask what a cut leaves of a secret of another format: its head before an ellipsis,
        its tail after one."""
        heads, tails = self._heads, self._tails
        parts: list[str] = []
        done = 0
        for pattern in _ELLIPSES:
            for ellipsis in pattern.finditer(text):
                start, end = ellipsis.span()
                for head in heads.get(text[start - PIECE_LENGTH : start], ()):
                    if start - len(head) >= done and text.startswith(head, start - len(head)):
                        parts += [text[done : start - len(head)], masked_form(head)]
                        done = start
                        break
                for tail in tails.get(text[end : end + PIECE_LENGTH], ()):
                    if end >= done and text.startswith(tail, end):
                        parts += [text[done:end], MARKER]
                        done = end + len(tail)
                        break
            if parts:
                parts.append(text[done:])
                text, parts, done = "".join(parts), [], 0
        return text


def _hex_flags(text: str) -> Iterator[tuple[int, bytes]]:
    """The hex flags of ``text`` (see ``_HEX_FLAGS``), window by window: (offset, flags).

    Every window but the last ends with a character that is not a hex digit,
    so that no run of them spans two windows. Windows of :data:`_WINDOW`
    characters keep the flags of a large text from costing two buffers of its
    size (fresh memory the system must map, page by page, at every call).
    """
    offset, length = 0, len(text)
    while offset < length:
        size = _WINDOW
        while True:
            flags = text[offset : offset + size].encode("ascii", "replace").translate(_HEX_FLAGS)
            if offset + len(flags) >= length:
                break
            last = flags.rfind(b"0")
            if last >= 0:
                flags = flags[: last + 1]
                break
            size *= 2  # hex digits only, so far: a larger window
        yield offset, flags
        offset += len(flags)
