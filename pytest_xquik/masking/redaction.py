"""Keep every secret the masker knows out of what pytest prints and writes.

:class:`Redaction` does the work the plugin's hooks ask of it, channel by
channel:

- assertion explanations are built from masked copies of the operands
  (:meth:`Redaction.explain`), so that no shortened value or diff can cut a
  secret into pieces before it is masked;
- every test and collection report is redacted in place
  (:meth:`Redaction.redact_report`) before any other plugin sees it: every
  attribute but those that identify it (tracebacks of every style, source
  lines, exception messages, locals and fixture arguments, captured output
  and logs, user properties, and what other plugins attach to it: a subtest's
  message and keyword arguments, pytest-json-report's log records and
  streams, pytest-html's extras); the traceback objects stay, so colours, the
  short summary and JUnit's ``message=`` are as pytest makes them;
- warning messages are masked before pytest records them;
- exceptions that escape at session finish (a teardown that raises after
  Ctrl-C) are masked in place before Python prints them;
- whatever pytest writes to the terminal goes through a masking stream, and
  so does ``--log-file`` and pytest's debug trace (``--debug``,
  ``PYTEST_DEBUG``); node ids themselves stay as they are, so the report
  files that hold them (JUnit XML, pytest-html, pytest-json-report) are
  masked once written, and a report serialized outside an xdist worker
  (pytest-reportlog's lines) is masked whole;
- key-format strings in collected test ids and parameters are registered, so
  that the pieces pytest leaves when it cuts one short (``--setup-show``) are
  masked too.

What a test reads from ``caplog`` is left as logged, so that a test can check
that its code never logs a key.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import os
import re
import sys
import warnings
from collections.abc import Iterable
from typing import Any, TextIO

import pytest

from pytest_xquik.masking.masker import KEY_PREFIX, SecretMasker
from pytest_xquik.running import running_test


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
        #: The collected tests, by node id (made at the first explanation that needs them).
        self._session: pytest.Session | None = None
        self._tests: dict[str, pytest.Item] | None = None
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
            self.mask_standard_streams()

    def mask_standard_streams(self) -> None:
        """Send ``sys.stdout`` and ``sys.stderr`` through masking streams (once)."""
        for name in ("stdout", "stderr"):
            if isinstance(getattr(sys, name), MaskingStream):
                continue
            stream = MaskingStream(getattr(sys, name), self.masker)
            setattr(sys, name, stream)
            self._streams.append((name, stream))

    def mask_trace(self, config: pytest.Config) -> None:
        """Mask pytest's debug trace (the ``--debug`` file, ``PYTEST_DEBUG`` on stderr), if on.

        The trace holds every hook call's arguments and results: the operands
        of a failed assertion, a fixture's value.
        """
        tracer = config.trace.root
        # pluggy's TagTracer can set its writer but not give it: ``_writer`` it is.
        writer = tracer._writer
        if writer is not None:
            tracer.setwriter(lambda message: writer(self.masker.mask(message)))

    def learn_collected(self, session: pytest.Session, items: Iterable[pytest.Item]) -> None:
        """Know the session's tests; register the key-format strings in their ids and string
        parameters (backstop on).

        The backstop masks them whole anyway; registered, they are masked too
        where pytest cuts them short (``--setup-show`` prints a parameter in
        42 characters, a piece of the key on either side of ``...``).
        """
        self._session = session
        if not self.masker.backstop:
            return
        for item in items:
            # pytest.Function.callspec: the documented way to a test's parameters and id.
            callspec = getattr(item, "callspec", None)
            if callspec is None:
                continue
            texts = [callspec.id, *(v for v in callspec.params.values() if isinstance(v, str))]
            for text in texts:
                for key in _KEY_FORMAT.findall(text):
                    self.masker.register(key)

    def uninstall(self) -> None:
        """Give ``sys.stdout`` and ``sys.stderr`` back, unless someone replaced them since."""
        for name, stream in self._streams:
            if getattr(sys, name) is stream:
                setattr(sys, name, stream.stream)
        self._streams.clear()

    def mask_report_files(self, config: pytest.Config) -> None:
        """Mask the report files of this run once written (in the xdist controller).

        These files hold node ids, which pytest and pytest-xdist need
        unchanged while the run goes on, so a key-format string in a test id
        is masked in the file; everything else in them comes from masked
        reports.
        """
        if hasattr(config, "workerinput"):
            return
        for option, switch in _REPORT_FILES.items():
            path = config.getoption(option, None)
            if not path or not config.getoption(switch, None):
                continue
            # Where the plugins write them: relative to the invocation directory.
            file = config.invocation_params.dir / os.path.expanduser(os.path.expandvars(path))
            if not file.is_file():
                continue
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
        hook = self._hooks_of_running_test(config)
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

    def _hooks_of_running_test(self, config: pytest.Config) -> Any:
        """The hooks of the test running now (its conftests' only), as pytest calls them."""
        nodeid = running_test()
        if nodeid is None or self._session is None:
            return config.hook
        if self._tests is None or nodeid not in self._tests:
            self._tests = {item.nodeid: item for item in self._session.items}
        item = self._tests.get(nodeid)
        return item.ihook if item is not None else config.hook

    # -- reports, warnings, exceptions ----------------------------------------

    def redact_report(self, report: pytest.TestReport | pytest.CollectReport) -> None:
        """Mask every attribute of ``report`` but those that identify it.

        That is its traceback, sections, user properties and ``wasxfail``, and
        whatever other plugins attach to a report for their own output, which
        reaches them as it is (pytest-json-report's log records and streams,
        pytest-html's extras, a subtest's context) or through
        ``pytest_report_to_serializable`` (pytest-reportlog, pytest-xdist).
        ``nodeid``, ``location`` and ``keywords`` are never changed (pytest and
        pytest-xdist use them), nor a collection report's ``result`` (the
        collected nodes).
        """
        attributes = vars(report)
        held = attributes.get
        empty = not (held("longrepr") or held("sections") or held("user_properties"))
        if empty and attributes.keys() <= _PLAIN_REPORT:
            return  # the usual passing test: what identifies it, and empty lists
        for name, value in attributes.items():
            if name in _LEFT_AS_IS or not value or isinstance(value, (int, float)):
                continue
            masked = self._redact(value, {})
            if masked is not value:
                attributes[name] = masked

    def mask_serialized_report(self, data: dict[str, Any]) -> dict[str, Any]:
        """A copy of a serialized report with its node id, location and keywords masked too.

        For what writes serialized reports out as each test ends (pytest-reportlog);
        the rest of the report is already masked.
        """
        masked: dict[str, Any] = mask_value(data, self.masker)
        return masked

    def _redact(self, value: Any, memo: dict[int, Any]) -> Any:
        """``value`` masked: pytest's report objects in place, anything else copied.

        Strings, lists, tuples, dicts, sets, bytes and dataclasses that hold a
        secret are copied (an object a test still uses is never changed); any
        other object whose ``str()`` holds one becomes that text, masked (as
        report plugins write an object they cannot serialize).
        """
        if isinstance(value, str):
            return self.masker.mask(value)
        if value is None or isinstance(value, (int, float)):
            return value
        if id(value) in memo:
            return memo[id(value)]
        memo[id(value)] = value  # a cycle comes back to the original
        memo[id(value)] = result = self._redact_object(value, memo)
        return result

    def _redact_object(self, value: Any, memo: dict[int, Any]) -> Any:
        if hasattr(value, "toterminal") and hasattr(value, "__dict__"):
            # pytest's TerminalRepr objects (tracebacks, entries, locals, file
            # locations, fixture errors): plain attributes, masked in place.
            for name, attribute in vars(value).items():
                setattr(value, name, self._redact(attribute, memo))
            return value
        if isinstance(value, (list, tuple)):
            elements = [self._redact(element, memo) for element in value]
            if all(new is old for new, old in zip(elements, value, strict=True)):
                return value
            if isinstance(value, list):
                return elements
            return type(value)(*elements) if hasattr(value, "_fields") else tuple(elements)
        if isinstance(value, dict):
            pairs = list(value.items())
            items = [(self._redact(k, memo), self._redact(v, memo)) for k, v in pairs]
            unchanged = zip(items, pairs, strict=True)
            if all(k is old_k and v is old_v for (k, v), (old_k, old_v) in unchanged):
                return value
            return dict(items)
        masked = mask_value(value, self.masker)  # bytes, sets, dataclasses
        if masked is not value:
            return masked
        text = str(value)
        masked_text = self.masker.mask(text)
        return value if masked_text == text else masked_text

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
        error.args = tuple(self._redact(arg, {}) for arg in error.args)
        notes = getattr(error, "__notes__", None)
        if isinstance(notes, list):
            notes[:] = [self._redact(note, {}) for note in notes]
        for linked in (*getattr(error, "exceptions", ()), error.__cause__, error.__context__):
            if isinstance(linked, BaseException):
                self.redact_exception(linked, seen)


#: The options naming a report file that holds node ids, each with the option that
#: turns the file on: pytest's JUnit XML, pytest-html, pytest-json-report. (pytest-reportlog
#: writes serialized reports, masked as it writes them.)
_REPORT_FILES = {"xmlpath": "xmlpath", "htmlpath": "htmlpath", "json_report_file": "json_report"}

_KEY_FORMAT = re.compile(KEY_PREFIX + "[0-9a-fA-F]{64}")

#: The report attributes never masked: what identifies a report (``_id`` holds the
#: node id since pytest 9), a collection report's collected nodes, pytest's own words
#: and times.
_LEFT_AS_IS = frozenset(
    [
        "nodeid",
        "_id",
        "location",
        "keywords",
        "result",
        "outcome",
        "when",
        "duration",
        "start",
        "stop",
    ]
)

#: The attributes of a plain report: with no traceback and no sections, nothing to mask.
_PLAIN_REPORT = _LEFT_AS_IS | {"longrepr", "sections", "user_properties"}

REDACTION = pytest.StashKey[Redaction]()
