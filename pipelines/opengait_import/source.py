"""One OpenGait config file as the importer reads it: merged over OpenGait's defaults, every key
accounted for.

Why: the importer promises that no OpenGait key is dropped silently. Each key of the merged
config (the file's own and the defaults it inherits) is *taken* exactly once, either into a
value of our config (whose comment names it) or into a ``Finding``: honoured by what
landmarkgait always does, ignored because it changes nothing we train, or refused because we
cannot reproduce it. Whatever is left untaken at the end is refused as unknown. The file is read
with the input rule (``config_schema.read_yaml_mapping``: a regular file, size and nesting bounded).
This module must not know what any key means.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from landmarkgait.data.quoting import printable, quote_value
from landmarkgait.pipelines.config_schema import read_yaml_mapping
from landmarkgait.pipelines.errors import ConfigError
from landmarkgait.pipelines.opengait_import.defaults import OPENGAIT_DEFAULTS, merge_over_defaults

# What a finding says about a key: we always do what it asks; it changes nothing here; we cannot do it.
BUILT_IN, IGNORED, REFUSED = "built_in", "ignored", "refused"
# Sections whose list items are mappings with keys of their own (``loss_cfg[1].margin``).
ITEM_SECTIONS = ("loss_cfg",)
_MISSING = object()


@dataclass(frozen=True)
class Finding:
    """One OpenGait key that has no value of its own in our config, and why.

    ``key`` carries a note when the value is not the file's own (``(OpenGait default)``).
    """

    kind: str
    label: str
    key: str
    value: Any
    why: str

    @property
    def origin(self) -> str:
        return f"{self.label}: {self.key}"

    def line(self) -> str:
        """``FILE: key = value: why``, printable and on one line."""
        return printable(f"{self.origin} = {quote_value(self.value)}: {self.why}")


def grouped_lines(findings: list[Finding], kind: str, labels: list[str]) -> list[str]:
    """One line per key, value and reason among the findings of ``kind``, naming the files it
    holds for (``all 3 configs`` when every one): ``WHERE: key = value: why``."""
    groups: dict[tuple[str, str, str], list[str]] = {}
    for finding in findings:
        if finding.kind == kind:
            group = groups.setdefault((finding.key, quote_value(finding.value), finding.why), [])
            if finding.label not in group:
                group.append(finding.label)
    lines = []
    for (key, value, why), where in groups.items():
        files = (
            f"all {len(labels)} configs"
            if len(labels) > 1 and set(where) == set(labels)
            else ", ".join(where)
        )
        lines.append(printable(f"{files}: {key} = {value}: {why}"))
    return lines


@dataclass
class OpenGaitSource:
    """An OpenGait config file merged over OpenGait's defaults, with a ledger of its keys.

    Keys are dotted paths (``trainer_cfg.sampler.batch_size``, ``loss_cfg[1].margin``); a list is
    one key, except the entries of ``loss_cfg``.
    """

    path: Path
    label: str
    merged: dict[str, Any]
    given: frozenset[str]
    findings: list[Finding] = field(default_factory=list)
    _leaves: dict[str, Any] = field(default_factory=dict)
    _taken: set[str] = field(default_factory=set)

    @classmethod
    def read(cls, path: Path, label: str) -> OpenGaitSource:
        raw = read_yaml_mapping(path, "OpenGait config", "the configs/ folder of OpenGait or LandmarkGait")
        merged = merge_over_defaults(raw)
        for section, value in merged.items():
            kinds = (Mapping, list) if section in ITEM_SECTIONS else (Mapping,)
            if section in OPENGAIT_DEFAULTS and not isinstance(value, kinds):
                expected = "a mapping or a list of them" if section in ITEM_SECTIONS else "a mapping"
                raise ConfigError(f"{path}: {section}: expected {expected}, got {quote_value(value)}")
        source = cls(path, label, merged, frozenset(dict(_leaves(raw))))
        source._leaves = dict(_leaves(merged))
        return source

    def has(self, key: str) -> bool:
        return key in self._leaves

    def value(self, key: str, default: Any = None) -> Any:
        """The merged value of ``key`` without taking it (``default`` if the config has no such key)."""
        return self._leaves.get(key, default)

    def keyed(self, key: str, default_note: str | None = None) -> str:
        """``key``, saying when the value is not the file's own (``OpenGait default`` unless told)."""
        if key in self.given or any(given.startswith((f"{key}.", f"{key}[")) for given in self.given):
            return key
        return f"{key} ({default_note or 'OpenGait default'})"

    def origin(self, key: str, default_note: str | None = None) -> str:
        """``FILE: key``, saying when the value is OpenGait's default rather than the file's."""
        return f"{self.label}: {self.keyed(key, default_note)}"

    def add(self, kind: str, key: str, value: Any, why: str, default_note: str | None = None) -> None:
        """A finding about ``key`` (already taken, or absent from the config) with ``value``."""
        self.findings.append(Finding(kind, self.label, self.keyed(key, default_note), value, why))

    def take(self, key: str, default: Any = _MISSING) -> Any:
        """The value of ``key``, marked as accounted for."""
        if key not in self._leaves:
            if default is not _MISSING:
                return default
            parts = key.split(".")
            for depth in range(len(parts) - 1, 0, -1):  # a section the file set to a value
                section = ".".join(parts[:depth])
                if section in self._leaves:
                    value = quote_value(self._leaves[section])
                    raise ConfigError(f"{self.path}: {section}: expected a mapping, got {value}")
            if self.keys_under(key):
                raise ConfigError(f"{self.path}: {key}: expected a value, got a mapping")
            raise ConfigError(f"{self.path}: {key}: missing")
        self._taken.add(key)
        return self._leaves[key]

    def keys_under(self, prefix: str) -> list[str]:
        """Every key at or below ``prefix`` (a section or a list entry)."""
        return [key for key in self._leaves if key == prefix or key.startswith((f"{prefix}.", f"{prefix}["))]

    def note(self, kind: str, key: str, why: str) -> None:
        """Take ``key`` into a finding of ``kind``."""
        self.add(kind, key, self.take(key), why)

    def note_section(self, kind: str, prefix: str, why: str) -> None:
        """Take every key under ``prefix`` into one finding (a section that counts as a whole)."""
        keys = self.keys_under(prefix)
        if not keys:
            return
        self._taken.update(keys)
        value = {key[len(prefix) + 1 :]: self._leaves[key] for key in keys}
        self.add(kind, prefix, value, why)

    def refuse_untaken(self) -> None:
        """Refuse every key nothing took: a key this importer does not know is never dropped."""
        for key, value in self._leaves.items():
            if key not in self._taken:
                self._taken.add(key)
                self.add(
                    REFUSED,
                    key,
                    value,
                    "not a key landmarkgait knows (OpenGait's documented keys and the official "
                    "LandmarkGait configs' are); remove it or set its effect in the output yourself",
                )


def loss_entries(source: OpenGaitSource) -> list[str]:
    """The key prefixes of ``loss_cfg``'s entries: ``loss_cfg`` for a single mapping, else ``loss_cfg[i]``."""
    losses = source.merged.get("loss_cfg")
    if isinstance(losses, Mapping):
        return ["loss_cfg"]
    return [f"loss_cfg[{index}]" for index in range(len(losses or []))]


def _leaves(mapping: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """``(dotted key, value)`` of every leaf; the entries of ``ITEM_SECTIONS`` lists are walked too."""
    for key, value in mapping.items():
        dotted = f"{prefix}.{printable(str(key))}" if prefix else printable(str(key))
        if isinstance(value, Mapping) and value:
            yield from _leaves(value, dotted)
        elif dotted in ITEM_SECTIONS and isinstance(value, list) and value:
            for index, item in enumerate(value):
                entry = f"{dotted}[{index}]"
                if isinstance(item, Mapping) and item:
                    yield from _leaves(item, entry)
                else:
                    yield entry, item
        else:
            yield dotted, value
