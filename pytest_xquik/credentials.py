"""The management credential: which account the plugin creates keys on in live mode.

Read from the environment only, never from ini files, so that it cannot be
committed with a project's configuration.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, NamedTuple

import httpx

Kind = Literal["api-key", "bearer", "session"]

#: The environment variables, in the order that decides when several are set.
CREDENTIAL_VARIABLES: tuple[tuple[str, Kind], ...] = (
    ("XQUIK_ADMIN_API_KEY", "api-key"),
    ("XQUIK_BEARER_TOKEN", "bearer"),
    ("XQUIK_SESSION_TOKEN", "session"),
)

#: Other secrets of an Xquik account that a test environment may hold: a team's own
#: key, and the credentials of the Xquik SDK (x-twitter-scraper). Never used, always masked.
OTHER_SECRET_VARIABLES = (
    "XQUIK_API_KEY",
    "X_TWITTER_SCRAPER_API_KEY",
    "X_TWITTER_SCRAPER_BEARER_TOKEN",
)

#: A value shorter than this in one of those variables is a placeholder, not a secret:
#: masking it would mask every word like it in the output.
SHORTEST_SECRET = 8

_DESCRIPTIONS: dict[Kind, str] = {
    "api-key": "an API key sent as x-api-key",
    "bearer": "an OAuth bearer token sent as Authorization: Bearer",
    "session": "a dashboard session token sent as a cookie",
}


class ManagementCredential(NamedTuple):
    """A secret that may create, list and revoke the account's keys."""

    kind: Kind
    variable: str
    secret: str
    cookie_name: str = "session_token"

    def __repr__(self) -> str:  # never the secret
        return f"ManagementCredential(kind={self.kind!r}, variable={self.variable!r})"

    @property
    def headers(self) -> dict[str, str]:
        """The request headers that carry the credential."""
        if self.kind == "api-key":
            return {"x-api-key": self.secret}
        if self.kind == "bearer":
            return {"Authorization": f"Bearer {self.secret}"}
        return {"Cookie": f"{self.cookie_name}={self.secret}"}

    def describe(self) -> str:
        """Which credential this is, for headers and messages (never the secret)."""
        return f"{self.variable} ({_DESCRIPTIONS[self.kind]})"

    def others(self) -> str:
        """The credential kinds the plugin accepts besides this one."""
        return "; ".join(
            f"{variable} ({_DESCRIPTIONS[kind]})"
            for variable, kind in CREDENTIAL_VARIABLES
            if kind != self.kind
        )


def credential_from_env(
    environ: Mapping[str, str], cookie_name: str
) -> ManagementCredential | None:
    """The first credential set in ``environ``, in the order of :data:`CREDENTIAL_VARIABLES`."""
    for variable, kind in CREDENTIAL_VARIABLES:
        secret = environ.get(variable, "").strip()
        if secret:
            return ManagementCredential(kind, variable, secret, cookie_name)
    return None


def missing_credential_message() -> str:
    """The usage error for live mode without a credential."""
    names = ", ".join(variable for variable, _ in CREDENTIAL_VARIABLES)
    return (
        "pytest-xquik: live mode needs a management credential for the account, and none is "
        f"set. Set one of the environment variables {names} (checked in that order), or run "
        "in mock mode (--xquik-mode=mock)."
    )


def visible_secrets(environ: Mapping[str, str], base_url: str) -> list[str]:
    """Every secret the plugin can see, besides its keys, in mock and live mode alike.

    The management credentials and the other secrets of the account present in
    ``environ``, and the user information of ``base_url``: the whole
    ``user:password``, and the password (or a user name without one: a token).
    Values shorter than :data:`SHORTEST_SECRET` are left out.
    """
    names = [variable for variable, _ in CREDENTIAL_VARIABLES] + list(OTHER_SECRET_VARIABLES)
    found = [environ.get(name, "").strip() for name in names]
    url = httpx.URL(base_url)
    found += [url.userinfo.decode("ascii"), url.password or url.username]
    return [value for value in found if len(value) >= SHORTEST_SECRET]
