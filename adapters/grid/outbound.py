"""Canonical message -> grid task JSON (UTF-8); pure, no I/O.

The projection (routing rules, `grid_visit`) has already removed everything a grid worker may
not see; this module only reshapes what is left, so it renders any kind. Blocks appear when the
message carries them:

    {"message_id", "kind", "title", "from", "sent_at", "awaits_answer",
     "person": {"name", "gender", "id_number" (masked), "phone", "address", "area_code"},
     "supervision_level", "visit_schedule", "task", "officer", "enrolled_on",
     "alert": {"type", "detected_at", "location", "assistance"},
     "risk": {"level", "measures", "valid_until"},
     "visit": {"due_by", "purpose", "focus_points"},
     "other": {any other payload field the projection let through}}

A visit report answers a task by its `message_id` (see `adapters.grid.inbound`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from adapters.base import ProjectedMessage
from contracts.catalog import spec_of
from contracts.common import Gender, SupervisionLevel
from contracts.supervision import AlertType, RiskLevel

LEVELS = {SupervisionLevel.strict: "严管", SupervisionLevel.ordinary: "普管", SupervisionLevel.lenient: "宽管"}
GENDERS = {Gender.male: "男", Gender.female: "女"}
ALERT_TYPES = {
    AlertType.fence_breach: "越界",
    AlertType.lost_contact: "失联",
    AlertType.device_separated: "人机分离",
    AlertType.failed_to_report: "未按规定报告",
    AlertType.absconding: "脱管",
}
RISK_LEVELS = {RiskLevel.high: "高", RiskLevel.medium: "中", RiskLevel.low: "低"}
RENDERED = frozenset(  # the payload fields `render` places; any other projected field goes under "other"
    (
        "person", "supervision_level", "visit_schedule", "task", "officer", "enrolled_on",
        "alert_type", "detected_at", "location", "assistance",
        "risk_level", "measures", "valid_until",
        "due_by", "purpose", "focus_points",
    )
)  # fmt: skip


def _block(**fields: Any) -> dict[str, Any] | None:
    """A block with what the message holds of it, or None when it holds nothing."""
    present = {name: value for name, value in fields.items() if value is not None}
    return present or None


def _label(table: Mapping[Any, str], value: Any) -> str | None:
    return table.get(value) if value is not None else None


def render(message: ProjectedMessage) -> bytes:
    payload: Mapping[str, Any] = message.get("payload") or {}
    person: Mapping[str, Any] = payload.get("person") or {}
    residence: Mapping[str, Any] = person.get("residence") or {}
    location: Mapping[str, Any] = payload.get("location") or {}
    measures: Mapping[str, Any] = payload.get("measures") or {}
    spec = spec_of(str(message.get("kind")))
    task: dict[str, Any] = {
        "message_id": message.get("message_id"),
        "kind": spec.kind,
        "title": spec.title,
        "from": (message.get("sender") or {}).get("unit_name"),
        "sent_at": message.get("received_at"),
        "awaits_answer": spec.awaits_answer,
        "person": {
            "name": person.get("name"),
            "gender": _label(GENDERS, person.get("gender")),
            "id_number": person.get("id_number"),
            "phone": person.get("phone"),
            "address": residence.get("address"),
            "area_code": residence.get("area_code"),
        },
        "supervision_level": _label(LEVELS, payload.get("supervision_level")),
        "visit_schedule": payload.get("visit_schedule"),
        "task": payload.get("task"),
        "officer": payload.get("officer"),
        "enrolled_on": payload.get("enrolled_on"),
    }
    specifics = {
        "alert": _block(
            type=_label(ALERT_TYPES, payload.get("alert_type")),
            detected_at=payload.get("detected_at"),
            location=location.get("description"),
            assistance=payload.get("assistance"),
        ),
        "risk": _block(
            level=_label(RISK_LEVELS, payload.get("risk_level")),
            measures=measures.get("grid"),
            valid_until=payload.get("valid_until"),
        ),
        "visit": _block(
            due_by=payload.get("due_by"), purpose=payload.get("purpose"), focus_points=payload.get("focus_points")
        ),
    }
    task.update({name: block for name, block in specifics.items() if block})
    other = {name: value for name, value in payload.items() if name not in RENDERED and value is not None}
    if other:
        task["other"] = other  # what another family's projection lets through, as it is
    return json.dumps(task, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
