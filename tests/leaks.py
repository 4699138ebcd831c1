"""The check every channel test makes: no secret in what the run wrote, its masked form shown."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import pytest

from pytest_xquik.masking.masker import MARKER, masked_form
from tests.xquik_server import XquikServer

#: A run of this many characters of a secret counts as a leak.
RUN_LENGTH = 12

#: The GitHub Actions command that registers a secret with the runner: the runner
#: consumes these lines, so they hold the secret in clear by design.
ADD_MASK_LINE = re.compile(r"^::add-mask::.*\n", re.MULTILINE)


def server_secrets(server: XquikServer) -> list[str]:
    """Every secret of a live run: the keys it created and the management credential."""
    keys = [key.full_key for key in server.scratch_keys()]
    assert keys, "the run created no key: this test would prove nothing"
    return [*keys, server.admin_api_key]


def run_outputs(result: pytest.RunResult, directory: Path) -> dict[str, str]:
    """stdout, stderr and every file under ``directory``, by name.

    The ``::add-mask::`` lines of stdout (and of its copy that
    ``runpytest_subprocess`` writes, also named ``stdout``) are left out.
    """
    outputs = {"stdout": result.stdout.str(), "stderr": result.stderr.str()}
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            outputs[str(path.relative_to(directory))] = path.read_bytes().decode("latin-1")
    outputs["stdout"] = ADD_MASK_LINE.sub("", outputs["stdout"] + "\n")
    return outputs


def assert_no_secret(
    result: pytest.RunResult,
    directory: Path,
    secrets: Iterable[str],
    *,
    masked_in: Iterable[str] = ("stdout",),
    run_length: int = RUN_LENGTH,
    extra_outputs: dict[str, str] | None = None,
) -> dict[str, str]:
    """Assert that no run of ``run_length`` characters of a secret appears in the run's output.

    The output is stdout, stderr, every file under ``directory`` and
    ``extra_outputs`` (text decoded from those files, by name). Runs inside
    the public part of a secret's masked form (a key's first 8 characters)
    do not count. Each output named in ``masked_in`` must show the masked
    form of one of the secrets (so that a run printing nothing cannot pass).
    Returns the outputs.
    """
    secrets = list(secrets)
    outputs = {**run_outputs(result, directory), **(extra_outputs or {})}
    for secret in secrets:
        public = masked_form(secret).removesuffix(MARKER)
        runs = {secret[i : i + run_length] for i in range(len(secret) - run_length + 1)}
        runs = {run for run in runs if run not in public}
        for name, text in outputs.items():
            leaked = sorted(run for run in runs if run in text)
            assert not leaked, f"{name} holds {leaked[0]!r} of a secret:\n{text}"
    masked = [masked_form(secret) for secret in secrets]
    for name in masked_in:
        assert any(form in outputs[name] for form in masked), (
            f"{name} shows no masked key ({masked[0]} or the like):\n{outputs[name]}"
        )
    return outputs
