"""The package as installed: entry point, public names, fixtures' docs, no side effects."""

from __future__ import annotations

import subprocess
import sys

import pytest

import pytest_xquik


def test_the_fixtures_are_listed_with_their_docstrings(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--fixtures")
    result.stdout.fnmatch_lines(["*fixtures defined from pytest_xquik.fixtures*"])
    for header, doc in [
        ("xquik_admin [[]session scope[]] -- *", "*The management client the fixtures use*"),
        ("xquik_api_key -- *", "*A fresh scratch API key*"),
        ("xquik_api_key_factory -- *", "*A factory of scratch keys*"),
        ("xquik_client -- *", "*An ``httpx.Client`` for the base URL*"),
        ("xquik_mock -- *", "*The fake Xquik API of this test*"),
    ]:
        result.stdout.fnmatch_lines([header, doc])


def test_the_plugin_is_enabled_by_its_entry_point_and_disabled_by_p_no_xquik(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile("def test_key(xquik_api_key):\n    assert xquik_api_key.id\n")
    pytester.runpytest().assert_outcomes(passed=1)
    result = pytester.runpytest("-p", "no:xquik")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'xquik_api_key' not found*"])


def test_importing_the_package_patches_nothing_and_sends_nothing() -> None:
    code = (
        "import socket\n"
        "def refuse(*args, **kwargs): raise AssertionError('network used at import')\n"
        "socket.socket.connect = refuse\n"
        "import pytest_xquik, pytest_xquik.plugin\n"
        "from respx.mocks import HTTPCoreMocker, HTTPXMocker\n"
        "assert HTTPCoreMocker.routers == [] and HTTPXMocker.routers == []\n"
        "assert HTTPCoreMocker._patches == []\n"
        "print('clean')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.stdout == "clean\n", result.stderr


def test_the_public_names_are_exported() -> None:
    for name in pytest_xquik.__all__:
        assert getattr(pytest_xquik, name) is not None
    assert {"ScratchKey", "XquikAdmin", "FakeXquikApi", "XquikApiError"} <= set(
        pytest_xquik.__all__
    )


def test_the_version_is_the_installed_distributions() -> None:
    from importlib.metadata import version

    assert pytest_xquik.__version__ == version("pytest-xquik")
    assert pytest_xquik.__version__[0].isdigit()
