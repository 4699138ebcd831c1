"""Every ```` ```python ```` block of README.md runs, as written, in a pytest session in mock mode.

Each block is written to a test file of its own (with the imports it shows,
nothing added) and run by pytester, warnings turned into errors as in a strict
suite (``filterwarnings = error``); every test it holds must pass. (The
example suite of ``examples/`` runs in ``tests/test_examples.py``.) HTML
comments on the lines right before a block's fence change what is done with
it, one or more of:

``<!-- readme: fragment -->``
    Not a runnable file (a signature, an excerpt of a test): not run.
``<!-- readme: conftest -->``
    A ``conftest.py``: run with the next runnable block of the README, which
    uses what it declares.
``<!-- readme: needs DIST [DIST ...] -->``
    The block needs these distributions besides pytest-xquik (the SDK
    ``x-twitter-scraper``, ``pytest-asyncio``...); it is skipped where one is
    not installed, as in CI's job on the lowest runtime versions.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.extras import release

README = Path(__file__).parent.parent / "README.md"

_FENCE = re.compile(r"^(?P<indent> *)```python\s*$")
_MARKER = re.compile(r"^\s*<!-- readme: (?P<what>[a-z]+)(?P<args>(?: [\w.-]+)*) -->\s*$")
_KINDS = ("fragment", "conftest", "needs")


class Block(NamedTuple):
    line: int  # of the fence, 1-based
    code: str
    fragment: bool = False
    conftest: bool = False
    needs: tuple[str, ...] = ()


def readme_blocks(text: str) -> list[Block]:
    """The python blocks of ``text``, with what their marker comments say."""
    lines = text.splitlines()
    blocks = []
    for number, line in enumerate(lines):
        fence = _FENCE.match(line)
        if not fence:
            continue
        end = lines.index(fence["indent"] + "```", number + 1)
        code = textwrap.dedent("\n".join(lines[number + 1 : end])) + "\n"
        markers: dict[str, tuple[str, ...]] = {}
        above = number - 1
        while above >= 0 and (marker := _MARKER.match(lines[above])):
            if marker["what"] not in _KINDS:
                raise ValueError(f"README.md:{above + 1}: unknown marker {marker['what']!r}")
            markers[marker["what"]] = tuple(marker["args"].split())
            above -= 1
        blocks.append(
            Block(
                number + 1,
                code,
                fragment="fragment" in markers,
                conftest="conftest" in markers,
                needs=markers.get("needs", ()),
            )
        )
    return blocks


def runnable_blocks() -> list[tuple[Block, Block | None]]:
    """Each block to run, with the conftest block that goes with it."""
    runs: list[tuple[Block, Block | None]] = []
    conftest = None
    for block in readme_blocks(README.read_text(encoding="utf-8")):
        if block.fragment:
            continue
        if block.conftest:
            conftest = block
            continue
        runs.append((block, conftest))
        conftest = None
    return runs


RUNS = runnable_blocks()


@pytest.mark.parametrize(
    ("block", "conftest"), RUNS, ids=[f"README.md:{block.line}" for block, _ in RUNS]
)
def test_the_readme_block_runs_in_mock_mode(
    pytester: pytest.Pytester, block: Block, conftest: Block | None
) -> None:
    needs = block.needs + (conftest.needs if conftest else ())
    missing = [name for name in needs if release(name) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")
    if conftest is not None:
        pytester.makeconftest(conftest.code)
    pytester.makepyfile(**{f"test_readme_{block.line}": block.code})
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    outcomes = result.parseoutcomes()
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    assert outcomes.get("passed", 0) >= 1, result.stdout.str()


def test_markers_are_read_from_the_lines_right_before_the_fence() -> None:
    text = (
        "<!-- readme: fragment -->\n```python\nx = ...\n```\n\n"
        "  <!-- readme: conftest -->\n  <!-- readme: needs pytest-asyncio anyio -->\n"
        "  ```python\n  import pytest\n  ```\n\n"
        "<!-- readme: fragment -->\n\n```python\ndef test_a(): pass\n```\n"
    )
    assert readme_blocks(text) == [
        Block(2, "x = ...\n", fragment=True),
        Block(8, "import pytest\n", conftest=True, needs=("pytest-asyncio", "anyio")),
        Block(14, "def test_a(): pass\n"),
    ]


def test_an_unknown_marker_is_an_error_not_a_block_silently_run() -> None:
    with pytest.raises(ValueError, match=r"README.md:1: unknown marker 'skip'"):
        readme_blocks("<!-- readme: skip -->\n```python\nx = 1\n```\n")
