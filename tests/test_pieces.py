"""Pieces of a key are masked wherever a tool cut it: unittest, pytest's diffs, bytes reprs.

Each test writes a user's test file whose failure shows a live scratch key
(from the loopback server) cut short by another tool than pytest's own
shortening, runs pytest, and checks that no run of 8 characters of the key
(past its public prefix) is anywhere in the output or the files the run wrote.
"""

from __future__ import annotations

import pytest

from tests.leaks import assert_no_secret, server_secrets
from tests.xquik_server import XquikServer

#: Every run of this many characters of a key past its public prefix is masked.
PIECE = 8

UNITTEST = """
import unittest

import pytest


class TestKeys(unittest.TestCase):
    @pytest.fixture(autouse=True)
    def _key(self, xquik_api_key):
        self.key = str(xquik_api_key.full_key)

    def test_long_strings_are_equal(self):
        self.assertEqual("x" * 30 + self.key + "y" * 30, "x" * 30 + self.key + "z" * 30)

    def test_strings_that_differ_in_the_key_are_equal(self):
        self.assertEqual("header " + self.key + " trailer", "header " + self.key[:40])

    def test_dicts_are_equal(self):
        self.assertDictEqual(
            {"fullKey": self.key, "padding": "p" * 80}, {"fullKey": self.key, "padding": "q"}
        )

    def test_lists_are_equal(self):
        self.assertListEqual([self.key, "a" * 80], [self.key, "b" * 80])
"""


def test_unittest_shortened_values_show_no_piece_of_a_key(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    pytester.makepyfile(test_unit=UNITTEST)
    result = pytester.runpytest(
        "--junitxml=junit.xml", "-o", "junit_logging=all", "-o", "junit_family=xunit1"
    )
    result.assert_outcomes(failed=4)
    assert "chars]" in result.stdout.str()  # unittest did shorten the values
    assert_no_secret(
        result,
        pytester.path,
        server_secrets(live),
        masked_in=["stdout", "junit.xml"],
        run_length=PIECE,
    )


BYTES = """
def test_bytearrays_are_equal(xquik_api_key):
    key = str(xquik_api_key.full_key).encode()
    assert bytearray(b"header " + key + b" trailer") == bytearray(b"header " + key[:50] + b"!")

def test_bytes_are_equal(xquik_api_key):
    key = str(xquik_api_key.full_key).encode()
    assert b"x-api-key: " + key + b"; " + b"padding " * 10 == b"x-api-key: " + key + b"."
"""


def test_bytes_and_bytearray_diffs_show_no_piece_of_a_key(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    pytester.makepyfile(test_bytes=BYTES)
    result = pytester.runpytest("-vv")
    result.assert_outcomes(failed=2)
    assert_no_secret(result, pytester.path, server_secrets(live), run_length=PIECE)


SKIPPING = """
import attrs


@attrs.define
class Headers:
    authorization: str


def test_attrs_instances_differ_late_in_the_key(xquik_api_key):
    key = str(xquik_api_key.full_key)
    assert Headers("Bearer " + key) == Headers("Bearer " + key[:60] + "....")
"""


def test_skipping_identical_leading_characters_shows_no_piece_of_a_key(
    pytester: pytest.Pytester, live: XquikServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    pytester.makepyfile(test_skipping=SKIPPING)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*Skipping * identical leading characters in diff*"])
    assert_no_secret(result, pytester.path, server_secrets(live), run_length=PIECE)


WRAPPED = """
class Opaque:
    def __init__(self, lines):
        self.lines = lines

    def __eq__(self, other):
        return False

    def __repr__(self):
        return "\\n".join(self.lines)


def test_a_key_wrapped_over_lines(xquik_api_key):
    key = str(xquik_api_key.full_key)
    wrapped = Opaque([key[:30], key[30:50], key[50:]])
    assert wrapped == ["x-api-key: " + key[i : i + 16] for i in range(0, len(key), 16)]
"""


@pytest.mark.parametrize("verbosity", [[], ["-vv"]], ids=["default", "-vv"])
def test_a_key_wrapped_over_diff_lines_shows_no_piece_of_it(
    pytester: pytest.Pytester, live: XquikServer, verbosity: list[str]
) -> None:
    pytester.makepyfile(test_wrapped=WRAPPED)
    result = pytester.runpytest(*verbosity)
    result.assert_outcomes(failed=1)
    assert_no_secret(result, pytester.path, server_secrets(live), run_length=PIECE)


SPLIT = """
import sys

def test_prints_a_key_in_two_writes(xquik_api_key):
    key = str(xquik_api_key.full_key)
    sys.stdout.write(key[:30])
    sys.stdout.write(key[30:] + "\\n")
"""


def test_a_key_written_in_two_writes_with_capture_off_shows_no_piece_of_it(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    pytester.makepyfile(test_split=SPLIT)
    result = pytester.runpytest_subprocess("-s")
    result.assert_outcomes(passed=1)
    assert_no_secret(result, pytester.path, server_secrets(live), run_length=PIECE)
