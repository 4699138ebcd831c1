"""Register every secret with the CI runner, so that its job log masks what pytest cannot.

On GitHub Actions (``GITHUB_ACTIONS=true``) the runner masks, in the job log,
every value a step registers with the ``::add-mask::<value>`` workflow command
on its output. The plugin registers each secret the moment its masker learns
it (:attr:`SecretMasker.listeners`): the management credential at start-up,
each ``fullKey`` when its create response arrives, before the test sees it.
The runner then masks the secret wherever the step prints it, also where
pytest cannot reach: ``os.write``, subprocesses, ``-s``, ``--capture=tee-sys``.

The command goes to the step's real standard output, whatever pytest captures:

- in a pytest process (or an xdist controller), to a duplicate of file
  descriptor 1 taken while pytest's capture is suspended;
- in an xdist worker, whose file descriptor 1 is ``/dev/null`` (execnet
  keeps the pipe to the controller for itself), over an execnet channel to
  the controller, which writes it and answers; the worker waits for the
  answer, so the command is on the controller's standard output before the
  worker goes on (and, say, writes the key to its stderr, which is the
  controller's).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

import pytest

#: The key of ``workerinput`` under which an xdist worker gets its channel to the controller.
WORKER_CHANNEL = "xquik_add_mask_channel"

#: How long a worker waits for the controller to have written a command.
ANSWER_TIMEOUT = 30.0


def on_github_actions(environ: Mapping[str, str]) -> bool:
    """Whether this process runs in a GitHub Actions job (the runner sets ``GITHUB_ACTIONS``)."""
    return environ.get("GITHUB_ACTIONS") == "true"


def add_mask_commands(secret: str, *, at_line_start: bool) -> bytes:
    """The ``::add-mask::`` command line that registers ``secret`` with the runner.

    The runner reads a command only at the start of a line: unless the output
    is known to be there, the command starts with a line break. ``%``, CR and
    LF are escaped, as the runner unescapes them.
    """
    escaped = secret.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    command = f"::add-mask::{escaped}\n"
    return (command if at_line_start else "\n" + command).encode()


class StdoutMasks:
    """Writes the commands for each secret to ``fd``, a duplicate of the step's real stdout."""

    def __init__(self, fd: int, config: pytest.Config) -> None:
        self.fd: int | None = fd
        self._config = config
        self._lock = threading.Lock()

    def __call__(self, secret: str) -> None:
        data = add_mask_commands(secret, at_line_start=self._at_line_start())
        with self._lock:
            try:
                while data and self.fd is not None:
                    data = data[os.write(self.fd, data) :]
            except OSError:
                pass  # the step's output is gone: nothing can print the secret there either

    def _at_line_start(self) -> bool:
        """Whether the real stdout is known to be at the start of a line.

        Only pytest's terminal writer knows, and only when nothing else writes
        there: with ``--capture=fd`` (tests, their subprocesses and xdist
        workers write elsewhere), from the main thread (not while it writes).
        """
        reporter = self._config.pluginmanager.get_plugin("terminalreporter")
        if (
            reporter is None
            or self._config.getoption("capture") != "fd"
            or threading.current_thread() is not threading.main_thread()
        ):
            return False
        writer = self._config.get_terminal_writer()
        writer.flush()  # what it wrote is in the pipe, before the commands
        return writer.width_of_current_line == 0

    def close(self) -> None:
        """Close the duplicate of the real stdout; write nothing from now on."""
        with self._lock:
            if self.fd is not None:
                os.close(self.fd)
                self.fd = None

    @pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: xdist is not required
    def pytest_configure_node(self, node: Any) -> None:
        """pytest-xdist: give the worker a channel back to this process's real stdout."""
        channel = node.gateway.newchannel()

        def write(secret: object) -> None:
            if isinstance(secret, str):
                self(secret)
            channel.send(True)

        channel.setcallback(write)
        node.workerinput[WORKER_CHANNEL] = channel


class ControllerMasks:
    """In an xdist worker: has the controller write the commands, and waits until it has."""

    def __init__(self, channel: Any) -> None:
        self._channel = channel
        self._lock = threading.Lock()

    def __call__(self, secret: str) -> None:
        with self._lock:
            try:
                self._channel.send(secret)
                self._channel.receive(timeout=ANSWER_TIMEOUT)
            except Exception:  # execnet's errors share no base class but Exception
                # The controller is gone or stuck: the key must still reach the test,
                # which is masked in-process as ever.
                pass


def runner_masks(
    config: pytest.Config, enabled: bool, environ: Mapping[str, str] = os.environ
) -> Callable[[str], None] | None:
    """What registers each secret with the runner, or ``None`` outside GitHub Actions.

    ``enabled`` is the ``xquik_github_add_mask`` setting.
    """
    if not (enabled and on_github_actions(environ)):
        return None
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        channel = workerinput.get(WORKER_CHANNEL)
        return ControllerMasks(channel) if channel is not None else None
    masks = StdoutMasks(_real_stdout(config), config)
    config.add_cleanup(masks.close)
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(masks, "xquik-add-mask")
    return masks


def _real_stdout(config: pytest.Config) -> int:
    """A duplicate of the step's real stdout, taken with pytest's capture suspended."""
    capture = config.pluginmanager.get_plugin("capturemanager")
    if capture is None:  # -p no:capture
        return os.dup(1)
    # pytest has no public API for its capture manager; global_and_fixture_disabled
    # is the method its own live logging uses to reach the terminal.
    with capture.global_and_fixture_disabled():
        return os.dup(1)
