from __future__ import annotations

import pytest

from tests.xquik_server import XquikServer


def test_a_live_key_is_created_on_the_server_and_revoked_after_the_test(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    pytester.makepyfile(
        f"""
        import httpx

        def test_uses_key(xquik_api_key):
            response = httpx.get(
                "{live.base_url}/account", headers=xquik_api_key.headers
            )
            assert response.status_code == 200
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert len(live.scratch_keys()) == 1
    assert live.scratch_keys(active=True) == []
