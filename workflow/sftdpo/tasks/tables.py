"""The data files of the built-in tasks (``tasks/data/<task>.yaml``): read once, on import,
and checked against the types the generator declares.

A task module reads its file with :class:`Table`, takes each section with the type it expects
(:meth:`Table.get`: ``tuple[str, ...]``, ``dict[str, tuple[str, ...]]``, a dataclass ...) and
checks what types cannot say with :meth:`Table.fail`. A malformed file stops the import with a
:class:`TableError` that names the file, the entry and what was expected.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from functools import cache
from pathlib import Path

import yaml

DATA = Path(__file__).with_name("data")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def _fields(cls) -> tuple[dict, dict]:
    return typing.get_type_hints(cls), {f.name: f for f in dataclasses.fields(cls)}


class TableError(ValueError):
    """A built-in task's data file is malformed."""


class Table:
    """One task's data file. ``get`` each section; ``done`` then rejects sections nobody
    read (a misspelt section name)."""

    def __init__(self, name: str, folder: Path = DATA) -> None:
        self.path = Path(folder) / f"{name}.yaml"
        try:
            data = yaml.load(self.path.read_text(encoding="utf-8"), Loader=_LOADER)
        except (OSError, yaml.YAMLError) as error:
            raise TableError(f"{self.path}: cannot read the task's data: {error}") from None
        if not isinstance(data, dict):
            raise TableError(f"{self.path}: expected a mapping of sections, got "
                             f"{type(data).__name__}")
        self.data = data
        self.read: set[str] = set()

    def fail(self, where: str, message: str) -> typing.NoReturn:
        raise TableError(f"{self.path}, {where}: {message}")

    def get(self, section: str, hint=object, **converters):
        """The section converted to ``hint`` (lists become tuples where the hint says so; a
        dataclass is built from a mapping, ``converters`` turning some of its fields)."""
        if section not in self.data:
            self.fail(section, "missing section")
        self.read.add(section)
        return self.convert(self.data[section], hint, section, converters)

    def done(self) -> None:
        unread = sorted(set(self.data) - self.read)
        if unread:
            self.fail(", ".join(unread), f"unknown section; expected one of "
                      f"{', '.join(sorted(self.read))}")

    def convert(self, value, hint, where: str, converters: dict | None = None):
        converters = converters or {}
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if hint is object:
            return value
        if dataclasses.is_dataclass(hint):
            return self._record(value, hint, where, converters)
        if origin in (typing.Union, types.UnionType):
            if value is None and type(None) in args:
                return None
            hint = next(a for a in args if a is not type(None))
            return self.convert(value, hint, where, converters)
        if origin is tuple:
            if not isinstance(value, list | tuple):
                self._expected(where, "a list", value)
            if len(args) == 2 and args[1] is Ellipsis:
                return tuple(self.convert(v, args[0], f"{where}[{i}]", converters)
                             for i, v in enumerate(value))
            if len(value) != len(args):
                self._expected(where, f"a list of {len(args)}", value)
            return tuple(self.convert(v, a, f"{where}[{i}]", converters)
                         for i, (v, a) in enumerate(zip(value, args, strict=True)))
        if origin is dict:
            if not isinstance(value, dict):
                self._expected(where, "a mapping", value)
            key_hint, value_hint = args
            return {self.convert(k, key_hint, where): self.convert(v, value_hint,
                                                                   f"{where}.{k}", converters)
                    for k, v in value.items()}
        if hint is float:  # an int stays an int: "45" and "45.0" are written differently
            if isinstance(value, bool) or not isinstance(value, int | float):
                self._expected(where, "a number", value)
            return value
        if hint in (str, int, bool):
            if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
                self._expected(where, f"a {hint.__name__}", value)
            return value
        raise TypeError(f"tables: no conversion for {hint!r}")

    def _record(self, value, cls, where: str, converters: dict):
        if not isinstance(value, dict):
            self._expected(where, f"a mapping of {cls.__name__} fields", value)
        hints, fields = _fields(cls)
        first = next(iter(fields))
        if isinstance(value.get(first), str):  # name the entry: "conditions[3] (key stemi)"
            where = f"{where} ({first} {value[first]})"
        unknown = sorted(set(value) - set(fields))
        if unknown:
            self.fail(where, f"unknown field {', '.join(unknown)}; expected some of "
                      f"{', '.join(fields)}")
        missing = [name for name, f in fields.items() if name not in value
                   and f.default is dataclasses.MISSING
                   and f.default_factory is dataclasses.MISSING]
        if missing:
            self.fail(where, f"missing field {', '.join(missing)}")
        kwargs = {}
        for name, raw in value.items():
            at = f"{where}.{name}"
            kwargs[name] = (converters[name](raw, at) if name in converters
                            else self.convert(raw, hints[name], at))
        return cls(**kwargs)

    def _expected(self, where: str, what: str, value) -> typing.NoReturn:
        shown = repr(value)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        self.fail(where, f"expected {what}, got {shown}")
