"""The settings of live mode's cleanup: read like the others, validated at start-up."""

from __future__ import annotations

import pytest

from tests.conftest import INNER_INI
from tests.test_settings import run_show
from tests.xquik_server import XquikServer


@pytest.mark.parametrize(
    ("ini", "value", "expected"),
    [
        ("xquik_max_retries", "0", "max_retries=0"),
        ("xquik_retry_backoff", "0", "retry_backoff=0.0"),
        ("xquik_retry_max_wait", "2.5", "retry_max_wait=2.5"),
        ("xquik_on_leak", "warn", "on_leak=warn"),
        ("xquik_sweep_on_start", "yes", "sweep_on_start=True"),
        ("xquik_sweep_older_than", "0", "sweep_older_than=0.0"),
        ("xquik_sweep_older_than", "90s", "sweep_older_than=90.0"),
        ("xquik_sweep_older_than", "30m", "sweep_older_than=1800.0"),
        ("xquik_sweep_older_than", "2h", "sweep_older_than=7200.0"),
    ],
)
def test_each_new_ini_option_is_read(
    pytester: pytest.Pytester, ini: str, value: str, expected: str
) -> None:
    pytester.makeini(INNER_INI + f"{ini} = {value}\n")
    run_show(pytester).stdout.fnmatch_lines([f"*SETTING {expected}"])


def test_the_defaults_of_the_new_options(pytester: pytest.Pytester) -> None:
    run_show(pytester).stdout.fnmatch_lines(
        [
            "*SETTING max_retries=3",
            "SETTING retry_backoff=0.5",
            "SETTING retry_max_wait=60.0",
            "SETTING on_leak=fail",
            "SETTING sweep_on_start=False",
            "SETTING sweep_older_than=3600.0",
        ]
    )


def test_the_command_line_sets_the_sweep_age_over_the_ini_file(pytester: pytest.Pytester) -> None:
    pytester.makeini(INNER_INI + "xquik_sweep_older_than = 2h\n")
    result = run_show(pytester, "--xquik-sweep-older-than=5m")
    result.stdout.fnmatch_lines(["*SETTING sweep_older_than=300.0"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--xquik-sweep-older-than=2d"], "*xquik_sweep_older_than = '2d' (from the command line*"),
        (["-o", "xquik_max_retries=-1"], "*xquik_max_retries = '-1' (from the command line -o*"),
        (["-o", "xquik_retry_backoff=soon"], "*xquik_retry_backoff = 'soon'*0 or more*"),
        (["-o", "xquik_retry_max_wait=-5"], "*xquik_retry_max_wait = '-5'*"),
        (["-o", "xquik_on_leak=ignore"], "*xquik_on_leak = 'ignore'*expected 'fail' or 'warn'*"),
        (["-o", "xquik_sweep_on_start=sometimes"], "*xquik_sweep_on_start*expected true or false*"),
        (["-o", "xquik_key_name_prefix=pyt", "--xquik-sweep"], "*xquik_key_name_prefix = 'pyt'*"),
    ],
)
def test_each_new_option_is_validated_at_start_up(
    pytester: pytest.Pytester, live: XquikServer, args: list[str], message: str
) -> None:
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert live.requests == []
