"""Secrets masked in vcrpy cassettes (pytest-recording, ``vcr.use_cassette``) as they are written.

Every cassette vcrpy opens is made by ``Cassette.load`` (pytest-recording's
``vcr`` fixture, ``vcr.use_cassette`` as a decorator or context manager), and
writes itself through its serializer (yaml, json, or one registered with
``register_serializer``) whatever its persister. While pytest-xquik runs,
``Cassette.load`` gives each cassette its serializer wrapped in a
:class:`MaskingSerializer`, which masks every string of the cassette's data
before the real serializer turns it into text: what is written holds the
masked form, what the test sees in memory is untouched, and what is read back
is read by the real serializer.

vcrpy is never imported for this: if it is not imported yet, a finder on
``sys.meta_path`` waits for ``vcr.cassette`` to be, and patches it then.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

from pytest_xquik.masking.masker import SecretMasker

if TYPE_CHECKING:  # importlib.abc costs a run that never uses vcrpy 2 ms to import
    from importlib.abc import Loader
    from importlib.machinery import ModuleSpec

_CASSETTE_MODULE = "vcr.cassette"


class MaskingSerializer:
    """A vcrpy serializer that masks ``masker``'s secrets in what ``serializer`` writes."""

    def __init__(self, serializer: Any, masker: SecretMasker) -> None:
        self._serializer = serializer
        self._masker = masker

    def serialize(self, cassette_dict: Any) -> Any:
        return self._serializer.serialize(self._mask(cassette_dict))

    def deserialize(self, cassette_string: Any) -> Any:
        return self._serializer.deserialize(cassette_string)

    def _mask(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._masker.mask(value)
        if isinstance(value, bytes):  # a body that is not UTF-8; secrets are ASCII
            return self._masker.mask(value.decode("latin-1")).encode("latin-1")
        if isinstance(value, dict):
            return {self._mask(key): self._mask(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self._mask(item) for item in value)
        return value


class CassetteMasking:
    """Installs the masking of cassettes for one pytest session, and takes it away after."""

    def __init__(self, masker: SecretMasker) -> None:
        self._masker = masker
        self._finder: _AfterImport | None = None
        self._patched: tuple[Any, Any] | None = None

    def install(self) -> None:
        """Patch vcrpy now if it is imported, or the moment it is."""
        module = sys.modules.get(_CASSETTE_MODULE)
        if module is not None:
            self._patch(module)
        else:
            self._finder = _AfterImport(_CASSETTE_MODULE, self._patch)
            sys.meta_path.insert(0, self._finder)

    def uninstall(self) -> None:
        """Restore vcrpy, and stop waiting for it."""
        if self._finder is not None and self._finder in sys.meta_path:
            sys.meta_path.remove(self._finder)
        self._finder = None
        if self._patched is not None:
            cassette_class, load = self._patched
            cassette_class.load = load
            self._patched = None

    def _patch(self, module: ModuleType) -> None:
        cassette_class: Any = module.Cassette
        original = cassette_class.__dict__["load"]  # the classmethod itself, to put back
        load = original.__func__
        default_serializer = module.yamlserializer  # what a Cassette uses when given none
        masker = self._masker

        def load_masked(cls: type, /, **kwargs: Any) -> Any:
            serializer = kwargs.get("serializer") or default_serializer
            kwargs["serializer"] = MaskingSerializer(serializer, masker)
            return load(cls, **kwargs)

        load_masked.__doc__ = load.__doc__
        cassette_class.load = classmethod(load_masked)
        self._patched = (cassette_class, original)


class _AfterImport:
    """Calls ``then(module)`` right after the module ``name`` is first imported."""

    def __init__(self, name: str, then: Callable[[ModuleType], None]) -> None:
        self._name = name
        self._then = then

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != self._name:
            return None
        sys.meta_path.remove(self)  # once; and the other finders below do the finding
        for finder in sys.meta_path:
            find_spec = getattr(finder, "find_spec", None)
            spec: ModuleSpec | None = (
                find_spec(fullname, path, target) if find_spec is not None else None
            )
            if spec is not None and spec.loader is not None:
                spec.loader = cast("Loader", _ThenLoader(spec.loader, self._then))
                return spec
        return None


class _ThenLoader:
    """A module's loader, followed by ``then(module)``."""

    def __init__(self, loader: Loader, then: Callable[[ModuleType], None]) -> None:
        self._loader = loader
        self._then = then

    def __getattr__(self, name: str) -> Any:  # get_source, is_package, ...: the loader's
        return getattr(self._loader, name)

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        self._then(module)
