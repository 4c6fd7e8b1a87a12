"""Keep Typer's start-up cost off every run: start-up is most of a query's time (issue 17).

Typer (0.2x) builds a Pydantic TypeAdapter for every parameter of the command it runs, even
for a `str` or an unset option, which imports Pydantic (~75 ms) before any work starts; and
its help renderer imports `rich.markdown` and `rich.traceback` (~40 ms) that this app never
uses (no Markdown help, pretty tracebacks off). Both are avoided here without changing what
any value becomes or any message says:

- values whose result is certain (a `str` that is already a string, digits for an `int` in
  range, one of an enum's choices, a plain path, a list of strings) are converted directly,
  exactly as Typer's adapter would; anything else (a bad value, an unusual type) still goes
  through Typer's own adapter, so errors read word for word as before
  (tests/test_lean_typer.py compares the two paths value by value);
- Typer's help module is loaded with placeholders for those two Rich classes, which import
  the real class on first use.

If Typer's internals differ from what this expects (another version), nothing is changed.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
import types
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, get_args, get_origin

# Help renderer's imports this app never uses, and the placeholder each gets meanwhile.
DEFERRED_RICH = (("rich.markdown", "Markdown"), ("rich.traceback", "Traceback"))
HELP_MODULE = "typer.rich_utils"

# Strings whose int/float value is beyond doubt; any other spelling is left to Typer.
PLAIN_INT = re.compile(r"-?(?:0|[1-9][0-9]{0,15})")
PLAIN_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]{0,14})(?:\.[0-9]{1,15})?")


class NotCertain(Exception):
    """This value's conversion is left to Typer's own (Pydantic) adapter."""


def install() -> None:
    """Route Typer's parameter conversion and help import through the lean paths (idempotent)."""
    try:
        from typer import _coercion, core
        from typer._coercion import RuntimeParam
    except ImportError:  # a Typer without the Pydantic layer: nothing to avoid
        return
    if getattr(core.build_runtime_param, "lean", False) or not hasattr(RuntimeParam, "coerce"):
        return
    full = _coercion.build_runtime_param
    lean_param = _lean_param_class(RuntimeParam)

    def build_runtime_param(descriptor: Any) -> Any:
        convert = converter(descriptor.annotation, descriptor.parameter_info)
        if convert is None or descriptor.file_annotation is not None:
            return full(descriptor)
        return lean_param(
            parameter_info=descriptor.parameter_info,
            annotation=descriptor.annotation,
            convert=convert,
            full=lambda: full(descriptor),
        )

    build_runtime_param.lean = True  # type: ignore[attr-defined]
    core.build_runtime_param = build_runtime_param
    _build_commands_when_used()
    if HELP_MODULE not in sys.modules and not any(
        isinstance(f, DeferRichFinder) for f in sys.meta_path
    ):
        sys.meta_path.insert(0, DeferRichFinder())


def _build_commands_when_used() -> None:
    """Typer turns every command's signature into Click parameters on every run (~25 ms for
    this app); a group here builds a command when it is looked up, so `maillog search`
    builds `search` alone. `--help` still builds the commands it lists."""
    from typer import main

    if getattr(main.get_group_from_info, "lean", False):
        return
    group_from_info = main.get_group_from_info
    command_from_info = main.get_command_from_info

    def get_group_from_info(group_info: Any, **options: Any) -> Any:
        main.get_command_from_info = pending_command
        try:
            group = group_from_info(group_info, **options)
        finally:
            main.get_command_from_info = command_from_info
        group.commands = CommandsWhenUsed(group.commands)
        return group

    def pending_command(command_info: Any, **options: Any) -> Any:
        callback = command_info.callback
        name = command_info.name or main.get_command_name(callback.__name__)
        return PendingCommand(name, lambda: command_from_info(command_info, **options))

    get_group_from_info.lean = True  # type: ignore[attr-defined]
    main.get_group_from_info = get_group_from_info


@dataclass(frozen=True)
class PendingCommand:
    """A command not built yet: its name, and how to build it."""

    name: str
    build: Callable[[], Any]


class CommandsWhenUsed(dict[str, Any]):
    """A group's commands; a pending one is built the first time it is read."""

    def __getitem__(self, name: str) -> Any:
        value = super().__getitem__(name)
        if isinstance(value, PendingCommand):
            value = value.build()
            super().__setitem__(name, value)
        return value

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return self[name] if name in self else default

    def values(self) -> Any:  # type: ignore[override]
        return [self[name] for name in self]

    def items(self) -> Any:  # type: ignore[override]
        return [(name, self[name]) for name in self]

    def pop(self, name: str, *default: Any) -> Any:  # type: ignore[override]
        if name in self:
            value = self[name]
            del self[name]
            return value
        return super().pop(name, *default)

    def copy(self) -> CommandsWhenUsed:
        return CommandsWhenUsed(self.items())


def _lean_param_class(runtime_param: type) -> type:
    """A RuntimeParam that converts certain values itself and hands the rest to Typer's."""

    @dataclass(frozen=True)
    class LeanRuntimeParam(runtime_param):  # type: ignore[misc, valid-type]
        convert: Callable[[Any, Any, Any], Any] = field(default=lambda v, p, c: v)
        full: Callable[[], Any] = field(default=lambda: None)
        cache: dict[str, Any] = field(default_factory=dict)

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            try:
                return self.convert(value, param, ctx)
            except NotCertain:
                pass
            if "full" not in self.cache:
                self.cache["full"] = self.full()
            return self.cache["full"]._coerce_value(value, param=param, ctx=ctx)

    return LeanRuntimeParam


Convert = Callable[[Any, Any, Any], Any]


def converter(annotation: Any, info: Any) -> Convert | None:
    """How to convert a value for this annotation without Pydantic, or None to leave it to Typer."""
    if getattr(info, "parser", None) is not None or getattr(info, "clamp", False):
        return None
    if get_origin(annotation) is list:
        (item,) = get_args(annotation) or (None,)
        one = converter(item, info)
        return None if one is None else _list_of(one)
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return _choice(list(annotation), bool(info.case_sensitive))
    if annotation is str:
        return _str
    if annotation is bool:
        return _bool
    if annotation is int:
        return _number(int, PLAIN_INT, info.min, info.max)
    if annotation is float:
        return _number(float, PLAIN_FLOAT, info.min, info.max)
    if annotation is Path and getattr(info, "path_type", None) in (None, Path):
        return _path(info)
    return None


def _str(value: Any, param: Any, ctx: Any) -> Any:
    if type(value) is not str:
        raise NotCertain
    return value


def _bool(value: Any, param: Any, ctx: Any) -> Any:
    if type(value) is not bool:
        raise NotCertain
    return value


def _number(kind: Callable[[Any], Any], plain: re.Pattern[str], low: Any, high: Any) -> Convert:
    def convert(value: Any, param: Any, ctx: Any) -> Any:
        if type(value) is str and plain.fullmatch(value):
            number = kind(value)
        elif type(value) is kind or (kind is float and type(value) is int):
            number = kind(value)
        else:
            raise NotCertain
        if (low is not None and number < low) or (high is not None and number > high):
            raise NotCertain  # Typer words the range error
        return number

    return convert


def _choice(choices: Sequence[Any], case_sensitive: bool) -> Convert:
    from typer._param_types import coerce_cli_choice

    def convert(value: Any, param: Any, ctx: Any) -> Any:
        try:
            return coerce_cli_choice(value, choices=choices, case_sensitive=case_sensitive, ctx=ctx)
        except ValueError:
            raise NotCertain from None

    return convert


def _path(info: Any) -> Convert:
    from typer._param_types import coerce_cli_path

    def convert(value: Any, param: Any, ctx: Any) -> Any:
        # Typer checks the Path made from the text and names the text in its messages:
        # only text that reads back unchanged may stand for both.
        if isinstance(value, Path):
            path = value
        elif type(value) is str and value and str(Path(value)) == value:
            path = Path(value)
        else:
            raise NotCertain
        try:
            return coerce_cli_path(path, info, path_type=Path, param=param, ctx=ctx)
        except ValueError:
            raise NotCertain from None

    return convert


def _list_of(one: Convert) -> Convert:
    def convert(value: Any, param: Any, ctx: Any) -> Any:
        if not isinstance(value, (list, tuple)):
            raise NotCertain
        return [one(item, param, ctx) for item in value]

    return convert


class DeferredClass(type):
    """A placeholder class: calling it or reading an attribute loads the real one."""

    target: tuple[str, str]

    def real(cls) -> Any:
        module, name = cls.target
        return getattr(importlib.import_module(module), name)

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return cls.real()(*args, **kwargs)

    def __getattr__(cls, name: str) -> Any:
        return getattr(cls.real(), name)


@contextmanager
def placeholders(deferred: Sequence[tuple[str, str]]) -> Iterator[None]:
    """While the block runs, `from M import C` yields a placeholder for each (M, C) not yet loaded."""
    added = []
    for module, name in deferred:
        if module in sys.modules:
            continue
        stub = types.ModuleType(module, "placeholder: see maillog_cli.commands.lean_typer")
        setattr(stub, name, DeferredClass(name, (), {"target": (module, name)}))
        sys.modules[module] = stub
        added.append((module, stub))
    try:
        yield
    finally:
        for module, stub in added:
            if sys.modules.get(module) is stub:
                del sys.modules[module]


class DeferRichFinder:  # a sys.meta_path finder (importlib.abc costs start-up time)
    """Loads Typer's help module with placeholders for the Rich classes it never needs here."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != HELP_MODULE:
            return None
        sys.meta_path.remove(self)  # once: find the real module the ordinary way
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        spec.loader = DeferRichLoader(spec.loader)  # type: ignore[assignment]
        return spec


class DeferRichLoader:  # an importlib loader
    """Runs the real loader inside `placeholders`."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def create_module(self, spec: Any) -> Any:
        return self.real.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        with placeholders(DEFERRED_RICH):
            self.real.exec_module(module)
