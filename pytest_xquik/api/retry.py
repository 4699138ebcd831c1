"""When a failed call to the key endpoints is tried again, and how long to wait first.

Retried: 429 (after its ``Retry-After``), 502, 503, 504, connection errors
and timeouts. Everything else (other 4xx, 500) fails at once. A failure is
*ambiguous* when the service may have acted on the request although no
usable answer arrived: a 5xx, a 2xx whose body is not the documented JSON, or
a connection lost after the request was sent.
"""

from __future__ import annotations

import dataclasses
import email.utils
import random
import time
from collections.abc import Callable
from datetime import datetime, timezone

import httpx

RETRY_STATUSES = frozenset({429, 502, 503, 504})
MAX_BACKOFF = 8.0

#: Transport errors raised before the request left the client: never ambiguous.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_RETRY_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """How often and after how long a failed call is tried again.

    Backoff: ``backoff * 2**(n-1)`` seconds before retry ``n`` (at most
    :data:`MAX_BACKOFF`), times a random factor between 0.5 and 1. A
    ``Retry-After`` replaces the backoff, if it is at most ``max_wait``.
    ``sleep`` and ``jitter`` (a number in [0, 1)) are there for tests.
    """

    max_retries: int = 3
    backoff: float = 0.5
    max_wait: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = random.random

    def wait(self, retry: int, retry_after: float | None) -> float | None:
        """Seconds to wait before retry number ``retry`` (1 for the first).

        ``None`` when the service asked (``retry_after``) for more than ``max_wait``.
        """
        if retry_after is not None:
            return retry_after if retry_after <= self.max_wait else None
        return min(MAX_BACKOFF, self.backoff * 2.0 ** (retry - 1)) * (0.5 + self.jitter() / 2)


def is_retried_status(status: int) -> bool:
    """Whether an answer with ``status`` is worth another attempt."""
    return status in RETRY_STATUSES


def is_retried_error(error: httpx.HTTPError) -> bool:
    """Whether a transport failure is worth another attempt."""
    return isinstance(error, _RETRY_ERRORS)


def is_ambiguous(status: int | None, error: httpx.HTTPError | None = None) -> bool:
    """Whether the service may have done what was asked although the call failed."""
    if error is not None:
        return isinstance(error, httpx.TransportError) and not isinstance(error, _NOT_SENT)
    # A 5xx may come after the work was done; a 2xx whose body cannot be read says it was.
    return status is not None and (status >= 500 or 200 <= status < 300)


def retry_after(response: httpx.Response, body: object) -> float | None:
    """The wait a 429 asks for: the ``Retry-After`` header, else ``retryAfter(Ms)`` in the body.

    The header is either seconds or an HTTP date (RFC 9110), counted from now.
    """
    header = response.headers.get("retry-after", "").strip()
    if header:
        try:
            return max(0.0, float(header))
        except ValueError:
            pass
        try:
            until = email.utils.parsedate_to_datetime(header)
        except (TypeError, ValueError):
            until = None  # neither form: fall back to the body, then to the backoff
        if until is not None:
            until = until if until.tzinfo else until.replace(tzinfo=timezone.utc)  # always GMT
            return max(0.0, (until - datetime.now(timezone.utc)).total_seconds())
    if isinstance(body, dict):
        for field, scale in (("retryAfter", 1.0), ("retryAfterMs", 0.001)):
            value = body.get(field)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return max(0.0, float(value) * scale)
    return None
