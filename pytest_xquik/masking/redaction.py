"""Keep every secret the masker knows out of what pytest prints and writes.

:class:`Redaction` does the work the plugin's hooks ask of it, channel by
channel:

- assertion explanations are built from masked copies of the operands
  (:meth:`Redaction.explain`), so that no shortened value or diff can cut a
  secret into pieces before it is masked;
- every test report is redacted in place (:meth:`Redaction.redact_report`):
  tracebacks of every style, source lines, exception messages, locals and
  fixture arguments, captured output and logs, user properties; the
  traceback objects stay, so colours, the short summary and JUnit's
  ``message=`` are as pytest makes them;
- warning messages are masked before pytest records them;
- exceptions that escape at session finish (a teardown that raises after
  Ctrl-C) are masked in place before Python prints them;
- whatever pytest writes to the terminal goes through a masking stream, and
  so does ``--log-file``; the JUnit XML file is masked once written.

What a test reads from ``caplog`` is left as logged, so that a test can check
that its code never logs a key.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import os
import sys
import warnings
from collections.abc import Iterable
from typing import Any, TextIO

import pytest

from pytest_xquik.masking.masker import SecretMasker


class MaskingStream:
    """A text stream that masks everything written to it, then passes it on."""

    def __init__(self, stream: TextIO, masker: SecretMasker) -> None:
        self.stream = stream
        self._masker = masker
        # Straight to the stream: the terminal writer flushes after every progress letter.
        self.flush = stream.flush

    def write(self, text: str) -> int:
        """Write ``text``, masked; return the length of ``text`` as given."""
        self.stream.write(self._masker.mask(text))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        """Write each of ``lines``, masked."""
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


class MaskingFormatter(logging.Formatter):
    """Formats log records with another formatter, then masks the text."""

    def __init__(self, formatter: logging.Formatter, masker: SecretMasker) -> None:
        super().__init__()
        self.formatter = formatter
        self._masker = masker

    def format(self, record: logging.LogRecord) -> str:
        return self._masker.mask(self.formatter.format(record))


def mask_value(value: Any, masker: SecretMasker, memo: dict[int, Any] | None = None) -> Any:
    """A copy of ``value`` with every string in it masked; ``value`` itself if none changes.

    Goes into ``str``, ``bytes``, dicts, lists, tuples (named too), sets and
    dataclass instances, which is what pytest takes apart when it explains a
    comparison.
    """
    if isinstance(value, str):
        masked = masker.mask(value)
        return value if masked == value else masked
    if isinstance(value, bytes):
        masked_bytes = masker.mask(value.decode("latin-1")).encode("latin-1")
        return value if masked_bytes == value else masked_bytes
    if memo is None:
        memo = {}
    if id(value) in memo:
        return memo[id(value)]
    memo[id(value)] = value  # a cycle comes back to the original
    result = _mask_container(value, masker, memo)
    memo[id(value)] = result
    return result


def _mask_container(value: Any, masker: SecretMasker, memo: dict[int, Any]) -> Any:
    if isinstance(value, dict):
        pairs = list(value.items())
        items = [(mask_value(k, masker, memo), mask_value(v, masker, memo)) for k, v in pairs]
        if all(k is ok and v is ov for (k, v), (ok, ov) in zip(items, pairs, strict=True)):
            return value
        try:  # keep the mapping's type (OrderedDict, defaultdict, ...) for pytest's diff
            masked_mapping = copy.copy(value)
            masked_mapping.clear()
            masked_mapping.update(items)
        except Exception:
            return dict(items)
        return masked_mapping
    if isinstance(value, (list, tuple, set, frozenset)):
        elements = [mask_value(element, masker, memo) for element in value]
        if all(new is old for new, old in zip(elements, value, strict=True)):
            return value
        if isinstance(value, tuple) and hasattr(value, "_fields"):
            return type(value)(*elements)
        try:
            return type(value)(elements)
        except TypeError:
            return elements if isinstance(value, list) else tuple(elements)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        masked = {name: mask_value(field, masker, memo) for name, field in fields.items()}
        if all(masked[name] is fields[name] for name in fields):
            return value
        masked_instance = copy.copy(value)
        for name, field in masked.items():
            object.__setattr__(masked_instance, name, field)
        return masked_instance
    return value


class Redaction:
    """Masks secrets on every channel of one pytest process (see the module's docstring)."""

    def __init__(self, masker: SecretMasker) -> None:
        self.masker = masker
        #: The test running now, whose hooks explain its assertions.
        self.item: pytest.Item | None = None
        self._explaining = False
        self._streams: list[tuple[str, MaskingStream]] = []

    # -- output streams and log files ----------------------------------------

    def install(self, config: pytest.Config) -> None:
        """Mask the terminal, ``--log-file`` and, with ``-s``, the process's stdout and stderr."""
        if config.pluginmanager.has_plugin("terminalreporter"):
            writer = config.get_terminal_writer()
            # TerminalWriter has no public way to change its stream: ``_file`` it is.
            writer._file = MaskingStream(writer._file, self.masker)
        logging_plugin = config.pluginmanager.get_plugin("logging-plugin")
        if logging_plugin is not None:
            # The handler of --log-file is only reachable as an attribute of
            # pytest's LoggingPlugin. The "Captured log" sections and live
            # logging reach the output through reports and the terminal, and
            # caplog's handler is left alone on purpose.
            handler = logging_plugin.log_file_handler
            handler.setFormatter(MaskingFormatter(handler.formatter, self.masker))
        if config.getoption("capture") == "no":
            for name in ("stdout", "stderr"):
                stream = MaskingStream(getattr(sys, name), self.masker)
                setattr(sys, name, stream)
                self._streams.append((name, stream))

    def uninstall(self) -> None:
        """Give ``sys.stdout`` and ``sys.stderr`` back, unless someone replaced them since."""
        for name, stream in self._streams:
            if getattr(sys, name) is stream:
                setattr(sys, name, stream.stream)
        self._streams.clear()

    def mask_junit_xml(self, config: pytest.Config) -> None:
        """Mask the ``--junitxml`` file, once pytest has written it (in the xdist controller)."""
        xmlpath = config.getoption("xmlpath", None)
        if not xmlpath or hasattr(config, "workerinput"):
            return
        # Where pytest's junitxml plugin writes it.
        file = config.invocation_params.dir / os.path.expanduser(os.path.expandvars(xmlpath))
        if not file.is_file():
            return
        text = file.read_text(encoding="utf-8")
        masked = self.masker.mask(text)
        if masked != text:
            file.write_text(masked, encoding="utf-8")

    # -- assertion explanations -----------------------------------------------

    def explain(self, config: pytest.Config, op: str, left: Any, right: Any) -> list[str] | None:
        """The explanation pytest would give for masked copies of the operands.

        ``None`` when neither operand holds a secret, or when no plugin explains
        this comparison (pytest then prints the operands, and the report is
        masked like any other).
        """
        if self._explaining:
            return None
        masked_left, masked_right = mask_value(left, self.masker), mask_value(right, self.masker)
        if masked_left is left and masked_right is right:
            return None
        hook = self.item.ihook if self.item is not None else config.hook
        self._explaining = True
        try:
            results = hook.pytest_assertrepr_compare(
                config=config, op=op, left=masked_left, right=masked_right
            )
        finally:
            self._explaining = False
        for explanation in results:
            if explanation:
                return [self.masker.mask(line) for line in explanation]
        return None

    # -- reports, warnings, exceptions ----------------------------------------

    def redact_report(self, report: pytest.TestReport) -> None:
        """Mask ``report`` in place: its traceback, sections and properties.

        ``nodeid`` and ``location`` are never changed (pytest-xdist checks them).
        """
        nothing_to_mask = not (report.longrepr or report.sections or report.user_properties)
        if nothing_to_mask and not hasattr(report, "wasxfail"):
            return  # the usual passing test
        report.longrepr = self._redact(report.longrepr, set())
        report.sections = [(title, self.masker.mask(text)) for title, text in report.sections]
        report.user_properties = [
            (name, self._redact_property(value)) for name, value in report.user_properties
        ]
        if isinstance(getattr(report, "wasxfail", None), str):
            report.wasxfail = self.masker.mask(report.wasxfail)

    def _redact_property(self, value: object) -> object:
        masked = self._redact(value, set())
        if masked is value and not isinstance(value, str):
            text = str(value)
            if self.masker.mask(text) != text:
                return self.masker.mask(text)
        return masked

    def _redact(self, value: Any, seen: set[int]) -> Any:
        """``value`` masked: strings replaced, lists and pytest's report objects in place."""
        if isinstance(value, str):
            return self.masker.mask(value)
        if id(value) in seen:
            return value
        seen.add(id(value))
        if isinstance(value, list):
            value[:] = [self._redact(element, seen) for element in value]
        elif isinstance(value, tuple):
            elements = [self._redact(element, seen) for element in value]
            return type(value)(*elements) if hasattr(value, "_fields") else tuple(elements)
        elif hasattr(value, "toterminal") and hasattr(value, "__dict__"):
            # pytest's TerminalRepr objects (tracebacks, entries, locals, file
            # locations, fixture errors): plain attributes, masked in place.
            for name, attribute in vars(value).items():
                setattr(value, name, self._redact(attribute, seen))
        return value

    def redact_warning(self, warning_message: warnings.WarningMessage) -> None:
        """Mask a warning in place, before pytest (or pytest-xdist) records its text."""
        message = warning_message.message
        if isinstance(message, Warning):
            self.redact_exception(message)
            text = str(message)
            if self.masker.mask(text) != text:  # a warning whose str() ignores its args
                warning_message.message = warning_message.category(self.masker.mask(text))
        elif isinstance(message, str):
            warning_message.message = self.masker.mask(message)
        if isinstance(warning_message.line, str):
            warning_message.line = self.masker.mask(warning_message.line)

    def redact_exception(self, error: BaseException, seen: set[int] | None = None) -> None:
        """Mask an exception in place: its args and notes, its group and its chain."""
        seen = set() if seen is None else seen
        if id(error) in seen:
            return
        seen.add(id(error))
        error.args = tuple(self._redact(arg, set()) for arg in error.args)
        notes = getattr(error, "__notes__", None)
        if isinstance(notes, list):
            notes[:] = [self._redact(note, set()) for note in notes]
        for linked in (*getattr(error, "exceptions", ()), error.__cause__, error.__context__):
            if isinstance(linked, BaseException):
                self.redact_exception(linked, seen)


REDACTION = pytest.StashKey[Redaction]()
