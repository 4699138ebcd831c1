"""The ``xquik`` and ``xquik_live`` markers: per-test options, fault injection, live-only tests.

``@pytest.mark.xquik(name=..., fail_create=..., fail_list=..., fail_revoke=..., retry_after=...,
management_auth=..., rate_limits=...)``
may decorate a test, a class or a module (``pytestmark``); the markers merge
argument by argument, the closest winning. They are checked when the test is
collected, so that a typo is a collection error naming the test.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Iterator, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import pytest

if TYPE_CHECKING:
    from pytest_xquik.api.fake import Bucket, Call, FakeXquikApi, Fault, TransportFault
    from pytest_xquik.session import XquikSession
    from pytest_xquik.settings import ManagementAuth

    FaultSpec = int | TransportFault
    #: A bucket, its limit and its window in seconds.
    RateLimitSpec = tuple[Bucket, int, float]

XQUIK_MARKER = (
    "xquik(*, name=None, fail_create=(), fail_list=(), fail_revoke=(), retry_after=1, "
    "management_auth=None, rate_limits=None): "
    "pytest-xquik's options for this test: `name` goes into the names of the keys its "
    "fixtures create; in mock mode, fail_<call> makes the first create, list or revoke calls "
    "the test makes fail, one per item: a status (e.g. 429, 500, 503), 'timeout' or "
    "'disconnect'; management_auth='any' or 'session' says who may manage keys; "
    "rate_limits={'reads': 5, 'writes': (30, 60)} enforces limits per fixed window (seconds "
    "of the mock's fake clock, 60 by default)."
)
LIVE_MARKER = "xquik_live: the test needs the real Xquik service; skipped unless --xquik-mode=live."
LIVE_SKIP_REASON = (
    "needs the real Xquik service: run with --xquik-mode=live (or XQUIK_MODE=live) and a "
    "management credential in XQUIK_ADMIN_API_KEY, XQUIK_BEARER_TOKEN or XQUIK_SESSION_TOKEN"
)
FAULTS_SKIP_REASON = (
    "@pytest.mark.xquik(fail_... or rate_limits=...) sets up faults in the mock, and this run "
    "is in live mode"
)


class XquikOptions(NamedTuple):
    """The merged arguments of a test's ``xquik`` markers, validated."""

    name: str | None = None
    fail_create: tuple[FaultSpec, ...] = ()
    fail_list: tuple[FaultSpec, ...] = ()
    fail_revoke: tuple[FaultSpec, ...] = ()
    retry_after: int = 1
    management_auth: ManagementAuth | None = None
    rate_limits: tuple[RateLimitSpec, ...] = ()

    @property
    def sets_up_faults(self) -> bool:
        """Whether the test makes the mock fail calls (faults or rate limits)."""
        return bool(self.faults or self.rate_limits)

    @property
    def faults(self) -> dict[Call, tuple[FaultSpec, ...]]:
        """The faults to inject, by call, in the order the calls meet them."""
        if not (self.fail_create or self.fail_list or self.fail_revoke):
            return {}  # most tests
        faults: dict[Call, tuple[FaultSpec, ...]] = {
            "create": self.fail_create,
            "list": self.fail_list,
            "revoke": self.fail_revoke,
        }
        return {call: specs for call, specs in faults.items() if specs}


class Marked(Protocol):
    """A test, class or module: anything whose markers pytest can list."""

    @property
    def keywords(self) -> MutableMapping[str, Any]: ...

    def iter_markers(self, name: str | None = None) -> Iterator[pytest.Mark]: ...


_ARGUMENTS = XquikOptions._fields
_NO_OPTIONS = XquikOptions()


def register_markers(config: pytest.Config) -> None:
    """Declare the markers (``pytest --markers`` lists them; ``--strict-markers`` accepts them)."""
    config.addinivalue_line("markers", XQUIK_MARKER)
    config.addinivalue_line("markers", LIVE_MARKER)


def xquik_options(node: Marked) -> XquikOptions:
    """The test's ``xquik`` markers, merged (closest wins) and validated.

    Raises ``ValueError`` saying which argument is wrong and what is allowed.
    """
    # A node's keywords hold the names of its markers and its parents': a cheap
    # look, for the many tests without one, before walking the markers.
    if "xquik" not in node.keywords:
        return _NO_OPTIONS
    marks = list(node.iter_markers("xquik"))
    if not marks:
        return _NO_OPTIONS
    merged: dict[str, Any] = {}
    for mark in reversed(marks):
        if mark.args:
            raise ValueError(
                f"it takes keyword arguments only ({', '.join(_ARGUMENTS)}), "
                f"not the positional {mark.args!r}"
            )
        merged.update(mark.kwargs)
    unknown = sorted(set(merged) - set(_ARGUMENTS))
    if unknown:
        raise ValueError(
            f"unknown argument(s) {', '.join(unknown)}; it takes {', '.join(_ARGUMENTS)}"
        )
    name = merged.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise ValueError(f"name={name!r} is not a non-empty string")
    retry_after = merged.get("retry_after", 1)
    if not isinstance(retry_after, int) or isinstance(retry_after, bool) or retry_after < 1:
        # The service's Retry-After is at least 1 (both OpenAPI documents).
        raise ValueError(f"retry_after={retry_after!r} is not a whole number of seconds >= 1")
    faults = {
        argument: _fault_specs(argument, merged.get(argument, ()))
        for argument in ("fail_create", "fail_list", "fail_revoke")
    }
    management_auth = merged.get("management_auth")
    if management_auth is not None and management_auth not in ("any", "session"):
        raise ValueError(f"management_auth={management_auth!r} is not 'any' or 'session'")
    return XquikOptions(
        name=name,
        retry_after=retry_after,
        management_auth=management_auth,
        rate_limits=_rate_limit_specs(merged.get("rate_limits")),
        **faults,
    )


def _rate_limit_specs(value: object) -> tuple[RateLimitSpec, ...]:
    from pytest_xquik.api.fake import BUCKETS

    if value is None:
        return ()
    expected = (
        f"rate_limits={value!r}: expected a dict of bucket ({', '.join(BUCKETS)}) to a limit "
        "(a whole number >= 0) or a (limit, window seconds) pair"
    )
    if not isinstance(value, dict):
        raise ValueError(expected)
    specs: list[RateLimitSpec] = []
    for bucket, given in value.items():
        pair = isinstance(given, (tuple, list)) and len(given) == 2
        limit, window = given if pair else (given, 60)
        whole = isinstance(limit, int) and not isinstance(limit, bool) and limit >= 0
        seconds = isinstance(window, (int, float)) and not isinstance(window, bool) and window > 0
        if bucket not in BUCKETS or not whole or not seconds:
            raise ValueError(expected)
        specs.append((bucket, limit, float(window)))
    return tuple(specs)


def _fault_specs(argument: str, value: object) -> tuple[FaultSpec, ...]:
    from pytest_xquik.api.fake import TRANSPORT_FAULTS

    items = value if isinstance(value, Sequence) and not isinstance(value, str) else [value]
    specs: list[FaultSpec] = []
    for item in items:
        is_status = isinstance(item, int) and not isinstance(item, bool) and 400 <= item <= 599
        if is_status or item in TRANSPORT_FAULTS:
            specs.append(item)  # type: ignore[arg-type]
        else:
            raise ValueError(
                f"{argument}={value!r}: {item!r} is not a fault; give an HTTP status from "
                f"400 to 599, {' or '.join(map(repr, TRANSPORT_FAULTS))}, or a list of them"
            )
    return tuple(specs)


def carrying(nodes: Iterable[pytest.Item | pytest.Collector], *names: str) -> list[pytest.Item]:
    """The tests among ``nodes`` with a marker of one of ``names``, on them or a parent.

    What ``iter_markers`` walks (each node's own markers, up the chain), with
    each parent looked at once, not once per test as ``item.keywords`` does:
    a large suite that uses no marker of the plugin collects at no cost.
    """
    wanted = frozenset(names)
    parents: dict[int, bool] = {}
    found = []
    for node in nodes:
        if not isinstance(node, pytest.Item) or node.parent is None:
            continue
        parent = node.parent
        inherited = parents.get(id(parent))
        if inherited is None:
            chain = parent.listchain()
            inherited = any(mark.name in wanted for link in chain for mark in link.own_markers)
            parents[id(parent)] = inherited
        own = node.own_markers
        if inherited or (own and any(mark.name in wanted for mark in own)):
            found.append(node)
    return found


def wrong_marker(collected: Iterable[pytest.Item | pytest.Collector]) -> str | None:
    """What is wrong with the first wrong ``xquik`` marker of the tests just collected, if any."""
    for item in carrying(collected, "xquik"):
        try:
            xquik_options(item)
        except ValueError as error:
            return f"{item.nodeid}: @pytest.mark.xquik: {error}"
    return None


def skip_inapplicable(marked: Sequence[pytest.Item], session: XquikSession) -> None:
    """In mock mode, skip ``xquik_live`` tests; in live mode, skip tests that inject faults.

    ``marked``: the tests that carry a marker of the plugin (see :func:`carrying`).
    """
    is_mock = session.is_mock
    for item in marked:
        if is_mock:
            if item.get_closest_marker("xquik_live"):
                item.add_marker(pytest.mark.skip(reason=LIVE_SKIP_REASON))
        elif xquik_options(item).sets_up_faults:
            item.add_marker(pytest.mark.skip(reason=FAULTS_SKIP_REASON))


class FaultInjection:
    """The hook that queues a test's marker faults for its body (registered when a test has some).

    Only the calls the test body makes meet them: the fixtures' own creates
    (before) and revokes (after) never do; the unused ones are withdrawn.
    (The marker's rate limits and management policy are set when the test's
    mock starts: see ``apply_options``.)
    """

    def __init__(self, fake: FakeXquikApi) -> None:
        self._fake = fake

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        options = xquik_options(item)
        if options.sets_up_faults and not self._fake.in_use:
            pytest.fail(
                f"{item.nodeid}: @pytest.mark.xquik(fail_... or rate_limits=...) sets up "
                "pytest-xquik's mock, which this test does not use: request xquik_mock (or a key "
                "fixture).",
                pytrace=False,
            )
        queued: list[Fault] = []
        for call, specs in options.faults.items():
            for spec in specs:
                retry_after = options.retry_after if spec == 429 else None
                queued += self._fake.fail_next(call, spec, retry_after=retry_after)
        try:
            yield
        finally:
            self._fake.withdraw(queued)


def apply_options(fake: FakeXquikApi, options: XquikOptions) -> None:
    """Set the marker's management policy and rate limits on the test's fresh mock."""
    if options.management_auth is not None:
        fake.management_auth = options.management_auth
    for bucket, limit, window in options.rate_limits:
        fake.rate_limit(bucket, limit, window=window)
