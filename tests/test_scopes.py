"""``api_key_fixture()``: keys shared by a class, module, package or session, revoked at its end."""

from __future__ import annotations

import pytest

import pytest_xquik
from tests.xquik_server import XquikServer

CONFTEST = """
import os

import pytest
import pytest_xquik

BASE_URL = os.environ.get("XQUIK_BASE_URL", "https://xquik.com/api/v1")

session_key = pytest_xquik.api_key_fixture(scope="session", name="whole-run")
module_key = pytest_xquik.api_key_fixture(scope="module", name="per-module")
class_key = pytest_xquik.api_key_fixture(scope="class")


@pytest.fixture(scope="session")
def seen():
    '''The ids of the keys earlier tests saw, by label.'''
    return {}


@pytest.fixture
def active(xquik_admin):
    '''Whether the service still has key ``key_id`` active (a revoked key may be unlisted).'''
    def active(key_id):
        return any(key.id == key_id and key.is_active for key in xquik_admin.list())
    return active
"""

TEST_A = """
import httpx
from conftest import BASE_URL

class TestFirst:
    def test_one(self, class_key, module_key, session_key, seen, active):
        seen.update(class1=class_key.id, module_a=module_key.id, session=session_key.id)
        assert len({class_key.id, module_key.id, session_key.id}) == 3
        assert class_key.name.endswith(" test_a.py::TestFirst")
        assert module_key.name.endswith(" per-module test_a.py")
        assert session_key.name.endswith(" whole-run (session)")

    def test_two(self, class_key, module_key, seen, active):
        assert class_key.id == seen["class1"] and active(class_key.id)
        # The wider key works for the code under test (in mock mode: the fake kept it).
        response = httpx.get(BASE_URL + "/account", headers=module_key.headers)
        assert response.status_code == 200

class TestSecond:
    def test_three(self, class_key, module_key, seen, active):
        assert class_key.id != seen["class1"]
        assert not active(seen["class1"]), "revoked when TestFirst ended"
        assert module_key.id == seen["module_a"] and active(module_key.id)
"""

TEST_B = """
def test_four(module_key, session_key, seen, active):
    assert module_key.id != seen["module_a"]
    assert not active(seen["module_a"]), "revoked when test_a.py ended"
    assert session_key.id == seen["session"] and active(session_key.id)
    seen["module_b"] = module_key.id
"""

PACKAGE_CONFTEST = """
import pytest_xquik

package_key = pytest_xquik.api_key_fixture(scope="package", name="per-package")
"""

TEST_FIVE = """
def test_five(package_key, seen, active):
    assert not active(seen["module_b"]), "revoked when test_b.py ended"
    assert package_key.name.endswith(" per-package pkg")
    seen["package"] = package_key.id
"""

TEST_SIX = """
def test_six(package_key, seen, active):
    assert package_key.id == seen["package"] and active(package_key.id)
"""

TEST_Z = """
def test_seven(session_key, seen, active):
    assert not active(seen["package"]), "revoked when pkg ended"
    assert session_key.id == seen["session"] and active(session_key.id)
"""


def write_suite(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_a=TEST_A, test_b=TEST_B, test_z=TEST_Z)
    package = pytester.mkpydir("pkg")
    (package / "conftest.py").write_text(PACKAGE_CONFTEST)
    (package / "test_five.py").write_text(TEST_FIVE)
    (package / "test_six.py").write_text(TEST_SIX)


ORDER = ("-p", "no:randomly", "test_a.py", "test_b.py", "pkg", "test_z.py")


def test_wider_keys_live_exactly_as_long_as_their_scope_in_mock_mode(
    pytester: pytest.Pytester,
) -> None:
    write_suite(pytester)
    pytester.runpytest(*ORDER).assert_outcomes(passed=7)


def test_wider_keys_are_revoked_on_the_service_when_their_scope_ends(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    write_suite(pytester)
    pytester.runpytest(*ORDER).assert_outcomes(passed=7)
    keys = live.scratch_keys()
    labels = sorted(key.name.split(" ", 2)[2] for key in keys)
    assert labels == [
        "per-module test_a.py",
        "per-module test_b.py",
        "per-package pkg",
        "test_a.py::TestFirst",
        "test_a.py::TestSecond",
        "whole-run (session)",
    ]
    assert live.scratch_keys(active=True) == []


def test_a_key_that_cannot_be_revoked_at_the_end_of_its_scope_is_a_teardown_error(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    pytester.makeconftest(
        "import pytest_xquik\nshared = pytest_xquik.api_key_fixture(scope='module')\n"
    )
    pytester.makepyfile(
        """
        def test_one(shared):
            pass

        def test_two(shared):
            pass
        """
    )
    live.fail("DELETE", "/api-keys/", 500, times=4)
    result = pytester.runpytest()
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_two*",
            "*pytest-xquik could not revoke 1 key(s); they are still active:*",
            # ... and the end-of-run check revokes it.
            "run *: 1 key(s) created, 1 revoked (1 at the end of the run), 0 leaked",
        ]
    )
    assert live.scratch_keys(active=True) == []


def test_the_declared_fixture_is_listed_with_its_scope(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        "import pytest_xquik\n"
        "reporting_key = pytest_xquik.api_key_fixture(scope='module', name='reporting')\n"
    )
    result = pytester.runpytest("--fixtures")
    result.stdout.fnmatch_lines(
        [
            "reporting_key [[]module scope[]] -- *",
            "    A scratch key (``ScratchKey``) shared by the whole module, revoked when it ends; "
            "its name includes 'reporting'.*",
        ]
    )


def test_an_unknown_scope_is_refused_with_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match=r"scope='modul'\): the scope must be one of function,"):
        pytest_xquik.api_key_fixture(scope="modul")  # type: ignore[arg-type]
