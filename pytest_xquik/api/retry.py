"""When a failed call to the key endpoints is tried again, and how long to wait first.

Retried: 429 (after its ``Retry-After``), every 5xx, connection errors and
timeouts. Everything else (other 4xx) fails at once. A failure is
*ambiguous* when the service may have acted on the request although no
usable answer arrived: a 5xx, a 2xx whose body is not the documented JSON, or
a connection lost after the request was sent.

A 429 that says when to come back (``Retry-After``, ``retryAfter`` or
``retryAfterMs``) is a schedule, not a failure: the call waits as asked
without using up a retry, as long as its waits for rate limits stay within
the deadline (``xquik_rate_limit_deadline``).
"""

from __future__ import annotations

import dataclasses
import email.utils
import random
import time
from collections.abc import Callable
from datetime import datetime, timezone

import httpx

MAX_BACKOFF = 8.0

#: Transport errors raised before the request left the client: never ambiguous.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
#: Transport errors that show the service cannot be reached at all (refused, no
#: such host, TLS failure, no connection within the timeout).
_UNREACHABLE = (httpx.ConnectError, httpx.ConnectTimeout)
_RETRY_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """How often and after how long a failed call is tried again.

    Backoff: ``backoff * 2**(n-1)`` seconds before retry ``n`` (at most
    :data:`MAX_BACKOFF`), times a random factor between 0.5 and 1. A 429
    that asks for a wait is not a retry: the call waits as asked, for at
    most ``rate_limit_deadline`` seconds in all. ``sleep`` and ``jitter`` (a
    number in [0, 1)) are there for tests.
    """

    max_retries: int = 3
    backoff: float = 0.5
    rate_limit_deadline: float = 180.0
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = random.random

    def wait(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first)."""
        return min(MAX_BACKOFF, self.backoff * 2.0 ** (retry - 1)) * (0.5 + self.jitter() / 2)


@dataclasses.dataclass
class CallBudget:
    """What one call has used of its policy: retries, and seconds waited for rate limits."""

    policy: RetryPolicy
    retries: int = 0
    rate_limited: int = 0
    waited: float = 0.0

    @property
    def attempts(self) -> int:
        """How many attempts the call may make, not counting those answered with a schedule."""
        return self.policy.max_retries + 1

    @property
    def remaining(self) -> float:
        """Seconds the call may still wait for rate limits."""
        return max(0.0, self.policy.rate_limit_deadline - self.waited)

    def retry(self) -> float | None:
        """Use up one retry: the backoff to wait first, or ``None`` when none is left."""
        if self.retries >= self.policy.max_retries:
            return None
        self.retries += 1
        return self.policy.wait(self.retries)

    def rate_limit(self, asked: float) -> float | None:
        """Wait for a 429 that asked for ``asked`` seconds: ``None`` if past the deadline.

        A service that keeps asking for (next to) nothing is backed off like
        a retry, so that the deadline bounds the number of attempts too.
        """
        self.rate_limited += 1
        seconds = max(asked, self.policy.wait(self.rate_limited))
        if seconds > self.remaining:
            return None
        self.waited += seconds
        return seconds


def is_retried_status(status: int) -> bool:
    """Whether an answer with ``status`` is worth another attempt."""
    return status == 429 or status >= 500


def is_retried_error(error: httpx.HTTPError) -> bool:
    """Whether a transport failure is worth another attempt."""
    return isinstance(error, _RETRY_ERRORS)


def is_unreachable(error: httpx.HTTPError) -> bool:
    """Whether a transport failure shows that the service cannot be reached (no request sent)."""
    return isinstance(error, _UNREACHABLE)


def was_sent(error: httpx.HTTPError) -> bool:
    """Whether the request may have left the client before ``error``."""
    return not isinstance(error, _NOT_SENT)


def is_ambiguous(status: int | None, error: httpx.HTTPError | None = None) -> bool:
    """Whether the service may have done what was asked although the call failed."""
    if error is not None:
        return isinstance(error, httpx.TransportError) and was_sent(error)
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
