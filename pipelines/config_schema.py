"""Typed, validated loading of nested dataclass configs from plain mappings.

Only the mechanics live here (mapping -> dataclass tree, ``key.path=value`` overrides, flattening
for MLflow params); the pipeline's own sections are declared in ``landmarkgait.pipelines.config``. Every error
names the dotted key at fault and what was expected, quoting a rejected value in at most 80
characters (``quote_value``). YAML is read within bounds (``bounded_yaml``): no aliases, limited
nesting and integer length, every number finite.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar, Union

import yaml

from landmarkgait.data.errors import DataError
from landmarkgait.data.input_files import open_regular
from landmarkgait.data.quoting import printable, quote_value
from landmarkgait.models.errors import ModelConfigError
from landmarkgait.pipelines.bounded_yaml import load_bounded, yaml_error_line
from landmarkgait.pipelines.errors import ConfigError

T = TypeVar("T")

# A config file is a page of YAML; anything far larger is not one (and would be read whole).
MAX_CONFIG_BYTES = 1 << 20
_KEY_LIMIT = 80


def _shown(key: Any) -> str:
    """A key as it may appear in a message: printable and at most ``_KEY_LIMIT`` characters."""
    text = printable(str(key))
    return text if len(text) <= _KEY_LIMIT else text[: _KEY_LIMIT - 3] + "..."


def _describe(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in typing.get_args(annotation))
    if annotation is type(None):
        return "null"
    if origin is not None:
        args = ", ".join(_describe(arg) for arg in typing.get_args(annotation))
        return f"{origin.__name__}[{args}]"
    return getattr(annotation, "__name__", str(annotation))


def _convert(value: Any, annotation: Any, key: str) -> Any:
    """Check ``value`` against ``annotation`` and convert it (dataclasses recursively)."""
    origin = typing.get_origin(annotation)
    if annotation is Any:
        return value
    if origin in (Union, types.UnionType):
        arguments = typing.get_args(annotation)
        if value is None and type(None) in arguments:
            return None
        present = [argument for argument in arguments if argument is not type(None)]
        if len(present) == 1:  # ``X | None``: X's own error names the key at fault
            return _convert(value, present[0], key)
        for argument in arguments:
            if argument is type(None):
                continue
            try:
                return _convert(value, argument, key)
            except ConfigError:
                continue
        raise ConfigError(f"config key '{key}': expected {_describe(annotation)}, got {quote_value(value)}")
    if dataclasses.is_dataclass(annotation):
        if isinstance(value, annotation):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(
                f"config key '{key}': expected a mapping of {annotation.__name__} fields, got {quote_value(value)}"
            )
        return from_mapping(annotation, value, prefix=key)
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"config key '{key}': expected a list, got {quote_value(value)}")
        (item_type, *_) = typing.get_args(annotation) or (Any,)
        items = [_convert(item, item_type, f"{key}[{index}]") for index, item in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"config key '{key}': expected a mapping, got {quote_value(value)}")
        _, value_type = typing.get_args(annotation) or (str, Any)
        return {str(k): _convert(v, value_type, f"{key}.{_shown(k)}") for k, v in value.items()}
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"config key '{key}': expected true or false, got {quote_value(value)}")
    if annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"config key '{key}': expected an integer, got {quote_value(value)}")
    if annotation is float:
        return _finite_float(value, key)
    if annotation is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"config key '{key}': expected a string, got {quote_value(value)}")
    raise ConfigError(f"config key '{key}': unsupported type {_describe(annotation)}")


def _finite_float(value: Any, key: str) -> float:
    """Every float of every config passes here: NaN and infinity (YAML's ``.nan``, ``.inf``,
    ``1e999``) are refused, since a learning rate, weight or resource amount cannot be one."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:  # an integer beyond float range
            number = math.inf
        if math.isfinite(number):
            return number
        raise ConfigError(f"config key '{key}': expected a finite number, got {quote_value(value)}")
    raise ConfigError(f"config key '{key}': expected a number, got {quote_value(value)}")


def from_mapping(cls: type[T], mapping: Mapping[str, Any], prefix: str = "") -> T:
    """Build dataclass ``cls`` from ``mapping``; unknown or mistyped keys raise ``ConfigError``."""
    hints = typing.get_type_hints(cls)
    fields = {field.name: field for field in dataclasses.fields(cls) if field.init}
    unknown = sorted((_shown(key) for key in set(mapping) - set(fields)), key=str)
    if unknown:
        where = f"'{prefix}'" if prefix else "the top level"
        key = f"{prefix}.{unknown[0]}" if prefix else unknown[0]
        raise ConfigError(f"unknown config key '{key}'; valid keys at {where}: {', '.join(sorted(fields))}")
    values = {}
    for name, field in fields.items():
        key = f"{prefix}.{name}" if prefix else name
        if name in mapping:
            values[name] = _convert(mapping[name], hints[name], key)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ConfigError(f"missing config key '{key}' ({_describe(hints[name])})")
    try:
        return cls(**values)
    except (ValueError, ModelConfigError, DataError) as error:  # __post_init__ validation
        raise ConfigError(f"config section '{prefix or cls.__name__}': {error}") from None


def to_mapping(config: Any) -> dict[str, Any]:
    """Plain nested dict (lists for tuples) of a dataclass tree, suitable for YAML and hashing."""
    if dataclasses.is_dataclass(config):
        return {field.name: to_mapping(getattr(config, field.name)) for field in dataclasses.fields(config)}
    if isinstance(config, list | tuple):
        return [to_mapping(item) for item in config]
    if isinstance(config, dict):
        return {key: to_mapping(value) for key, value in config.items()}
    return config


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists stay values (MLflow params are strings anyway)."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, dotted))
        else:
            flat[dotted] = value
    return flat


def apply_override(mapping: dict[str, Any], assignment: str, schema: type) -> None:
    """Apply ``key.path=value`` (value parsed as YAML) to a raw config mapping in place."""
    dotted, value = parse_assignment(assignment)
    assign_key(mapping, dotted, value, schema, source="--set")


def parse_assignment(assignment: str) -> tuple[str, Any]:
    """``key.path=value`` -> (``key.path``, value parsed as YAML)."""
    if "=" not in assignment:
        raise ConfigError(f"--set expects key.path=value, got {quote_value(assignment)}")
    dotted, raw_value = assignment.split("=", 1)
    try:
        value = load_bounded(raw_value) if raw_value.strip() else None
    except yaml.YAMLError as error:
        raise ConfigError(
            f"--set {_shown(dotted)}: value {quote_value(raw_value)} is not valid YAML ({yaml_error_line(error)})"
        ) from None
    return dotted.strip(), value


def assign_key(mapping: dict[str, Any], dotted: str, value: Any, schema: type, source: str) -> None:
    """Set the dotted key ``dotted`` of a raw config mapping to ``value`` in place.

    The key path is checked against the dataclass schema so that a typo names the valid keys
    at that level instead of being silently added; ``source`` says where the key came from
    (``--set``, ``search.space``) in that message. Value types are checked when the mapping is
    turned into the dataclass tree.
    """
    parts = [part for part in dotted.strip().split(".") if part]
    if not parts:
        raise ConfigError(
            f"{source} expects a dotted config key such as model.num_landmark, got {quote_value(dotted)}"
        )
    node: dict[str, Any] = mapping
    annotation: Any = schema
    for depth, part in enumerate(parts):
        annotation = _dataclass_in(annotation)
        if annotation is not None:
            valid = {field.name for field in dataclasses.fields(annotation)}
            if part not in valid:
                where = ".".join(parts[:depth]) or "the top level"
                raise ConfigError(
                    f"unknown config key '{_shown('.'.join(parts[: depth + 1]))}' in {source}; "
                    f"valid keys at {where}: {', '.join(sorted(valid))}"
                )
            annotation = typing.get_type_hints(annotation)[part]
        if depth == len(parts) - 1:
            node[part] = value
        else:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child


def _dataclass_in(annotation: Any) -> Any:
    """The dataclass inside ``annotation`` (``X`` or ``X | None``), else None."""
    if dataclasses.is_dataclass(annotation):
        return annotation
    if typing.get_origin(annotation) in (Union, types.UnionType):
        for argument in typing.get_args(annotation):
            if dataclasses.is_dataclass(argument):
                return argument
    return None


def read_yaml_mapping(path: Path, what: str, hint: str) -> dict[str, Any]:
    """The top-level mapping of the YAML file ``path``; errors say ``what`` it is (``config file``,
    ``sweep config``) and, for a missing file, where to find examples (``hint``). The file is read
    within bounds (``MAX_CONFIG_BYTES``, ``bounded_yaml``); every error is one line."""
    if not path.exists():
        raise ConfigError(f"{what} {path} does not exist (see {hint} for examples)")
    try:
        with open_regular(path, what) as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except DataError as error:  # a folder, FIFO or device: named, never opened blocking
        raise ConfigError(str(error)) from None
    except OSError as error:
        raise ConfigError(f"{what} {path} cannot be read ({error.strerror or error})") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"{what} {path} is larger than {MAX_CONFIG_BYTES >> 20} MiB; a config is a page of YAML"
        )
    try:
        raw = load_bounded(data.decode("utf-8")) or {}
    except UnicodeDecodeError as error:
        raise ConfigError(f"{what} {path} is not UTF-8 text (byte {error.start}: {error.reason})") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{what} {path} is not valid YAML: {yaml_error_line(error)}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{what} {path}: expected a mapping at the top level")
    return raw
