"""The typed objects the key endpoints return."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime
from typing import Any

from pytest_xquik.masking.masker import masked_form

KEY_PATTERN = re.compile(r"xq_[0-9a-f]{64}")


class SecretKey(str):
    """A key's secret: a plain ``str`` everywhere, but its ``repr`` shows only the prefix.

    It can be sent as a header value or passed to any SDK, since it *is* the
    string; only ``repr()`` (used by pytest, debuggers and containers) hides it.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(masked_form(self))


def describe_key(key_id: str, prefix: str, name: str) -> str:
    """How messages name a key: id, prefix and name, never the secret."""
    return f"key id={key_id} prefix={prefix} name={name!r}"


def parse_timestamp(value: str) -> datetime:
    """Parse the API's ISO 8601 timestamps (``2026-02-24T10:30:00.000Z``) as aware datetimes."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp {value!r} has no time zone")
    return parsed


@dataclasses.dataclass(frozen=True)
class ScratchKey:
    """A key the plugin created for a test; revoked when its fixture ends.

    ``full_key`` is the secret (``xq_`` + 64 hex characters) as a ``str``;
    ``headers`` is ready to pass to an httpx client or request.
    """

    id: str
    name: str
    prefix: str
    created_at: datetime
    full_key: SecretKey

    @property
    def headers(self) -> dict[str, str]:
        """``{"x-api-key": full_key}``, the way the API expects a key."""
        return {"x-api-key": self.full_key}

    @classmethod
    def from_response(cls, body: dict[str, Any]) -> ScratchKey:
        """Build from the 201 body of ``POST /api-keys``."""
        return cls(
            id=str(body["id"]),
            name=str(body["name"]),
            prefix=str(body["prefix"]),
            created_at=parse_timestamp(str(body["createdAt"])),
            full_key=SecretKey(body["fullKey"]),
        )


@dataclasses.dataclass(frozen=True)
class ApiKeyInfo:
    """One entry of ``GET /api-keys``: everything about a key but its secret."""

    id: str
    name: str
    prefix: str
    is_active: bool
    created_at: datetime
    last_used_at: datetime | None = None

    @classmethod
    def from_response(cls, item: dict[str, Any]) -> ApiKeyInfo:
        """Build from one item of the list body's ``keys``."""
        last_used = item.get("lastUsedAt")
        return cls(
            id=str(item["id"]),
            name=str(item["name"]),
            prefix=str(item["prefix"]),
            is_active=bool(item.get("isActive", True)),
            created_at=parse_timestamp(str(item["createdAt"])),
            last_used_at=parse_timestamp(str(last_used)) if last_used else None,
        )
