"""No secret reaches what report plugins and pytest's debugging options write.

The report plugins (pytest-json-report, pytest-reportlog, pytest-html) read
pytest's report objects, and what they attach to them, straight into their
files; ``--debug`` traces every hook call with its arguments; ``--setup-show``
and the collection-time listings print test ids and fixture parameters. Each
test runs the real plugin or option in a pytest subprocess (the report
plugins plain and under pytest-xdist), and scans stdout, stderr and every
file the run wrote for every 8-character window of each secret
(:func:`tests.leaks.assert_no_secret`):
the live run's scratch keys and management credential, and a key of the key
format the plugin never created, in a test id (the backstop).
"""

from __future__ import annotations

import base64
import gzip
import json
import re
import secrets

import pytest

from pytest_xquik.masking.masker import MARKER, PIECE_LENGTH, masked_form
from tests.extras import needs
from tests.leaks import assert_no_secret, server_secrets
from tests.xquik_server import XquikServer

#: These tests drive the real report plugins, from the test extra.
pytestmark = needs("pytest-json-report", "pytest-reportlog", "pytest-html")

USER_TESTS = """
import logging
import os
import shutil
import sys

import pytest
import pytest_html

TEAM_KEY = os.environ["TEAM_KEY"]


def test_logs_prints_and_passes(xquik_api_key, json_metadata, extras, caplog):
    logger = logging.getLogger("app")
    logger.warning("using %s", xquik_api_key.full_key, extra={"key": xquik_api_key.full_key})
    try:
        raise ValueError(f"refused {xquik_api_key.full_key}")
    except ValueError:
        logger.exception("caught")
    print("stdout", xquik_api_key.full_key)
    sys.stderr.write(f"stderr {xquik_api_key.full_key}\\n")
    json_metadata["key"] = xquik_api_key.full_key
    extras.append(pytest_html.extras.text(f"key {xquik_api_key.full_key}"))
    # What the test reads from caplog stays as logged.
    assert caplog.records[0].getMessage() == f"using {xquik_api_key.full_key}"


def test_logs_and_fails(xquik_api_key):
    logging.getLogger("app").error("failing with %s", xquik_api_key.full_key)
    assert xquik_api_key.full_key == "other"


@pytest.mark.parametrize("key", [TEAM_KEY])
def test_the_id_holds_a_key(key):
    assert key.startswith("xq_")


def test_copies_the_report_log_as_written_so_far():
    # What `tail -f` or a CI log streamer reads while the run goes on.
    if os.path.exists("report.jsonl"):
        shutil.copy("report.jsonl", "report-while-running.jsonl")
"""

#: Each report plugin's options, and the file it writes.
REPORTS = {
    "json-report": (["--json-report", "--json-report-file=report.json"], "report.json"),
    "reportlog": (["--report-log=report.jsonl"], "report.jsonl"),
    "html": (["--html=report.html", "--self-contained-html"], "report.html"),
}

TEST_NAMES = ["test_logs_prints_and_passes", "test_logs_and_fails", "test_the_id_holds_a_key"]

SUBTESTS = """
def test_subtests(xquik_api_key, subtests):
    for outcome in ("pass", "fail"):
        with subtests.test(f"{outcome} {xquik_api_key.full_key}", key=xquik_api_key.full_key):
            assert outcome == "pass"
"""


@pytest.fixture
def team_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """A key of the key format that the plugin never created (``TEAM_KEY`` in the inner run)."""
    key = "xq_" + secrets.token_hex(32)
    monkeypatch.setenv("TEAM_KEY", key)
    return key


def data_uris(text: str) -> str:
    """The base64 ``data:`` URIs in ``text`` (pytest-html's self-contained extras), decoded."""
    encoded = re.findall(r"base64,([A-Za-z0-9+/=]+)", text)
    return "\n".join(base64.b64decode(data).decode("latin-1") for data in encoded)


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["plain", "xdist"])
@pytest.mark.parametrize("plugin", list(REPORTS))
def test_report_plugins_write_masked_keys(
    pytester: pytest.Pytester, live: XquikServer, team_key: str, plugin: str, workers: list[str]
) -> None:
    options, report = REPORTS[plugin]
    pytester.makepyfile(test_reports=USER_TESTS)
    # pytest's cache (.pytest_cache) stores node ids, parametrize ids included.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *options, *workers)
    result.assert_outcomes(passed=3, failed=1)
    text = (pytester.path / report).read_text(encoding="utf-8")
    for name in TEST_NAMES:
        assert name in text, f"{report} does not hold {name}:\n{text}"
    assert_no_secret(
        result,
        pytester.path,
        [*server_secrets(live), team_key],
        masked_in=["stdout", report],
        run_length=PIECE_LENGTH,
        extra_outputs={"decoded data URIs": data_uris(text)},
    )


def test_json_report_keeps_the_logs_and_streams_masked(
    pytester: pytest.Pytester, live: XquikServer, team_key: str
) -> None:
    pytester.makepyfile(test_reports=USER_TESTS)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--json-report", "--json-report-file=report.json"
    )
    result.assert_outcomes(passed=3, failed=1)
    report = json.loads((pytester.path / "report.json").read_text(encoding="utf-8"))
    [passing] = [test for test in report["tests"] if "passes" in test["nodeid"]]
    [key] = [key for key in live.scratch_keys() if key.name.endswith("passes")]
    masked = masked_form(key.full_key)
    warning, error = passing["call"]["log"]
    assert (warning["msg"], warning["key"]) == (f"using {masked}", masked)
    assert error["exc_text"].endswith(f"ValueError: refused {masked}")
    assert passing["call"]["stdout"] == f"stdout {masked}\n"
    assert passing["call"]["stderr"] == f"stderr {masked}\n"
    assert passing["metadata"] == {"key": masked}
    assert_no_secret(result, pytester.path, server_secrets(live), masked_in=["report.json"])


@pytest.mark.skipif(
    int(pytest.__version__.split(".")[0]) < 9, reason="pytest has subtests built in from 9.0"
)
@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["plain", "xdist"])
def test_reportlog_holds_masked_subtest_contexts(
    pytester: pytest.Pytester, live: XquikServer, workers: list[str]
) -> None:
    pytester.makepyfile(test_subtests=SUBTESTS)
    result = pytester.runpytest_subprocess("--report-log=report.jsonl", *workers)
    result.assert_outcomes(failed=2)
    lines = (pytester.path / "report.jsonl").read_text(encoding="utf-8").splitlines()
    contexts = [
        entry["_subtest.context"]
        for entry in map(json.loads, lines)
        if entry["$report_type"] == "SubTestReport"
    ]
    assert len(contexts) == 2, lines
    for context in contexts:
        assert context["msg"].endswith(MARKER)
        # Quoted once, or twice under xdist (pytest reprs the kwargs again as it reads them).
        assert context["kwargs"]["key"].rstrip("'\"").endswith(MARKER)
    assert_no_secret(
        result,
        pytester.path,
        server_secrets(live),
        masked_in=["report.jsonl"],
        run_length=PIECE_LENGTH,
    )


DEBUGGED = """
import pytest


@pytest.fixture
def raw_key(xquik_api_key):
    return str(xquik_api_key.full_key)


def test_compares(raw_key):
    assert raw_key == "other"
"""


@pytest.mark.parametrize("switch", ["--debug", "PYTEST_DEBUG"])
def test_the_debug_trace_shows_masked_keys(
    pytester: pytest.Pytester, live: XquikServer, monkeypatch: pytest.MonkeyPatch, switch: str
) -> None:
    pytester.makepyfile(DEBUGGED)
    if switch == "PYTEST_DEBUG":  # the trace goes to stderr
        monkeypatch.setenv("PYTEST_DEBUG", "1")
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
        trace = "stderr"
    else:
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--debug")
        trace = "pytestdebug.log"
    result.assert_outcomes(failed=1)
    outputs = assert_no_secret(
        result,
        pytester.path,
        server_secrets(live),
        masked_in=["stdout", trace],
        run_length=PIECE_LENGTH,
    )
    assert "pytest_assertrepr_compare" in outputs[trace]


PARAMETRIZED_FIXTURES = """
import os

import pytest

TEAM_KEY = os.environ["TEAM_KEY"]


@pytest.fixture(params=[TEAM_KEY])
def key_param(request):
    return request.param


@pytest.fixture(params=[1], ids=[TEAM_KEY])
def key_id(request):
    return request.param


@pytest.mark.parametrize("key", [TEAM_KEY])
def test_uses_the_keys(key, key_param, key_id):
    pass
"""


@pytest.mark.parametrize(
    "options",
    [
        ["--setup-show"],
        ["--setup-plan"],
        ["--fixtures-per-test"],
        ["--collect-only", "--json-report"],
    ],
    ids=["setup-show", "setup-plan", "fixtures-per-test", "collect-only"],
)
def test_setup_show_and_collection_listings_mask_keys_in_ids_and_parameters(
    pytester: pytest.Pytester, team_key: str, options: list[str]
) -> None:
    pytester.makepyfile(PARAMETRIZED_FIXTURES)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v", *options)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*test_uses_the_keys*"])
    assert_no_secret(result, pytester.path, [team_key], run_length=PIECE_LENGTH)


def test_node_ids_stay_as_they_are(pytester: pytest.Pytester, team_key: str) -> None:
    """A key in a test id is masked in what pytest writes, not in the node id pytest keeps."""
    pytester.makepyfile(
        """
        import os

        import pytest

        @pytest.mark.parametrize("key", [os.environ["TEAM_KEY"]])
        def test_fails(key):
            assert False

        def test_passes():
            pass
        """
    )
    first = pytester.runpytest_subprocess("--report-log=report.jsonl", "--json-report")
    first.assert_outcomes(failed=1, passed=1)
    # The cache holds the node id of the failed test as it is: --lf finds the test again.
    result = pytester.runpytest_subprocess("--lf", "-v")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["run-last-failure: rerun previous 1 failure*", "*::test_fails[[]xq_*[[]MASKED]] FAILED*"]
    )


def test_what_a_test_attached_to_its_report_stays_unmasked_for_the_test(
    pytester: pytest.Pytester, live: XquikServer
) -> None:
    """Reports are masked on copies: the objects a test recorded are left as they are."""
    pytester.makepyfile(
        """
        SETTINGS = {"keys": []}

        def test_records(xquik_api_key, record_property):
            SETTINGS["keys"].append(str(xquik_api_key.full_key))
            record_property("settings", SETTINGS)

        def test_reads_them_back():
            [key] = SETTINGS["keys"]
            assert "[MASKED]" not in key
        """
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--json-report", "--json-report-file=report.json"
    )
    result.assert_outcomes(passed=2)
    assert_no_secret(result, pytester.path, server_secrets(live), masked_in=["report.json"])


def test_a_compressed_report_log_is_masked_too(pytester: pytest.Pytester, team_key: str) -> None:
    pytester.makepyfile(PARAMETRIZED_FIXTURES)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--report-log=report.jsonl.gz")
    result.assert_outcomes(passed=1)
    text = gzip.decompress((pytester.path / "report.jsonl.gz").read_bytes()).decode("utf-8")
    assert "test_uses_the_keys" in text
    assert_no_secret(
        result,
        pytester.path,
        [team_key],
        masked_in=["report.jsonl.gz (decompressed)"],
        run_length=PIECE_LENGTH,
        extra_outputs={"report.jsonl.gz (decompressed)": text},
    )
