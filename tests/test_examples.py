"""The example downstream suite passes in both modes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.extras import needs
from tests.xquik_server import XquikServer

pytestmark = needs("x-twitter-scraper", "pytest-asyncio")

EXAMPLES = Path(__file__).parent.parent / "examples"


def copy_examples(pytester: pytest.Pytester) -> None:
    for source in EXAMPLES.iterdir():
        if source.is_file():
            shutil.copy(source, pytester.path / source.name)


def test_the_example_suite_passes_in_mock_mode(pytester: pytest.Pytester) -> None:
    copy_examples(pytester)
    pytester.runpytest_subprocess().assert_outcomes(passed=6)


def test_the_example_suite_passes_in_live_mode_and_leaves_no_key(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    copy_examples(pytester)
    result = pytester.runpytest_subprocess("-rs")
    result.assert_outcomes(passed=5, skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED * xquik_mock exists only in mock mode*"])
    assert len(live.scratch_keys()) == 5
    assert live.scratch_keys(active=True) == []
    assert all(key.name.startswith("example-app ") for key in live.scratch_keys())
