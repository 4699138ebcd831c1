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
32 Ki characters at a time), and ``bytes.find`` jumps from one run of 8 or
more of them to the next; inside a run, the 8-digit windows are looked up in
:class:`HexWindows`, a compact set of every 8-digit window of every secret (6
to 12 bytes a window), and a run is masked where its windows are found. A key
of the key format needs no look-up at all while the backstop is on, and the end
of a secret's run of hex digits (a value cut short at its start) one. The
secrets of another format (the management credential) are looked for only in
text that holds the first or the last 8 characters of one (an
:class:`Anchor`, found by its rarest characters at memory speed); there, a
``str.replace`` or a regular expression alternation masks them whole, and a
scan of the ellipses their cut ends. About 0.6 KB a key in all.
"""

from __future__ import annotations

import json
import re
import string
import threading
from array import array
from collections.abc import Callable, Iterator
from typing import NamedTuple
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
# The flags of a run of exactly the hex digits of a key.
_KEY_FLAGS = b"1" * KEY_HEX_LENGTH + b"0"
#: Characters of text whose hex flags are made at a time.
_WINDOW = 1 << 15
_MULTIPLIER = 0x9E3779B1  # 2**32 / phi, for Fibonacci hashing
# Printable ASCII from the rarest to the most common character in CPython's standard
# library sources, with the digits moved last (output is full of times, counts and line
# numbers); any other character ranks as rarer than all of these.
_BY_FREQUENCY = (
    "&$^~;?!JYZQX@%|<KHVUWB}{jGz/O+M\\FLD`qPRCI>N#AS*ET][kwv-xby'=g:h\")(.mu_fp,dcloniraste "
    "0123456789"
)
_RANK = {char: rank for rank, char in enumerate(_BY_FREQUENCY)}
#: Characters of text a miss must skip, on average, for :class:`Anchor` to keep jumping
#: by the same character: a ``str.find`` call costs about as much as a search for a
#: piece through this many characters.
_SPACING = 512
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


class Anchor(NamedTuple):
    """A piece of a secret, looked for by its rarest characters.

    ``str.find`` of one character runs at memory speed; of several, it steps
    through the text a few characters at a time. :meth:`is_in` therefore
    jumps from one place of the piece's rarest character to the next and
    checks for the piece there; where the character turns out common (found
    more often than every :data:`_SPACING` characters), it goes on with the
    next rarest, and after the last, searches for the piece itself. Linear,
    and never much slower than that search, whatever the text.
    """

    piece: str
    #: The piece's characters, rarest first, each with where it is in the piece.
    chars: tuple[tuple[str, int], ...]

    @classmethod
    def of(cls, piece: str) -> Anchor:
        offsets = {char: piece.index(char) for char in piece}
        rarest = sorted(offsets, key=lambda char: _RANK.get(char, -1))
        return cls(piece, tuple((char, offsets[char]) for char in rarest))

    def is_in(self, text: str) -> bool:
        """Whether ``text`` holds the piece."""
        piece = self.piece
        find, startswith = text.find, text.startswith
        start = 0  # the piece starts nowhere before this
        for char, offset in self.chars:
            found, budget = find(char, start + offset), start + offset
            while found >= 0:
                if startswith(piece, found - offset):
                    return True
                budget += _SPACING
                if found < budget:
                    break
                found = find(char, found + 1)
            else:
                return False
            start = found - offset + 1
        return find(piece, start) >= 0


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
        # Each such run (lowercase) by its last PIECE_LENGTH digits: a value cut short at
        # its start (the usual piece) is found by one look-up.
        self._run_ends: dict[str, str] = {}
        # Every form of every secret not of the key format -> its masked form; the
        # heads (prefixes) and tails (suffixes) of PIECE_LENGTH or more characters
        # of those forms, longest first, by their last and their first PIECE_LENGTH
        # characters.
        self._others: dict[str, str] = {}
        self._others_pattern: re.Pattern[str] | None = None
        self._heads: dict[str, list[str]] = {}
        self._tails: dict[str, list[str]] = {}
        # The first and the last PIECE_LENGTH characters of those forms: text that holds
        # none of them holds neither a form nor a cut of one. Replaced whole, never
        # changed, as :meth:`mask` may be going through it in another thread.
        self._anchors: tuple[Anchor, ...] = ()
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
                self._run_ends.setdefault(run[-PIECE_LENGTH:].lower(), run.lower())
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
            ends = {end for form in forms for end in (form[:PIECE_LENGTH], form[-PIECE_LENGTH:])}
            ends -= {anchor.piece for anchor in self._anchors}
            self._anchors = (*self._anchors, *map(Anchor.of, sorted(ends)))
            for cuts in (*self._heads.values(), *self._tails.values()):
                cuts.sort(key=len, reverse=True)
            alternatives = sorted(self._others, key=len, reverse=True)
            self._others_pattern = re.compile("|".join(map(re.escape, alternatives)))

    def mask(self, text: str) -> str:
        """Return ``text`` with every secret, and every piece of one, in its masked form."""
        if len(text) < self._shortest:
            return text
        anchors = self._anchors
        if anchors and any(anchor.is_in(text) for anchor in anchors):
            text = self._mask_others(text)
        return self._mask_hex_runs(text)

    def _mask_others(self, text: str) -> str:
        """Mask the secrets of another format, whole and cut next to an ellipsis."""
        others = self._others
        forms = tuple(others.items())  # at once: register() may add to it in another thread
        if len(forms) == 1:  # the usual case (the management credential): str.replace is faster
            text = text.replace(*forms[0])
        elif self._others_pattern is not None:
            text = self._others_pattern.sub(lambda match: others[match.group()], text)
        if self._heads:
            text = self._mask_cut_others(text)
        return text

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
                start = offset + found
                anchored = start >= 3 and startswith(KEY_PREFIX, start - 3)
                if anchored and flags.startswith(_KEY_FLAGS, found):
                    stop = found + KEY_HEX_LENGTH  # the usual case: found without a search
                else:
                    stop = find(b"0", found + PIECE_LENGTH)
                    if stop < 0:
                        stop = len(flags)
                end = offset + stop
                if (
                    backstop
                    and anchored
                    and (stop - found == KEY_HEX_LENGTH or startswith(("...", "…"), end))
                ):
                    # A key of the key format, or one cut short: public prefix, marker.
                    append(text[done : start + _PUBLIC_HEX])
                    append(MARKER)
                    done = end
                elif (masked := self._mask_run(text[start:end], anchored)) is not None:
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
        if not anchored:
            whole = self._run_ends.get(run[-PIECE_LENGTH:].lower())
            if whole is not None and whole.endswith(run.lower()):
                return MARKER
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
