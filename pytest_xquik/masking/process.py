"""Mask what reaches the process's standard streams around pytest's own output.

These channels write to the real stdout and stderr without passing through
anything pytest captures or reports:

- logging handlers made before the plugin started (``logging.basicConfig()``
  in a conftest, a handler on ``sys.__stderr__``), which hold the original
  stream itself: with ``-s`` or ``--capture=sys`` they write to the terminal;
- unraisable exceptions (an exception in ``__del__``) and exceptions in
  threads that pytest reports at session end, after the last test, as
  warnings printed to stderr (pytest 8.4 from a cleanup, pytest 9 from
  ``pytest_unconfigure``), or raises with ``-W error``; before pytest 8.4,
  Python prints them when the garbage is collected.

:class:`ProcessRedaction` masks them until pytest is done with the process.
"""

from __future__ import annotations

import gc
import logging
import sys
import threading
from typing import Any

import pytest

from pytest_xquik.masking.redaction import MaskingStream, Redaction


class MaskingExceptHook:
    """A ``threading.excepthook`` that masks the exception in place, then calls ``inner``.

    ``inner`` is the hook it wraps: pytest's, which turns the exception into
    the text of a warning, or Python's, which prints it.
    """

    def __init__(self, inner: Any, redaction: Redaction) -> None:
        self.inner = inner
        self.redaction = redaction

    def __call__(self, hook_args: Any) -> None:
        if hook_args.exc_value is not None:
            self.redaction.redact_exception(hook_args.exc_value)
        self.inner(self.masked(hook_args))

    def masked(self, hook_args: Any) -> Any:
        """``hook_args`` with what it shows besides the exception masked: nothing, for a thread."""
        return hook_args


class MaskingUnraisableHook(MaskingExceptHook):
    """A ``sys.unraisablehook`` that masks the exception, its message and its object."""

    def masked(self, hook_args: Any) -> Any:
        masker = self.redaction.masker
        err_msg = hook_args.err_msg
        if isinstance(err_msg, str):
            err_msg = masker.mask(err_msg)
        shown = hook_args.object
        try:
            text = repr(shown)
        except Exception:
            text = ""
        if masker.mask(text) != text:
            shown = _Shown(masker.mask(text))
        # sys.UnraisableHookArgs is not importable; its type builds one from a tuple.
        fields = (hook_args.exc_type, hook_args.exc_value, hook_args.exc_traceback, err_msg, shown)
        return type(hook_args)(fields)


class _Shown:
    """Stands in for an object whose ``repr()`` held a secret."""

    def __init__(self, text: str) -> None:
        self._text = text

    def __repr__(self) -> str:
        return self._text


class ProcessRedaction:
    """Masks logging handlers on the original streams, unraisable and thread exceptions.

    Make it in ``pytest_configure``, before pytest's unraisable-exception
    plugin configures (a plugin's hooks run before built-in ones): its
    cleanup, registered then, runs after that plugin's (cleanups run last
    in, first out). :meth:`start` it at session start.
    """

    def __init__(self, redaction: Redaction, config: pytest.Config) -> None:
        self._redaction = redaction
        self._handlers: list[tuple[logging.StreamHandler[Any], MaskingStream]] = []
        # pytest 8.4 and later collect the session's garbage in the cleanup of their
        # unraisable-exception plugin, which runs before this one's: once is enough.
        plugin = config.pluginmanager.has_plugin("unraisableexception")
        self._collect_garbage = not (plugin and pytest.version_tuple >= (8, 4))
        config.add_cleanup(self.stop)

    def start(self) -> None:
        """Mask the handlers on the original streams, and the exception hooks in place now.

        Every handler made before the session, and pytest's own hooks, are in place.
        """
        originals = {id(sys.__stdout__), id(sys.__stderr__)}
        for handler in _stream_handlers():
            if id(handler.stream) in originals:
                stream = MaskingStream(handler.stream, self._redaction.masker)
                handler.setStream(stream)
                self._handlers.append((handler, stream))
        sys.unraisablehook = MaskingUnraisableHook(sys.unraisablehook, self._redaction)
        threading.excepthook = MaskingExceptHook(threading.excepthook, self._redaction)

    def stop(self) -> None:
        """Give the handlers their streams back, and the exception hooks what they wrapped.

        The session's garbage is collected first, while the hooks still mask what
        it raises, unless pytest has just done so: pytest before 8.4 (or without
        its unraisable-exception plugin) does not, and Python would print it
        unmasked at exit.
        """
        if self._collect_garbage:
            gc.collect()
        for handler, stream in self._handlers:
            if handler.stream is stream:
                handler.setStream(stream.stream)
        self._handlers.clear()
        sys.unraisablehook = self._unwrapped(sys.unraisablehook)
        threading.excepthook = self._unwrapped(threading.excepthook)

    def _unwrapped(self, hook: Any) -> Any:
        """``hook`` without the masking hooks of this session around it."""
        while isinstance(hook, MaskingExceptHook) and hook.redaction is self._redaction:
            hook = hook.inner
        return hook


PROCESS_REDACTION = pytest.StashKey[ProcessRedaction]()


def _stream_handlers() -> list[logging.StreamHandler[Any]]:
    """Every stream handler of every logger, the root logger's first."""
    loggers = [logging.getLogger()]
    loggers += [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    return [
        handler
        for logger in loggers
        for handler in logger.handlers
        if isinstance(handler, logging.StreamHandler)
    ]
