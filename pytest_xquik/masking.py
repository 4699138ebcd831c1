"""Replace registered secrets in text with their masked form.

The masked form of an Xquik key keeps its public prefix (at most the first 8
characters, which the API itself shows in key lists) followed by a fixed
marker; any other secret (a bearer or session token) is replaced by the marker
alone.
"""

from __future__ import annotations

import threading

MARKER = "[MASKED]"
PUBLIC_PREFIX_LENGTH = 8
KEY_PREFIX = "xq_"


def masked_form(secret: str) -> str:
    """What ``secret`` looks like in output: public prefix and marker."""
    if secret.startswith(KEY_PREFIX):
        return secret[:PUBLIC_PREFIX_LENGTH] + MARKER
    return MARKER


class SecretMasker:
    """The set of secrets this process must never print, and the masking of text."""

    def __init__(self) -> None:
        self._secrets: dict[str, str] = {}
        self._lock = threading.Lock()

    def register(self, secret: str) -> None:
        """Mask ``secret`` from now on in everything :meth:`mask` sees."""
        if secret:
            with self._lock:
                self._secrets[str(secret)] = masked_form(secret)

    def mask(self, text: str) -> str:
        """Return ``text`` with every registered secret replaced by its masked form."""
        for secret, masked in self._secrets.items():
            if secret in text:
                text = text.replace(secret, masked)
        return text
