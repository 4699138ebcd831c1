"""The check every channel test makes: no secret in what the run wrote, its masked form shown."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest

from pytest_xquik.masking.masker import masked_form
from tests.xquik_server import XquikServer

#: A run of this many characters of a secret counts as a leak.
RUN_LENGTH = 12


def server_secrets(server: XquikServer) -> list[str]:
    """Every secret of a live run: the keys it created and the management credential."""
    keys = [key.full_key for key in server.scratch_keys()]
    assert keys, "the run created no key: this test would prove nothing"
    return [*keys, server.admin_api_key]


def run_outputs(result: pytest.RunResult, directory: Path) -> dict[str, str]:
    """stdout, stderr and every file under ``directory``, by name."""
    outputs = {"stdout": result.stdout.str(), "stderr": result.stderr.str()}
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            outputs[str(path.relative_to(directory))] = path.read_bytes().decode("latin-1")
    return outputs


def assert_no_secret(
    result: pytest.RunResult,
    directory: Path,
    secrets: Iterable[str],
    *,
    masked_in: Iterable[str] = ("stdout",),
    run_length: int = RUN_LENGTH,
) -> dict[str, str]:
    """Assert that no run of ``run_length`` characters of a secret appears in the run's output.

    The output is stdout, stderr and every file under ``directory``; the public
    prefix of a key, which its masked form shows, is not a run. Each output
    named in ``masked_in`` must show the masked form of one of the secrets (so
    that a run printing nothing cannot pass). Returns the outputs.
    """
    secrets = list(secrets)
    outputs = run_outputs(result, directory)
    for secret in secrets:
        runs = {secret[i : i + run_length] for i in range(len(secret) - run_length + 1)}
        runs = {run for run in runs if run not in masked_form(secret)}
        for name, text in outputs.items():
            leaked = sorted(run for run in runs if run in text)
            assert not leaked, f"{name} holds {leaked[0]!r} of a secret:\n{text}"
    masked = [masked_form(secret) for secret in secrets]
    for name in masked_in:
        assert any(form in outputs[name] for form in masked), (
            f"{name} shows no masked key ({masked[0]} or the like):\n{outputs[name]}"
        )
    return outputs
