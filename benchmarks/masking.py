"""Throughput of SecretMasker.mask against one ``str.replace``, measured in the same run.

Run: ``python benchmarks/masking.py``. The text is 10 MB of captured output
(log lines, tracebacks) holding 10,000 occurrences of keys, eight in ten
whole (in headers, JSON, URLs), two in ten cut next to a ``...`` the way
pytest shortens values, with 1,000 registered secrets; the
reference is ``text.replace(secret, masked)`` of one secret over the same
text. The issue's target: the ratio stays at or below 10.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Callable

from pytest_xquik.masking import SecretMasker, masked_form

SIZE = 10_000_000
OCCURRENCES = 10_000
REGISTERED = 1_000
ROUNDS = 5

FILLER = [
    "2026-11-27 11:02:03 DEBUG    httpcore.http11:_trace.py:87 receive_response_body.complete\n",
    "tests/test_orders.py::test_checkout_applies_the_discount[visa-EUR] PASSED           [ 42%]\n",
    'E       AssertionError: assert {"status": "ok", "items": [1, 2, 3]} == {"status": "ok"}\n',
    "WARNING  app.retry:retry.py:52 connection reset, retrying in 0.5s...\n",
    "    def test_account(client):\n>       response = client.get('/account')\n",
    "INFO     app.worker:worker.py:118 processed batch 7f3a9c (1024 rows) in 0.41s\n",
]


def build_text(keys: list[str]) -> str:
    rng = random.Random(3)
    lines: list[str] = []
    size = 0
    per_occurrence = SIZE // OCCURRENCES
    for _ in range(OCCURRENCES):
        key = rng.choice(keys)
        leak = rng.choices(
            [
                f"DEBUG    app.client:client.py:40 headers={{'x-api-key': '{key}'}}\n",
                f'{{"id": "1042", "fullKey": "{key}", "prefix": "{key[:8]}"}}\n',
                f"GET https://example.com/hook?api_key={key}&page=2\n",
                f"E       AssertionError: assert 'Bearer {key[:20]}...' == 'Bearer'\n",
                f"E        +  where '...{key[30:]}' = body\n",
            ],
            weights=[3, 3, 2, 1, 1],
        )[0]
        lines.append(leak)
        chunk = 0
        while chunk < per_occurrence - len(leak):
            line = rng.choice(FILLER)
            lines.append(line)
            chunk += len(line)
        size += chunk + len(leak)
    return "".join(lines)[:SIZE]


def best_of(function: Callable[[], object]) -> float:
    timings = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        function()
        timings.append(time.perf_counter() - started)
    return min(timings)


def main() -> None:
    keys = ["xq_" + secrets.token_hex(32) for _ in range(REGISTERED)]
    masker = SecretMasker()
    masker.register(secrets.token_urlsafe(24))  # a management credential of another format
    for key in keys:
        masker.register(key)
    text = build_text(keys)
    masked = masker.mask(text)
    assert not any(key[12:24] in masked for key in keys), "a key survived the masking"

    one = keys[0]
    replace = best_of(lambda: text.replace(one, masked_form(one)))
    mask = best_of(lambda: masker.mask(text))
    single = SecretMasker()
    single.register(one)
    mask_single = best_of(lambda: single.mask(text))
    megabytes = len(text) / 1e6
    print(f"text: {megabytes:.1f} MB, {OCCURRENCES} occurrences, {REGISTERED} registered keys")
    print(f"str.replace of one secret: {megabytes / replace:8.1f} MB/s ({replace * 1e3:.1f} ms)")
    print(f"SecretMasker.mask:         {megabytes / mask:8.1f} MB/s ({mask * 1e3:.1f} ms)")
    print(f"ratio (mask / replace):    {mask / replace:8.1f}x (target <= 10x)")
    print(f"SecretMasker.mask with one registered key: {megabytes / mask_single:.1f} MB/s")


if __name__ == "__main__":
    main()
