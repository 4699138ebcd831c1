"""Replace registered secrets in text with their masked form.

The masked form of an Xquik key keeps its public prefix (at most the first 8
characters, which the API itself shows in key lists) followed by a fixed
marker; any other secret (a bearer or session token) is replaced by the marker
alone.

:meth:`SecretMasker.mask` finds, in time linear in the size of the text
whatever the number of secrets:

- every registered secret, on its own or inside longer text, and its
  JSON-escaped, URL-encoded and ``repr()`` forms;
- as a backstop (which :class:`SecretMasker` may be told to leave off), any
  string of the key format ``xq_`` + 64 hex characters (of either case),
  registered or not;
- the *pieces* of a secret that a shortened value leaves next to a ``...`` or
  ``…`` (``'xq_a1b2c3d4e5...'``, ``...9f8e7d6c5b4a'``), from 8 characters on.

Keys are found through their ``xq_`` anchor and a dictionary lookup, pieces
through an index of every 8-character run of every secret, looked up only
beside an ellipsis; a regular expression alternation is used only for the
few secrets of another format (the management credential).
"""

from __future__ import annotations

import json
import re
import string
import threading
from collections.abc import Callable
from itertools import compress
from operator import is_
from urllib.parse import quote, quote_plus

MARKER = "[MASKED]"
PUBLIC_PREFIX_LENGTH = 8
KEY_PREFIX = "xq_"
KEY_HEX_LENGTH = 64

#: Pieces of a secret shorter than this next to an ellipsis are left alone.
PIECE_LENGTH = 8

_KEY_FORMAT = re.compile(r"xq_[0-9a-f]{64}")
# A key, or a piece of one, longer than its public prefix (split keeps it as a part).
# Hex digits of either case: the backstop also catches an upper-cased key, and a
# class of three ranges compiles to a lookup table, which is faster on hex (its
# digits and letters alternate at random) than two range tests.
_KEY_RUNS = re.compile(r"(xq_[0-9a-fA-F]{6,})")
_TOKEN_CHARACTERS = string.ascii_letters + string.digits + "_%+/=-"
_TOKEN = "[A-Za-z0-9_%+/=-]"
# An ellipsis with at least a piece's length of token characters on one side, and
# the token characters after it (group 1); one pattern per kind, since a literal
# start lets the regex engine skip ahead fast.
_ELLIPSES = {
    ellipsis: re.compile(
        rf"{re.escape(ellipsis)}(?:(?={_TOKEN}{{{PIECE_LENGTH}}})"
        rf"|(?<={_TOKEN}{{{PIECE_LENGTH}}}{re.escape(ellipsis)})){re.escape(ellipsis[0])}*"
        rf"({_TOKEN}*)"
    )
    for ellipsis in ("...", "…")
}


def masked_form(secret: str) -> str:
    """What ``secret`` looks like in output: public prefix and marker."""
    if secret.startswith(KEY_PREFIX):
        return secret[:PUBLIC_PREFIX_LENGTH] + MARKER
    return MARKER


def _public_length(form: str, offset: int) -> int:
    """How many characters of a piece starting at ``offset`` in ``form`` are public."""
    return max(PUBLIC_PREFIX_LENGTH - offset, 0) if form.startswith(KEY_PREFIX) else 0


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


class SecretMasker:
    """The set of secrets this process must never print, and the masking of text.

    ``backstop`` (on by default) also masks every string of the key format
    that was never registered.
    """

    def __init__(self, *, backstop: bool = True) -> None:
        self.backstop = backstop
        # Every registered key -> its masked form.
        self._keys: dict[str, str] = {}
        self._others: dict[str, str] = {}
        self._others_pattern: re.Pattern[str] | None = None
        # Every PIECE_LENGTH-character run of every form of every secret:
        # the run -> (the form it belongs to, its offset in that form).
        self._pieces: dict[str, tuple[str, int]] = {}
        self._reach = 0
        # Shorter texts hold nothing to mask: no piece beside an ellipsis, no cut
        # key, no registered secret (a progress dot, a short terminal write).
        self._shortest = PIECE_LENGTH + len("…")
        self._lock = threading.Lock()
        #: Called with each newly registered secret, once it is masked (a CI runner's mask).
        self.listeners: list[Callable[[str], None]] = []

    def register(self, secret: str) -> None:
        """Mask ``secret`` from now on in everything :meth:`mask` sees."""
        secret = str(secret)
        if not secret:
            return
        with self._lock:
            known = secret in self._keys or secret in self._others
            if _KEY_FORMAT.fullmatch(secret):
                forms = {secret}
                self._keys[secret] = masked_form(secret)
            else:
                forms = {form for form in encoded_forms(secret) if form not in self._others}
                if not forms:
                    return
                for form in forms:
                    self._others[form] = masked_form(form)
                    self._shortest = min(self._shortest, len(form))
                alternatives = sorted(self._others, key=len, reverse=True)
                self._others_pattern = re.compile("|".join(map(re.escape, alternatives)))
            for form in forms:
                # The first PIECE_LENGTH characters of a key are its public prefix.
                first = 1 if form.startswith(KEY_PREFIX) else 0
                for offset in range(first, len(form) - PIECE_LENGTH + 1):
                    self._pieces.setdefault(form[offset : offset + PIECE_LENGTH], (form, offset))
                self._reach = max(self._reach, len(form))
        if not known:
            for listener in self.listeners:
                listener(secret)

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
        ellipses = [pattern for ellipsis, pattern in _ELLIPSES.items() if ellipsis in text]
        if KEY_PREFIX not in text:
            return self._mask_beside_all_ellipses(text, ellipses)
        # One split on the key runs, one join. Split, rather than ``sub`` with a
        # function: one Python call per key costs more than the scan of the text.
        parts = _KEY_RUNS.split(text)
        runs = parts[1::2]
        # A registered key is a run of its own; the other runs stay, for now.
        masked_runs = list(map(self._keys.get, runs, runs))
        kept = False
        for index in compress(range(len(runs)), map(is_, masked_runs, runs)):
            masked_runs[index] = self._mask_key_run(runs[index], parts[2 * index + 2])
            kept = kept or masked_runs[index] == runs[index]
        parts[1::2] = masked_runs
        if kept:  # a run left as it was joins the token characters on either side of it
            return self._mask_beside_all_ellipses("".join(parts), ellipses)
        # Otherwise the text between two key runs holds every ellipsis that a key
        # does not cut short (those the runs took care of): mask beside those.
        for pattern in ellipses:
            matches = list(map(pattern.search, parts[0::2]))
            for index in compress(range(len(matches)), matches):
                parts[2 * index] = self._mask_beside_ellipses(parts[2 * index], matches[index])
        return "".join(parts)

    def _mask_beside_all_ellipses(self, text: str, ellipses: list[re.Pattern[str]]) -> str:
        """Mask the pieces of secrets beside every ellipsis in ``text``, of each kind in turn."""
        for pattern in ellipses:
            found = pattern.search(text)
            if found:
                text = self._mask_beside_ellipses(text, found)
        return text

    def _mask_key_run(self, run: str, after: str) -> str:
        """Mask a run of ``xq_`` and hex digits that is not a registered key, ``after`` it."""
        key = run[: len(KEY_PREFIX) + KEY_HEX_LENGTH]
        if len(key) == len(KEY_PREFIX) + KEY_HEX_LENGTH and (self.backstop or key in self._keys):
            return masked_form(key) + self._mask_pieces(run[len(key) :])
        if self.backstop and after.startswith(("...", "…")):
            return run[:PUBLIC_PREFIX_LENGTH] + MARKER  # a key of the key format, cut short
        return self._mask_pieces(run)

    def _mask_beside_ellipses(self, text: str, ellipsis: re.Match[str] | None) -> str:
        """Mask the pieces of secrets beside ``ellipsis``, found in ``text``, and each later one."""
        reach = self._reach
        parts: list[str] = []
        done = 0
        while ellipsis is not None:
            start, after = ellipsis.span()
            end = ellipsis.start(1)  # the token characters after the ellipsis start here
            if text[start - 1 : start] in _TOKEN_CHARACTERS:
                before = text[start - reach if start - reach > done else done : start]
                before = before[len(before.rstrip(_TOKEN_CHARACTERS)) :]
                if len(before) >= PIECE_LENGTH:
                    parts += [text[done : start - len(before)], self._mask_pieces(before)]
                    done = start
            if after - end > reach:
                after = end + reach
            if after - end >= PIECE_LENGTH:
                parts += [text[done:end], self._mask_pieces(text[end:after])]
                done = after
            ellipsis = ellipsis.re.search(text, after)
        parts.append(text[done:])
        return "".join(parts)

    def _mask_pieces(self, run: str) -> str:
        """Mask every piece of a registered secret in ``run``, a run of token characters."""
        if len(run) < PIECE_LENGTH:
            return run
        pieces = self._pieces
        # The usual case, first: the whole run is one piece of one secret.
        found = pieces.get(run[-PIECE_LENGTH:])
        if found is not None:
            form, offset = found
            first = offset + PIECE_LENGTH - len(run)
            if first >= 0 and form[first : offset + PIECE_LENGTH] == run:
                return run[: _public_length(form, first)] + MARKER
        parts: list[str] = []
        done = position = 0
        while position + PIECE_LENGTH <= len(run):
            found = pieces.get(run[position : position + PIECE_LENGTH])
            if found is None:
                position += 1
                continue
            form, offset = found
            start, first = position, offset
            while start > done and first > 0 and run[start - 1] == form[first - 1]:
                start -= 1
                first -= 1
            end, last = position + PIECE_LENGTH, offset + PIECE_LENGTH
            rest = min(len(run) - end, len(form) - last)
            if run[end : end + rest] == form[last : last + rest]:
                end += rest  # the piece runs to the end of the secret or of the run
            else:
                while run[end] == form[last]:
                    end += 1
                    last += 1
            parts += [run[done:start], run[start : start + _public_length(form, first)], MARKER]
            done = position = end
        parts.append(run[done:])
        return "".join(parts)
