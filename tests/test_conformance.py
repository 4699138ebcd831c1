"""Every answer of the mock, validated against both published OpenAPI documents of Xquik.

The documents are third-party material kept next to the repository, in
``../shared/references/`` (where CI has them; an unpacked sdist has not, and
this module is then skipped). Each answer of the fake (every status of create,
list, revoke and ``GET /account``; 401, 403, 429) is validated with
openapi-core against the August 2026 document (xquik.com/openapi.json) and the
May 2026 one (the documentation site's).

Where the two documents disagree, and what the fake follows:

- **Who may manage keys** (create, list, revoke). August 2026: only the
  session cookie ``__Host-xquik_session``. May 2026: only an API key or a
  bearer token. The create page the project started from (and the docs'
  authentication table): any of the three. The fake's default policy
  (``xquik_mock_management_auth = any``) follows the create page, the union
  of both; ``session`` follows the August document.
  (:func:`test_who_may_manage_keys_per_document_and_per_policy`)
- **``GET /account``**: both documents (and the authentication table) say an
  API key or a bearer token, never the cookie; the fake refuses the cookie
  under both policies.
- **Undocumented errors of create**: a body that is not JSON (400
  ``invalid_json``, ``invalid_input``) and a ``Content-Type`` other than
  JSON (415 ``unsupported_media_type``, the status and code the August
  document gives for that error on its other JSON endpoints). The August
  document allows them through its ``default`` error response; the May
  document lists no response for them (its create has no ``default``): the
  fake answers them as the August document and the create page say.
- **Base path**: the August document's server is ``https://xquik.com`` with
  paths under ``/api/v1``, the May one's ``https://xquik.com/api/v1``: the
  same URLs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pytest_xquik.api.fake import FakeXquikApi

#: ``../shared/references`` next to the repository; PYTEST_XQUIK_REFERENCES points elsewhere.
REFERENCES = Path(
    os.environ.get("PYTEST_XQUIK_REFERENCES")
    or Path(__file__).resolve().parent.parent.parent / "shared" / "references"
)
DOCUMENTS = {
    "2026-08": "xquik-openapi-2026-08.json",
    "2026-05": "xquik-docs-openapi-2026-05.yaml",
}
pytestmark = pytest.mark.skipif(
    not all((REFERENCES / name).is_file() for name in DOCUMENTS.values()),
    reason=f"the published OpenAPI documents are not in {REFERENCES} (the repository is checked "
    "out without the shared/ directory next to it, e.g. an unpacked sdist)",
)

openapi_core = pytest.importorskip("openapi_core")
from openapi_core import Config, OpenAPI  # noqa: E402
from openapi_core.templating.responses.exceptions import ResponseNotFound  # noqa: E402
from openapi_core.testing import MockRequest, MockResponse  # noqa: E402

BASE = "https://xquik.com/api/v1"
TOKEN = "session-token-of-the-conformance-tests"
COOKIE = "__Host-xquik_session"


@pytest.fixture(scope="module", params=sorted(DOCUMENTS))
def document(request: pytest.FixtureRequest) -> tuple[str, OpenAPI]:
    path = REFERENCES / DOCUMENTS[request.param]
    if path.suffix == ".json":
        spec = json.loads(path.read_text())
    else:
        import yaml

        spec = yaml.safe_load(path.read_text())
    # The documents are someone else's: validating them is not this module's job (and slow).
    return request.param, OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))


@pytest.fixture
def fake() -> Iterator[FakeXquikApi]:
    api = FakeXquikApi(BASE, admin_tokens=[TOKEN], session_cookie_name=COOKIE)
    with api.scope():
        yield api


@pytest.fixture
def client(fake: FakeXquikApi) -> Iterator[httpx.Client]:
    with httpx.Client(transport=httpx.MockTransport(fake.handle)) as client:
        yield client


SESSION = {"Cookie": f"{COOKIE}={TOKEN}"}


def as_openapi(request: httpx.Request, response: httpx.Response) -> tuple[Any, Any]:
    url = request.url
    openapi_request = MockRequest(
        f"{url.scheme}://{url.host}",
        request.method,
        url.path,
        headers=dict(request.headers),
        cookies={COOKIE: TOKEN} if COOKIE in request.headers.get("cookie", "") else None,
        data=request.content or None,
        content_type=request.headers.get("content-type", ""),
    )
    openapi_response = MockResponse(
        response.content,
        status_code=response.status_code,
        headers=dict(response.headers),
        content_type=response.headers.get("content-type", ""),
    )
    return openapi_request, openapi_response


Answer = Callable[[httpx.Client, FakeXquikApi], httpx.Response]


def _key(fake: FakeXquikApi) -> dict[str, str]:
    return {"x-api-key": fake.add_key("user").full_key}


def _create(
    client: httpx.Client, fake: FakeXquikApi, content_type: str | None = None, **kwargs: Any
) -> httpx.Response:
    headers = {**SESSION, "content-type": content_type} if content_type else SESSION
    return client.post(BASE + "/api-keys", headers=headers, **kwargs)


def _at_the_limit(client: httpx.Client, fake: FakeXquikApi) -> httpx.Response:
    for _ in range(100):
        fake.add_key()
    return _create(client, fake, json={"name": "one too many"})


def _rate_limited(bucket: str, send: Answer) -> Answer:
    def answer(client: httpx.Client, fake: FakeXquikApi) -> httpx.Response:
        fake.rate_limit(bucket, 0)  # type: ignore[arg-type]
        return send(client, fake)

    return answer


def _revoke(key_id: str | None = None, headers: dict[str, str] | None = None) -> Answer:
    def answer(client: httpx.Client, fake: FakeXquikApi) -> httpx.Response:
        target = key_id or fake.add_key().id
        return client.delete(BASE + f"/api-keys/{target}", headers=headers or SESSION)

    return answer


def _revoked_twice(client: httpx.Client, fake: FakeXquikApi) -> httpx.Response:
    key = fake.add_key()
    client.delete(BASE + f"/api-keys/{key.id}", headers=SESSION)
    return client.delete(BASE + f"/api-keys/{key.id}", headers=SESSION)


def _list(headers: dict[str, str] | None = None) -> Answer:
    def answer(client: httpx.Client, fake: FakeXquikApi) -> httpx.Response:
        fake.add_key("listed")
        used = fake.add_key("used")
        client.get(BASE + "/account", headers={"x-api-key": used.full_key})  # sets lastUsedAt
        client.delete(BASE + f"/api-keys/{fake.add_key('revoked').id}", headers=SESSION)
        return client.get(BASE + "/api-keys", headers=headers or SESSION)

    return answer


def _account(headers: Callable[[FakeXquikApi], dict[str, str]]) -> Answer:
    def answer(client: httpx.Client, fake: FakeXquikApi) -> httpx.Response:
        return client.get(BASE + "/account", headers=headers(fake))

    return answer


def _json_create(client: httpx.Client, fake: FakeXquikApi) -> httpx.Response:
    return _create(client, fake, json={"name": "conformance"})


ANSWERS: dict[str, tuple[int, Answer]] = {
    "create 201": (201, _json_create),
    "create 401": (401, lambda client, fake: client.post(BASE + "/api-keys", json={})),
    "create 403 at the key limit": (403, _at_the_limit),
    "create 429 rate-limited": (429, _rate_limited("writes", _json_create)),
    "create 429 fault": (
        429,
        lambda client, fake: (fake.fail_next("create", 429), _json_create(client, fake))[1],
    ),
    "create 400 invalid_json": (
        400,
        lambda client, fake: _create(client, fake, "application/json", content=b"{nope"),
    ),
    "create 415 not JSON": (
        415,
        lambda client, fake: _create(client, fake, "text/plain", content=b'{"name": "x"}'),
    ),
    "list 200": (200, _list()),
    "list 401": (401, lambda client, fake: client.get(BASE + "/api-keys")),
    "list 429": (429, _rate_limited("reads", _list())),
    "revoke 200": (200, _revoke()),
    "revoke 400": (400, _revoke("not-a-number")),
    "revoke 404 unknown": (404, _revoke("999999")),
    "revoke 404 already revoked": (404, _revoked_twice),
    "revoke 401": (401, _revoke(headers={"x-api-key": "xq_" + "0" * 64})),
    "revoke 429": (429, _rate_limited("deletes", _revoke())),
    "account 200": (200, _account(_key)),
    "account 200 by bearer": (
        200,
        _account(lambda fake: {"Authorization": "Bearer " + fake.add_key().full_key}),
    ),
    "account 401 session cookie": (401, _account(lambda fake: SESSION)),
    "account 401 no credential": (401, _account(lambda fake: {})),
    "account 429": (429, _rate_limited("reads", _account(_key))),
}

#: The answers a document does not describe (see the module's docstring).
UNDOCUMENTED = {
    "2026-05": {"create 400 invalid_json", "create 415 not JSON"},
    "2026-08": set(),
}


@pytest.mark.parametrize("answer", sorted(ANSWERS))
def test_every_answer_of_the_mock_is_what_the_documents_describe(
    answer: str,
    document: tuple[str, OpenAPI],
    fake: FakeXquikApi,
    client: httpx.Client,
) -> None:
    name, openapi = document
    status, send = ANSWERS[answer]
    response = send(client, fake)
    assert response.status_code == status, response.text
    if status == 429:
        assert int(response.headers["Retry-After"]) == response.json()["retryAfter"] >= 1
    if answer in UNDOCUMENTED[name]:
        with pytest.raises(ResponseNotFound):
            openapi.validate_response(*as_openapi(response.request, response))
        return
    openapi.validate_response(*as_openapi(response.request, response))


CREDENTIALS: dict[str, Callable[[FakeXquikApi], dict[str, str]]] = {
    "session cookie": lambda fake: SESSION,
    "API key": _key,
    "bearer token": lambda fake: {"Authorization": "Bearer " + fake.add_key().full_key},
}
#: Whether each document lets each credential manage keys.
DOCUMENTED_MANAGERS = {
    "2026-08": {"session cookie"},
    "2026-05": {"API key", "bearer token"},
}
#: What the fake lets manage keys under each ``xquik_mock_management_auth``.
POLICIES = {"any": set(CREDENTIALS), "session": {"session cookie"}}


@pytest.mark.parametrize("credential", sorted(CREDENTIALS))
@pytest.mark.parametrize("policy", sorted(POLICIES))
def test_who_may_manage_keys_per_document_and_per_policy(
    credential: str,
    policy: str,
    document: tuple[str, OpenAPI],
    fake: FakeXquikApi,
    client: httpx.Client,
) -> None:
    name, openapi = document
    fake.management_auth = policy  # type: ignore[assignment]
    headers = {**CREDENTIALS[credential](fake), "content-type": "application/json"}
    response = client.post(BASE + "/api-keys", content=b'{"name": "x"}', headers=headers)
    assert response.status_code == (201 if credential in POLICIES[policy] else 401)
    openapi.validate_response(*as_openapi(response.request, response))
    request = as_openapi(response.request, response)[0]
    documented = credential in DOCUMENTED_MANAGERS[name]
    if documented:
        openapi.validate_request(request)
    else:
        with pytest.raises(openapi_core.validation.request.exceptions.SecurityValidationError):
            openapi.validate_request(request)
    # The "session" policy follows the August document exactly; "any" is the union of both.
    if policy == "session":
        assert (response.status_code == 201) == (credential in DOCUMENTED_MANAGERS["2026-08"])
