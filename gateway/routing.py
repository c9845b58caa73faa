"""Routing rules (data, from YAML) and recipient projections, enforced here and only here."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import yaml
from pydantic import BaseModel, ConfigDict, model_validator

from contracts.catalog import kinds
from contracts.common import Agency, UnitType
from contracts.identifiers import mask_id_number
from gateway.directory import Directory, UnitInfo

MASKS: dict[str, Callable[[str], str]] = {"id_number": mask_id_number}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Projection(_Strict):
    """The fields a recipient role may see: `fields` of every kind, plus `kinds` naming the extra
    fields of one kind only (a termination's reason is not a transfer's reason)."""

    fields: list[str]
    kinds: dict[str, list[str]] = {}
    mask: dict[str, Literal["id_number"]] = {}
    documents: bool = True


class Target(_Strict):
    role: str
    unit_type: UnitType | None = None
    place: str | None = None
    sender_of: Literal["in_reply_to"] | None = None
    case_party: Agency | None = None
    required: bool = True
    when: dict[str, Any] = {}  # only when each field of the message has this value

    @model_validator(mode="after")
    def _one_way(self) -> Target:
        ways = [self.unit_type is not None and self.place is not None, self.sender_of is not None, self.case_party is not None]
        if sum(ways) != 1:
            raise ValueError(f"target {self.role}: name exactly one of unit_type+place, sender_of, case_party")
        return self


class Rule(_Strict):
    id: str
    description: str = ""
    kinds: list[str]
    deliver: list[Target]


class RulesFile(_Strict):
    projections: dict[str, Projection]
    recipients: dict[str, str]
    rules: list[Rule]

    @model_validator(mode="after")
    def _consistent(self) -> RulesFile:
        known = kinds()
        for rule in self.rules:
            for kind in rule.kinds:
                if kind not in known:
                    raise ValueError(f"rule {rule.id}: unknown kind {kind}")
        for name, projection in self.projections.items():
            for kind in projection.kinds:
                if kind not in known:
                    raise ValueError(f"projection {name}: unknown kind {kind}")
        for unit_type, projection in self.recipients.items():
            if projection not in self.projections:
                raise ValueError(f"recipients.{unit_type}: unknown projection {projection}")
        if "*" not in self.recipients:
            raise ValueError("recipients must name a default projection under '*'")
        return self


def load_rules(folder: Path) -> RulesFile:
    """Merge every `*.yaml` of `folder`: one file of projections, one file of rules per family,
    so that a new message kind brings its own rules file and edits no other."""
    merged: dict[str, Any] = {"projections": {}, "recipients": {}, "rules": []}
    for path in sorted(folder.glob("*.yaml")):
        part = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        unknown = set(part) - set(merged)
        if unknown:
            raise ValueError(f"{path.name}: unknown sections {sorted(unknown)}")
        for section in ("projections", "recipients"):
            twice = set(merged[section]) & set(part.get(section) or {})
            if twice:
                raise ValueError(f"{path.name}: {section} {sorted(twice)} declared in another file too")
            merged[section].update(part.get(section) or {})
        merged["rules"].extend(part.get("rules") or [])
    rules = RulesFile.model_validate(merged)
    ids = [rule.id for rule in rules.rules]
    if len(ids) != len(set(ids)):
        raise ValueError(f"rule ids declared twice: {sorted({i for i in ids if ids.count(i) > 1})}")
    return rules


@dataclass(frozen=True)
class PlannedDelivery:
    unit: UnitInfo
    role: str
    rule: str
    projection: str


class RoutingError(ValueError):
    """No unit plays a required role: the sender must correct the document (or the directory)."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.field = code, message, field


class CaseLookup(Protocol):
    """What routing may ask of earlier messages (answered by the store)."""

    def sender_of(self, message_id: str) -> str | None: ...

    def case_party(self, case_number: str, agency: Agency) -> str | None: ...


def dig(document: Mapping[str, Any], path: str) -> Any:
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


class Router:
    def __init__(self, rules: RulesFile, directory: Directory) -> None:
        self.rules = rules
        self.directory = directory

    @classmethod
    def from_folder(cls, folder: Path, directory: Directory) -> Router:
        return cls(load_rules(folder), directory)

    def projection_for(self, unit: UnitInfo) -> str:
        return self.rules.recipients.get(unit.unit_type.value, self.rules.recipients["*"])

    def plan(self, message: Mapping[str, Any], lookup: CaseLookup) -> list[PlannedDelivery]:
        """Every recipient of `message` (JSON form), once each, with the rule that chose it."""
        planned: dict[str, PlannedDelivery] = {}
        for rule in self.rules.rules:
            if message["kind"] not in rule.kinds:
                continue
            for target in rule.deliver:
                if any(dig(message, path) != value for path, value in target.when.items()):
                    continue
                unit = self._resolve(target, message, lookup)
                if unit is None:
                    continue
                if unit.code != message["sender"]["unit_code"] and unit.code not in planned:
                    planned[unit.code] = PlannedDelivery(unit, target.role, rule.id, self.projection_for(unit))
        return list(planned.values())

    def _resolve(self, target: Target, message: Mapping[str, Any], lookup: CaseLookup) -> UnitInfo | None:
        code: str | None = None
        if target.unit_type is not None and target.place is not None:
            place = dig(message, target.place)
            if not isinstance(place, str):
                return self._missing(target, f"报文缺少确定“{target.role}”所需的字段 {target.place}", target.place)
            if place[:6] not in self.directory.divisions:
                raise RoutingError("division_unknown", f"行政区划代码{place[:6]}不在目录中（字段 {target.place}）", target.place)
            unit = self.directory.resolve(target.unit_type, place)
            return unit or self._missing(target, f"目录中没有管辖{place}的{target.role}（字段 {target.place}）", target.place)
        if target.sender_of is not None:
            replied = message.get("in_reply_to")
            code = lookup.sender_of(str(replied)) if replied else None
        elif target.case_party is not None:
            code = lookup.case_party(message["case"]["case_number"], target.case_party)
        unit = self.directory.units.get(code) if code else None
        return unit or self._missing(target, f"无法确定收件人“{target.role}”", None)

    @staticmethod
    def _missing(target: Target, message: str, field: str | None) -> None:
        if target.required:
            raise RoutingError("recipient_unresolved", message, field)
        return None

    def project(self, message: Mapping[str, Any], projection: str) -> dict[str, Any]:
        """The part of `message` a recipient with `projection` may see (the single enforcement point)."""
        spec = self.rules.projections[projection]
        if spec.fields == ["*"]:
            seen = copy.deepcopy(dict(message))
        else:
            seen = {}
            for path in spec.fields + spec.kinds.get(str(message.get("kind")), []):
                value = dig(message, path)
                if value is not None:
                    _put(seen, path, copy.deepcopy(value))
        for path, mask in spec.mask.items():
            value = dig(seen, path)
            if isinstance(value, str):
                _put(seen, path, MASKS[mask](value))
        if not spec.documents:
            seen.pop("documents", None)
        return seen

    def may_see_documents(self, projection: str) -> bool:
        return self.rules.projections[projection].documents


def _put(document: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for part in parents:
        document = document.setdefault(part, {})
    document[leaf] = value
