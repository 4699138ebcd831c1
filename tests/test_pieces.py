"""Pieces of a key are masked wherever a tool cut it: unittest, pytest's diffs, bytes reprs.

Each case writes a user's test file whose output shows a live scratch key
(from the loopback server) cut by another tool than pytest's own shortening,
or split over two writes, runs pytest, and checks that no run of 8 characters
of the key (past its public prefix) is anywhere in the output or the files
the run wrote.
"""

from __future__ import annotations

import dataclasses

import pytest

from tests.extras import needs
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


BYTES = """
def test_bytearrays_are_equal(xquik_api_key):
    key = str(xquik_api_key.full_key).encode()
    assert bytearray(b"header " + key + b" trailer") == bytearray(b"header " + key[:50] + b"!")

def test_bytes_are_equal(xquik_api_key):
    key = str(xquik_api_key.full_key).encode()
    assert b"x-api-key: " + key + b"; " + b"padding " * 10 == b"x-api-key: " + key + b"."
"""


SKIPPING = """
import attrs


@attrs.define
class Headers:
    authorization: str


def test_attrs_instances_differ_late_in_the_key(xquik_api_key):
    key = str(xquik_api_key.full_key)
    assert Headers("Bearer " + key) == Headers("Bearer " + key[:60] + "....")
"""


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


SPLIT = """
import sys

def test_prints_a_key_in_two_writes(xquik_api_key):
    key = str(xquik_api_key.full_key)
    sys.stdout.write(key[:30])
    sys.stdout.write(key[30:] + "\\n")
"""


@dataclasses.dataclass(frozen=True)
class Cut:
    """A user's test file whose output cuts a key, and how to run it."""

    source: str
    args: tuple[str, ...]
    outcomes: dict[str, int]
    #: A line of stdout (fnmatch) that shows the tool did cut the value.
    evidence: str = "*"
    environment: tuple[tuple[str, str], ...] = ()
    masked_in: tuple[str, ...] = ("stdout",)
    subprocess: bool = False


JUNIT = ("--junitxml=junit.xml", "-o", "junit_logging=all", "-o", "junit_family=xunit1")

CUTS = {
    "unittest [N chars], terminal and JUnit XML": Cut(
        UNITTEST, JUNIT, {"failed": 4}, "*chars]*", masked_in=("stdout", "junit.xml")
    ),
    "bytes and bytearray diffs, -vv": Cut(BYTES, ("-vv",), {"failed": 2}),
    "attrs diff under CI, skipping leading characters": Cut(
        SKIPPING,
        (),
        {"failed": 1},
        "*Skipping * identical leading characters in diff*",
        environment=(("CI", "true"),),
    ),
    "wrapped over diff lines": Cut(WRAPPED, (), {"failed": 1}),
    "wrapped over diff lines, -vv": Cut(WRAPPED, ("-vv",), {"failed": 1}),
    "two writes with capture off": Cut(SPLIT, ("-s",), {"passed": 1}, subprocess=True),
}


@pytest.mark.parametrize(
    "cut",
    [
        pytest.param(cut, marks=needs("attrs") if "attrs" in name else ())
        for name, cut in CUTS.items()
    ],
    ids=CUTS,
)
def test_a_key_cut_by_another_tool_shows_no_piece_of_it(
    pytester: pytest.Pytester, live: XquikServer, monkeypatch: pytest.MonkeyPatch, cut: Cut
) -> None:
    for name, value in cut.environment:
        monkeypatch.setenv(name, value)
    pytester.makepyfile(cut.source)
    run = pytester.runpytest_subprocess if cut.subprocess else pytester.runpytest
    result = run(*cut.args)
    result.assert_outcomes(**cut.outcomes)
    result.stdout.fnmatch_lines([cut.evidence])
    assert_no_secret(
        result, pytester.path, server_secrets(live), masked_in=cut.masked_in, run_length=PIECE
    )
