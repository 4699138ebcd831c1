"""``benchmarks/run.py`` keeps working: a tiny run of it, never a timing threshold."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

RUN = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"


def test_the_benchmark_script_explains_its_options(pytester: pytest.Pytester) -> None:
    result = pytester.run(sys.executable, RUN, "--help")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*--quick*", "*--only ONLY*"])


def test_a_tiny_live_benchmark_counts_two_requests_per_key_and_one_connection_per_process(
    pytester: pytest.Pytester,
) -> None:
    result = pytester.run(
        sys.executable, RUN, "--only", "live", "--live-tests", "3", "--repeat", "1"
    )
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines(
        [
            "| measure | compared with | * | target | holds |",
            "| 3 tests using `xquik_api_key` (live, loopback) | * | * | * | *x | *x | ≤ 1.3x | *",
            "3 tests using `xquik_api_key` (live, loopback): HTTP requests per key 2 (target 2), "
            "list calls per process [01] (target at most 1), "
            "TCP connections per process 1 (target 1)",
        ]
    )


def test_a_tiny_masking_benchmark_prints_its_row(pytester: pytest.Pytester) -> None:
    result = pytester.run(sys.executable, RUN, "--only", "masking", "--repeat", "1")
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines(
        [
            "| masking 10 MB holding 10,000 secrets, 1,000 registered "
            "| one `str.replace` of one secret | * | * | *x | *x | ≤ 10x | *",
        ]
    )


def test_the_benchmark_script_rejects_an_unknown_row(pytester: pytest.Pytester) -> None:
    result = pytester.run(sys.executable, RUN, "--only", "key,speed")
    assert result.ret == 2
    result.stderr.fnmatch_lines(["*--only: unknown rows speed"])


def test_a_tiny_memory_benchmark_shows_the_run_and_the_masker_index_per_key(
    pytester: pytest.Pytester,
) -> None:
    result = pytester.run(sys.executable, RUN, "--only", "memory", "--memory-tests", "300")
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines(
        [
            "| measure | compared with | xquik MB | baseline MB | per key | target | holds |",
            "| peak memory of 300 tests using `xquik_api_key` (mock), one process "
            "| the same tests with a bare fixture | * | * | * KB | report it | - |",
            "| peak memory of 300 tests using `xquik_api_key` (mock), one process "
            "| the same tests with bare fixtures of the same closure (shape) "
            "| * | * | * KB | report it | - |",
            "| of which the masker's index of 300 keys (`tracemalloc`) | - | * | - "
            "| 0.* KB | ≤ 1 KB | yes |",
        ]
    )


#: The hooks pytest calls for every test (and every fixture of every test).
PER_TEST_HOOKS = (
    "pytest_runtest_protocol",
    "pytest_runtest_logstart",
    "pytest_runtest_setup",
    "pytest_runtest_call",
    "pytest_pyfunc_call",
    "pytest_runtest_teardown",
    "pytest_runtest_makereport",
    "pytest_runtest_logreport",
    "pytest_runtest_logfinish",
    "pytest_fixture_setup",
    "pytest_fixture_post_finalizer",
)

SHOW_PER_TEST_HOOKS = f"""
PER_TEST_HOOKS = {PER_TEST_HOOKS!r}

def pytest_terminal_summary(terminalreporter, config):
    impls = [
        f"{{name}} {{impl.plugin_name}}"
        for name in PER_TEST_HOOKS
        for impl in getattr(config.hook, name).get_hookimpls()
        if impl.plugin_name.startswith("xquik")
    ]
    terminalreporter.write_line(f"per-test hooks of pytest-xquik: {{impls}}")
"""


@pytest.mark.parametrize(
    ("second_test", "hooks"),
    [
        # The reports are masked whatever the tests use; the rest waits for a fixture.
        ("def test_b():", "'pytest_runtest_logreport xquik-redaction'"),
        (
            "def test_b(xquik_api_key):",
            "'pytest_runtest_makereport xquik-errors-as-messages', "
            "'pytest_runtest_logreport xquik-redaction'",
        ),
    ],
    ids=["no-fixture", "a-fixture"],
)
def test_a_run_pays_per_test_for_report_masking_and_after_a_fixture_for_its_errors_hook(
    pytester: pytest.Pytester, second_test: str, hooks: str
) -> None:
    pytester.makeconftest(SHOW_PER_TEST_HOOKS)
    pytester.makepyfile(f"def test_a():\n    pass\n\n{second_test}\n    pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([f"per-test hooks of pytest-xquik: [[]{hooks}[]]"])
