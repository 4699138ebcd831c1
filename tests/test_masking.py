"""SecretMasker and the masking of values: every form and piece of a secret, nothing else."""

from __future__ import annotations

import collections
import dataclasses
import json
import random
import secrets
import sys
import threading
from urllib.parse import quote, urlencode

import httpx
import pytest

from pytest_xquik.masking import masker as masker_module
from pytest_xquik.masking.masker import (
    KEY_PREFIX,
    MARKER,
    Anchor,
    HexWindows,
    SecretMasker,
    masked_form,
)
from pytest_xquik.masking.redaction import mask_value


@pytest.fixture
def key() -> str:
    return "xq_" + secrets.token_hex(32)


@pytest.fixture
def masker(key: str) -> SecretMasker:
    masker = SecretMasker()
    masker.register(key)
    return masker


def test_the_masked_form_of_a_key_keeps_its_public_prefix(key: str) -> None:
    assert masked_form(key) == key[:8] + "[MASKED]"
    assert masked_form("a-bearer-token") == "[MASKED]"


@pytest.mark.parametrize(
    "template",
    [
        "{}",
        "x-api-key: {}",
        "Authorization: Bearer {}",
        "{}{}",
        "deadbeef{}cafe",
    ],
)
def test_a_key_is_masked_on_its_own_and_inside_longer_text(
    masker: SecretMasker, key: str, template: str
) -> None:
    masked = masker.mask(template.format(key, key))
    assert key[8:20] not in masked
    assert masked_form(key) in masked


def test_the_encoded_forms_of_a_key_are_masked(masker: SecretMasker, key: str) -> None:
    texts = [
        json.dumps({"fullKey": key}),
        repr({"headers": [("x-api-key", key)]}),
        urlencode({"api_key": key}),
        repr(httpx.Headers({"x-api-key": key})),
        repr(httpx.Request("GET", "https://xquik.com/api/v1/account", params={"k": key})),
    ]
    for text in texts:
        assert key[8:20] not in masker.mask(text)


def test_a_secret_of_another_format_is_masked_in_its_encoded_forms() -> None:
    token = "t0k/en+" + secrets.token_urlsafe(24) + '"\\'
    masker = SecretMasker()
    masker.register(token)
    for text in [
        token,
        json.dumps(token),
        repr(token),
        quote(token, safe=""),
        urlencode({"t": token}),
    ]:
        assert masker.mask(text).count("[MASKED]") == 1, text
        assert token[7:19] not in masker.mask(text)


def test_a_short_secret_is_masked_in_a_short_text() -> None:
    masker = SecretMasker()
    masker.register("s3cr")
    assert masker.mask("s3cr") == "[MASKED]"
    assert masker.mask(".") == "."


@pytest.mark.parametrize("ellipsis", ["...", "…"])
def test_pieces_of_a_key_beside_an_ellipsis_are_masked(
    masker: SecretMasker, key: str, ellipsis: str
) -> None:
    assert masker.mask(f"'{key[:20]}{ellipsis}'") == f"'{key[:8]}[MASKED]{ellipsis}'"
    assert masker.mask(f"'{ellipsis}{key[30:]}'") == f"'{ellipsis}[MASKED]'"
    assert masker.mask(f"{ellipsis}{key[10:40]}{ellipsis}") == f"{ellipsis}[MASKED]{ellipsis}"


def test_a_piece_in_a_run_of_token_characters_that_touches_an_ellipsis_is_masked(
    masker: SecretMasker, key: str
) -> None:
    assert masker.mask(f"'...xq_0123456789_{key[30:]}'") == "'...xq_0123456789_[MASKED]'"
    assert masker.mask(f"'{key[40:]}_xq_0123456789Z...'") == "'[MASKED]_xq_0123456789Z...'"


def test_a_piece_right_after_a_whole_key_is_masked(key: str) -> None:
    other = "xq_" + secrets.token_hex(32)
    masker = SecretMasker(backstop=False)
    for secret in (key, other):
        masker.register(secret)
    assert masker.mask(f"{key}{other[20:40]} ") == f"{masked_form(key)} "
    glue = "caf" + unlike(other[19])
    assert masker.mask(f"{key}{glue}{other[20:40]} ") == f"{masked_form(key)}{glue}[MASKED] "


def unlike(digit: str) -> str:
    """A hex digit other than ``digit``: glued to a piece where the key has ``digit``,
    it does not make the piece longer."""
    return "1" if digit != "1" else "2"


def every_piece(secret: str) -> list[str]:
    """Every run of 8 or more characters of ``secret``."""
    return [
        secret[start:end]
        for start in range(len(secret) - 7)
        for end in range(start + 8, len(secret) + 1)
    ]


def assert_no_window(text: str, digits: str) -> None:
    """No 8 consecutive characters of ``digits`` are in ``text``."""
    windows = [digits[i : i + 8] for i in range(len(digits) - 7)]
    assert not [window for window in windows if window in text], text


@pytest.mark.parametrize(
    "template",
    ["'{}'", "{}", "[52 chars]{}[3 chars]", "- {}\n", "b'{}'", "'...{}'", "«é…{}…»", "🔑 {} 🔑"],
)
def test_every_piece_of_a_key_is_masked_wherever_it_is(key: str, template: str) -> None:
    masker = SecretMasker(backstop=False)
    masker.register(key)
    for piece in every_piece(key[3:]):
        for case in (piece, piece.upper()):
            text = template.format(case)
            assert masker.mask(text) == text.replace(case, "[MASKED]"), case


@pytest.mark.parametrize("template", ["deadbeef{}cafe", "%22{}%22", "0x{}"])
def test_every_piece_of_a_key_glued_to_other_hex_is_masked(key: str, template: str) -> None:
    masker = SecretMasker(backstop=False)
    masker.register(key)
    for piece in every_piece(key[3:]):
        masked = masker.mask(template.format(piece))
        # The key's own digits may go on into the glued ones: the piece is then longer.
        assert masked.count("[MASKED]") == 1, masked
        assert_no_window(masked, key[3:])


def test_a_piece_after_xq_keeps_the_public_prefix_of_the_key(key: str) -> None:
    for masker in (SecretMasker(), SecretMasker(backstop=False)):
        masker.register(key)
        for end in range(11, len(key)):
            for piece in (key[:end], KEY_PREFIX + key[3:end].upper()):
                assert masker.mask(f"'{piece}'") == f"'{piece[:8]}[MASKED]'"


def test_pieces_of_several_keys_glued_together_are_masked_and_nothing_else() -> None:
    keys = ["xq_" + secrets.token_hex(32) for _ in range(3)]
    masker = SecretMasker()
    for key in keys:
        masker.register(key)
    glue = f"{unlike(keys[1][30])}12{unlike(keys[2][49])}"
    text = f"id={keys[0][20:40]}{keys[1][3:30]}{glue}{keys[2][50:]}&"
    assert masker.mask(text) == f"id=[MASKED]{glue}[MASKED]&"
    shorter = f"'{keys[0][10:17]}' '{keys[1][20:27]}' a1b2c3d4e5f60718 {secrets.token_hex(32)}"
    assert masker.mask(shorter) == shorter


def test_a_secret_of_another_format_loses_its_hex_runs_and_its_cut_ends() -> None:
    token = "tok-" + secrets.token_hex(12) + "-" + secrets.token_urlsafe(18)
    masker = SecretMasker()
    masker.register(token)
    hex_run = token[4:28]
    assert masker.mask(f"[4 chars]{hex_run[3:15]}[9 chars]") == "[4 chars][MASKED][9 chars]"
    assert masker.mask(f"'Bearer {token[:12]}...'") == "'Bearer [MASKED]...'"
    assert masker.mask(f"'...{token[-12:]}'") == "'...[MASKED]'"
    assert masker.mask(f"'...{token[-12:]}&x=1'") == "'...[MASKED]&x=1'"


@pytest.mark.parametrize("density", [0, 1, 8, 64, 700, 5000])
def test_an_anchor_is_found_exactly_however_common_its_characters(density: int) -> None:
    # Texts of dots and the piece's own characters, each about every `density` characters
    # (the rarest characters are common in some), then the piece put in at each of the
    # first places, where the search turns from a common character to the next, and at one
    # place further on.
    rng = random.Random(density)
    for _ in range(60):
        piece = "".join(rng.choices("aZq-9_Kx", k=8))
        anchor = Anchor.of(piece)
        weights = [1] * len(piece) + [len(piece) * (density - 1) if density else 1]
        text = "".join(rng.choices([*piece, "."], weights, k=3_000)) if density else "." * 3_000
        assert anchor.is_in(text) == (piece in text), (piece, text)
        for at in [*range(24), rng.randrange(len(text) - len(piece))]:
            assert anchor.is_in(text[:at] + piece + text[at + len(piece) :]), (piece, at)
    assert Anchor.of("abcdefgh").is_in("abcdefgh")


def test_a_cut_secret_of_another_format_is_masked_where_its_characters_are_common() -> None:
    token = secrets.token_urlsafe(24)
    masker = SecretMasker()
    masker.register(token)
    # Every character of the token, often, before the cut pieces (and no ellipsis there).
    common = ("".join(sorted(set(token))) + " ") * 5_000
    text = f"{common}'Bearer {token[:12]}...' '...{token[-9:]}' {token} {common}"
    masked = masker.mask(text)
    assert masked == f"{common}'Bearer [MASKED]...' '...[MASKED]' [MASKED] {common}"


def test_the_end_of_a_key_in_either_case_is_one_piece_and_nothing_around_it() -> None:
    key = "xq_" + secrets.token_hex(32)
    masker = SecretMasker(backstop=False)
    masker.register(key)
    hex_digits = key[3:]
    assert masker.mask(f"'...{hex_digits[30:].upper()}'") == "'...[MASKED]'"
    # A run that ends like the key but is no end of it: only the true piece goes.
    other = unlike(hex_digits[29]) + hex_digits[30:]
    assert masker.mask(f"'...cafe{other}'") == f"'...cafe{other[0]}[MASKED]'"


def test_hex_windows_are_found_whatever_their_case_and_survive_growth() -> None:
    windows = HexWindows()
    # Seeded: with random runs, a glued window would now and then (about one run in a
    # hundred) be one of the 11,400 others by chance, and the stretches would join.
    rng = random.Random(2026)
    runs = [f"{rng.getrandbits(256):064x}" for _ in range(200)]
    assert windows.add_run("00000000")
    for run in runs:
        assert windows.add_run(run)
    assert not windows.add_run(runs[0])
    assert len(windows) == 1 + sum(len(run) - 7 for run in runs)
    assert windows.spans("00000000") == [(0, 8)]
    for run in runs:
        glued = (
            f"00{unlike(run[8])}{run[9:17].upper()}{unlike(run[17])}12{unlike(run[39])}{run[40:]}"
        )
        assert windows.spans(glued) == [(3, 11), (15, 39)]
    assert windows.spans("0123abcd") == []


def test_listeners_hear_each_new_secret_once(key: str) -> None:
    masker, heard = SecretMasker(), []
    masker.listeners.append(heard.append)
    for secret in (key, key, "bearer-token", "bearer-token", "xq_" + secrets.token_hex(32)):
        masker.register(secret)
    assert heard[:2] == [key, "bearer-token"]
    assert len(heard) == 3


def test_hex_beside_an_ellipsis_that_is_no_piece_of_a_secret_stays(masker: SecretMasker) -> None:
    text = "commit 4f2a9c81d0e3b7a6...9f8e7d6c5b4a3f2e retrying..."
    assert masker.mask(text) == text


def test_the_backstop_masks_keys_nobody_registered_unless_turned_off(key: str) -> None:
    unknown = "xq_" + secrets.token_hex(32)
    shouted = "xq_" + secrets.token_hex(32).upper()
    with_backstop, without = SecretMasker(), SecretMasker(backstop=False)
    for masker in (with_backstop, without):
        masker.register(key)
    text = f"{unknown} {key} '{unknown[:30]}...' {shouted}"
    assert with_backstop.mask(text) == (
        f"{masked_form(unknown)} {masked_form(key)} '{masked_form(unknown)}...' "
        f"{masked_form(shouted)}"
    )
    assert without.mask(text) == f"{unknown} {masked_form(key)} '{unknown[:30]}...' {shouted}"


def test_text_without_secrets_is_returned_unchanged(masker: SecretMasker) -> None:
    text = "xq_ is the prefix; xq_a1b2c is public; ... and … are ellipses\n" * 3
    assert masker.mask(text) == text


def test_masking_is_idempotent(masker: SecretMasker, key: str) -> None:
    once = masker.mask(f"{key} '{key[:30]}...' '...{key[20:]}'")
    assert masker.mask(once) == once


@dataclasses.dataclass
class Body:
    full_key: str
    id: str


def test_mask_value_masks_strings_inside_containers_and_keeps_their_types(key: str) -> None:
    masker = SecretMasker()
    masker.register(key)
    value = {
        "list": [key, 1],
        "tuple": (key,),
        "set": {key},
        "ordered": collections.OrderedDict(k=key),
        "default": collections.defaultdict(list, k=[key]),
        "body": Body(key, "42"),
        "bytes": key.encode(),
    }
    masked = mask_value(value, masker)
    assert key[8:20] not in repr(masked)
    assert masked["list"] == [masked_form(key), 1]
    assert isinstance(masked["ordered"], collections.OrderedDict)
    assert masked["default"].default_factory is list
    assert masked["body"] == Body(masked_form(key), "42")
    assert value["list"] == [key, 1]  # the original is untouched


def test_mask_value_returns_the_value_itself_when_it_holds_no_secret(masker: SecretMasker) -> None:
    value: list[object] = [{"a": ("b", 1)}, "c"]
    value.append(value)
    assert mask_value(value, masker) is value


#: The masker looks at the hex digits of a text this many characters at a time.
WINDOW = masker_module._WINDOW


@pytest.mark.parametrize("before", [WINDOW - 40, WINDOW - 3, WINDOW, WINDOW + 1])
def test_a_key_across_the_windows_of_a_long_text_is_masked(key: str, before: int) -> None:
    masker = SecretMasker(backstop=False)
    masker.register(key)
    text = "x" * before + f"{key} and {key[10:40]}" + "y" * WINDOW
    expected = "x" * before + f"{masked_form(key)} and {MARKER}" + "y" * WINDOW
    assert masker.mask(text) == expected


def test_a_run_of_hex_digits_longer_than_a_window_is_looked_at_whole(key: str) -> None:
    masker = SecretMasker(backstop=False)
    masker.register(key)
    run = "-" * (WINDOW - 100) + "0" * (WINDOW - 30) + key[3:] + "0" * 9
    assert masker.mask(run) == "-" * (WINDOW - 100) + "0" * (WINDOW - 30) + MARKER + "0" * 9


def test_secrets_registered_while_another_thread_masks_raise_nothing_and_are_masked() -> None:
    tokens = [secrets.token_urlsafe(24) for _ in range(200)]
    masker = SecretMasker()
    text = " ".join(f"'{token[:12]}...' {token}" for token in tokens[::20])
    errors: list[BaseException] = []
    done = threading.Event()

    def mask_until_done() -> None:
        try:
            while not done.is_set():
                masker.mask(text)
        except BaseException as error:
            errors.append(error)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    thread = threading.Thread(target=mask_until_done)
    thread.start()
    try:
        for token in tokens:
            masker.register(token)
    finally:
        done.set()
        thread.join()
        sys.setswitchinterval(interval)
    assert errors == []
    assert masker.mask(text) == " ".join(["'[MASKED]...' [MASKED]"] * 10)
