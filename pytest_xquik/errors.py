"""The exceptions pytest-xquik raises.

``XquikError``
    Base of everything below.
``XquikApiError``
    A call to the key endpoints failed: names the call, the HTTP status and
    the API's error code, with every secret masked, and says what to do.
    ``reached`` is ``False`` only when no attempt of the call was sent (the
    service cannot have acted on it).
``XquikRevokeError``
    One or more keys could not be revoked in teardown: names each key's id,
    prefix and name, so that none is silently left active.
``XquikMockEscapeError``
    Mock mode: a request for the base URL would have left the process.
"""

from __future__ import annotations

from collections.abc import Sequence


class XquikError(Exception):
    """Base class of pytest-xquik's errors."""


class XquikApiError(XquikError):
    """A call to the Xquik API failed."""

    def __init__(
        self,
        call: str,
        status: int | None,
        code: str | None,
        detail: str,
        hint: str = "",
        *,
        reached: bool = True,
    ) -> None:
        self.call = call
        self.reached = reached
        self.status = status
        self.code = code
        self.detail = detail
        #: Whether any attempt of the call may have reached the service (False: none was sent).
        self.reached = reached
        answered = f"answered {status} {code or '(no error code)'}" if status else "failed"
        message = f"{call} {answered}: {detail}"
        super().__init__(f"{message}. {hint}" if hint else message)


class XquikRevokeError(XquikError):
    """Keys that could not be revoked: each stays active on the account until revoked."""

    def __init__(self, failures: Sequence[tuple[str, XquikError]], *, mock: bool = False) -> None:
        self.failures = list(failures)
        where = "in pytest-xquik's mock" if mock else ""
        lines = [
            f"pytest-xquik could not revoke {len(self.failures)} key(s); they are still active"
            f"{' ' + where if where else ''}:"
        ]
        lines += [f"  - {key}: {error}" for key, error in self.failures]
        if mock:
            lines.append(
                "They exist only in the mock, which forgets them when their fixture's scope "
                "ends: nothing is left on a real account. The answer above is the mock's (a "
                "route or credential the test changed?)."
            )
        else:
            lines.append(
                "A live run tries them again at its end; whatever is still left, revoke with "
                "`pytest --xquik-mode=live --xquik-sweep` or in the Xquik dashboard."
            )
        super().__init__("\n".join(lines))


class XquikMockEscapeError(XquikError):
    """Mock mode: a request for the base URL would have reached the network; it was refused."""
