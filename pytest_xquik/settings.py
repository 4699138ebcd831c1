"""The plugin's settings: declared once, resolved once, validated before any test runs.

Precedence, highest first: the command line (a flag, then ``-o name=value``),
environment, ini file, default. An empty value counts as unset; every value
given is validated, the ones that lose too.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal, NamedTuple, get_args

import httpx
import pytest

Mode = Literal["mock", "live"]
OnLeak = Literal["fail", "warn"]
ManagementAuth = Literal["any", "session"]
IniType = Literal["string", "bool", "int", "float"]

#: pytest reads (and ``--help`` shows) ini options typed int or float from 8.4 on.
_NUMBER_INI_TYPES = pytest.version_tuple >= (8, 4)


class Option(NamedTuple):
    """One setting: where it can be given, its default, and how its text is read."""

    ini: str
    help: str
    default: str
    parse: Callable[[str], Any]
    flag: str | None = None
    env: str | None = None
    type: IniType = "string"  # the ini type pytest reads and --help shows
    metavar: str | None = None  # the flag's value in --help

    @property
    def dest(self) -> str:
        """The attribute name of the command-line option on ``config.option``."""
        return self.ini

    @property
    def ini_type(self) -> IniType:
        """The type given to pytest: numbers as strings where pytest has no number types."""
        if self.type in ("int", "float") and not _NUMBER_INI_TYPES:
            return "string"
        return self.type


class Source(NamedTuple):
    """Where a value came from: ``kind`` for the report header, ``where`` for errors."""

    kind: Literal["command line", "environment", "ini", "default"]
    where: str

    def __str__(self) -> str:
        return self.where


#: Where each setting of the run came from, by field name (for the report header).
SOURCES: pytest.StashKey[dict[str, Source]] = pytest.StashKey()


def hide_userinfo(url: str) -> str:
    """``url`` with its user information (``user:password@``) masked, parsed or not."""
    return re.sub(r"(?<=//).*@", "[MASKED]@", url, count=1, flags=re.DOTALL)


def _one_of(*allowed: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value in allowed:
            return value
        raise ValueError("expected " + " or ".join(map(repr, allowed)))

    return parse


def _base_url(value: str) -> str:
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL as error:
        # httpx's reason may quote a piece of the user information (a password with a "/").
        reason = "" if "@" in value else f" ({error})"
        raise ValueError(f"expected an http(s) URL{reason}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("expected an http:// or https:// URL with a host")
    if url.query or url.fragment:
        raise ValueError("expected a URL without query or fragment")
    return str(url).rstrip("/")


def _seconds(*, zero_allowed: bool) -> Callable[[str], float]:
    expected = "a number of seconds, 0 or more" if zero_allowed else "a positive number of seconds"

    def parse(value: str) -> float:
        try:
            seconds = float(value)
        except ValueError:
            seconds = float("nan")
        if not (seconds >= 0 if zero_allowed else seconds > 0) or seconds == float("inf"):
            raise ValueError(f"expected {expected}")
        return seconds

    return parse


def _retries(value: str) -> int:
    if not re.fullmatch(r"[0-9]{1,2}", value.strip()):
        raise ValueError("expected a whole number from 0 to 99")
    return int(value)


_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600}


def _duration(value: str) -> float:
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)\s*([smh]?)", value.strip())
    if not match:
        raise ValueError(
            "expected seconds (3600) or a number with a unit: 90s, 30m, 2h; 0 = any age"
        )
    return float(match.group(1)) * _DURATION_UNITS[match.group(2)]


def _boolean(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "yes", "1", "on"):
        return True
    if lowered in ("false", "no", "0", "off"):
        return False
    raise ValueError("expected true or false")


def _key_name_prefix(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{3,39}", value):
        raise ValueError(
            "expected 4 to 40 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return value


def _cookie_name(value: str) -> str:
    if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", value):
        raise ValueError("expected a cookie name (letters, digits and !#$%&'*+-.^_`|~)")
    return value


OPTIONS: dict[str, Option] = {
    "mode": Option(
        ini="xquik_mode",
        flag="--xquik-mode",
        env="XQUIK_MODE",
        default="mock",
        parse=_one_of("mock", "live"),
        metavar="{mock,live}",
        help="'mock' (default): an in-process fake of the Xquik API, no network; "
        "'live': real keys on the service at the base URL.",
    ),
    "base_url": Option(
        ini="xquik_base_url",
        flag="--xquik-base-url",
        env="XQUIK_BASE_URL",
        default="https://xquik.com/api/v1",
        parse=_base_url,
        metavar="URL",
        help="Base URL of the Xquik API, version included (default https://xquik.com/api/v1).",
    ),
    "key_name_prefix": Option(
        ini="xquik_key_name_prefix",
        default="pytest-xquik",
        parse=_key_name_prefix,
        help="First word of the name of every key the plugin creates (default pytest-xquik).",
    ),
    "timeout": Option(
        ini="xquik_timeout",
        default="30",
        parse=_seconds(zero_allowed=False),
        type="float",
        help="Timeout in seconds of each request the plugin makes (default 30).",
    ),
    "session_cookie_name": Option(
        ini="xquik_session_cookie_name",
        default="session_token",
        parse=_cookie_name,
        help="Cookie that carries XQUIK_SESSION_TOKEN in live mode (default session_token; "
        "newer services call it __Host-xquik_session).",
    ),
    "mask_key_pattern": Option(
        ini="xquik_mask_key_pattern",
        default="true",
        parse=_boolean,
        type="bool",
        help="Also mask any string of the key format (xq_ + 64 hex characters) that the plugin "
        "did not create (default true); the plugin's own secrets are always masked.",
    ),
    "max_retries": Option(
        ini="xquik_max_retries",
        default="3",
        parse=_retries,
        type="int",
        help="How many times a create, list or revoke that failed with a 5xx, a 429 without "
        "Retry-After, a connection error or a timeout is retried (default 3; 0 = never).",
    ),
    "retry_backoff": Option(
        ini="xquik_retry_backoff",
        default="0.5",
        parse=_seconds(zero_allowed=True),
        type="float",
        help="First wait in seconds before a retry, doubled on each further retry (up to 8 s), "
        "with jitter (default 0.5).",
    ),
    "rate_limit_deadline": Option(
        ini="xquik_rate_limit_deadline",
        default="180",
        parse=_seconds(zero_allowed=True),
        type="float",
        help="Longest time in seconds one create, list or revoke waits in all for the "
        "service's rate limits (a 429's Retry-After, for this process or another of the run) "
        "before it fails (default 180: three windows of the published limits).",
    ),
    "reuse_keys": Option(
        ini="xquik_reuse_keys",
        flag="--xquik-reuse-keys",
        default="false",
        parse=_boolean,
        type="bool",
        help="xquik_api_key and xquik_client share one key per process for the whole run "
        "(revoked at its end) instead of a fresh key per test; xquik_api_key_factory still "
        "makes fresh keys (default false).",
    ),
    "on_leak": Option(
        ini="xquik_on_leak",
        default="fail",
        parse=_one_of("fail", "warn"),
        help="What a key left active at the end of a live run does: 'fail' (default) makes "
        "the exit status non-zero, 'warn' only reports it.",
    ),
    "sweep_on_start": Option(
        ini="xquik_sweep_on_start",
        default="false",
        parse=_boolean,
        type="bool",
        help="Run the sweep (see --xquik-sweep) at the start of every live session "
        "(default false).",
    ),
    "sweep_older_than": Option(
        ini="xquik_sweep_older_than",
        flag="--xquik-sweep-older-than",
        default="1h",
        parse=_duration,
        metavar="AGE",
        help="The sweep revokes the account's scratch keys neither created nor used for this "
        "long: seconds, or 90s, 30m, 2h; 0 = any age (default 1h, so that runs in progress "
        "on other machines are left alone).",
    ),
    "mock_management_auth": Option(
        ini="xquik_mock_management_auth",
        default="any",
        parse=_one_of(*get_args(ManagementAuth)),
        help="Who may create, list and revoke keys in the mock: 'any' (default) credential of "
        "the account (session cookie, API key, bearer token), or only the 'session' cookie "
        "(as the August 2026 OpenAPI says).",
    ),
    "github_add_mask": Option(
        ini="xquik_github_add_mask",
        default="true",
        parse=_boolean,
        type="bool",
        help="On GitHub Actions (GITHUB_ACTIONS=true), register every secret with the runner "
        "(::add-mask::), so that the job log masks it wherever it is printed (default true).",
    ),
}


class Settings(NamedTuple):
    """Every setting of one pytest run, resolved and validated."""

    mode: Mode
    base_url: str
    key_name_prefix: str
    timeout: float
    session_cookie_name: str
    mask_key_pattern: bool
    max_retries: int
    retry_backoff: float
    rate_limit_deadline: float
    reuse_keys: bool
    on_leak: OnLeak
    sweep_on_start: bool
    sweep_older_than: float
    mock_management_auth: ManagementAuth
    github_add_mask: bool


def add_options(parser: pytest.Parser) -> None:
    """Declare every setting as an ini option and, where it has one, a command-line flag."""
    group = parser.getgroup("xquik", "pytest-xquik: disposable Xquik API keys")
    for option in OPTIONS.values():
        # An empty default, whatever the type: getini returns it untouched when nothing is set.
        parser.addini(option.ini, option.help, type=option.ini_type, default="")
        if option.flag:
            env = f" [env {option.env}]" if option.env else ""
            # A yes-or-no setting's flag is a switch: given alone, it turns the setting on.
            switch = {"action": "store_const", "const": "true"} if option.parse is _boolean else {}
            group.addoption(
                option.flag,
                dest=option.dest,
                default=None,
                metavar=None if switch else option.metavar,
                help=option.help + env,
                **switch,
            )
    # Actions, not settings: they choose what this pytest command does.
    group.addoption(
        "--xquik-sweep",
        action="store_true",
        help="Live mode: revoke the scratch keys earlier runs left behind (in the ledger, or "
        "on the account and older than --xquik-sweep-older-than), then exit without "
        "running tests. With --collect-only it only lists them.",
    )
    group.addoption(
        "--xquik-sweep-dry-run",
        action="store_true",
        help="Like --xquik-sweep, but only list the keys it would revoke.",
    )


def resolve_settings(config: pytest.Config, environ: Mapping[str, str] = os.environ) -> Settings:
    """Read every setting from its sources, highest precedence first, and validate it.

    Every value given is validated, also one that a higher source overrides.
    Raises ``pytest.UsageError`` naming the option, where the value came
    from, the value and what is allowed. Where each value came from is kept
    in ``config.stash[SOURCES]``.
    """
    values: dict[str, Any] = {}
    sources: dict[str, Source] = {}
    for field, option in OPTIONS.items():
        for raw, source in _given(config, option, environ):
            value = _parse(option, raw, source)
            if field not in values:  # the first source given wins
                values[field], sources[field] = value, source
        if field not in values:
            values[field] = option.parse(option.default)
            sources[field] = Source("default", "the default")
    config.stash[SOURCES] = sources
    return Settings(**values)


def _parse(option: Option, raw: str, source: Source) -> Any:
    try:
        return option.parse(raw)
    except ValueError as error:
        raise pytest.UsageError(
            f"pytest-xquik: {option.ini} = {hide_userinfo(raw)!r} (from {source}) is not "
            f"valid: {error}."
        ) from None


def _given(
    config: pytest.Config, option: Option, environ: Mapping[str, str]
) -> Iterator[tuple[str, Source]]:
    """The values given for ``option``, highest precedence first; empty ones count as unset."""
    if option.flag:
        given = config.getoption(option.dest)
        if given is not None:
            yield str(given), Source("command line", f"the command line {option.flag}")
    override = _override(config, option.ini)
    if override:
        yield override, Source("command line", f"the command line -o {option.ini}")
    if option.env and environ.get(option.env, "").strip():
        yield environ[option.env], Source("environment", f"the environment variable {option.env}")
    if override is None:  # -o replaces the ini file's value, for pytest too
        source = Source("ini", f"the ini file {config.inipath}")
        try:
            ini_value = config.getini(option.ini)
        except (ValueError, pytest.UsageError) as error:  # pytest could not read it as its type
            expected = _expected(option)
            raise pytest.UsageError(
                f"pytest-xquik: {option.ini} (from {source}) is not valid: {expected} ({error})."
            ) from None
        text = _ini_text(ini_value)
        if text:
            yield text, source


def _override(config: pytest.Config, ini: str) -> str | None:
    """The stripped value of the last ``-o ini=value``, as pytest reads it; None without one."""
    value = None
    for item in config.getoption("override_ini") or []:
        name, _, given = item.partition("=")
        if name.strip() == ini:
            value = given.strip()
    return value


def _ini_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def _expected(option: Option) -> str:
    """What ``option`` allows, as its parser says it for an empty value (or its help)."""
    try:
        option.parse("")
    except ValueError as error:
        return str(error)
    return option.help
