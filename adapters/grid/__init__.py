"""Grid workers (网格员): a JSON task format that carries only what a visit needs.

The projection (routing rules) has already removed everything a grid worker may not see; this
adapter only reshapes what is left into a visit task. Visit reports (inbound) come with the
supervision family.
"""

from __future__ import annotations

import json
from typing import Any

from adapters.base import Adapter, InboundError, ProjectedMessage
from contracts.catalog import spec_of
from contracts.common import Gender, SupervisionLevel
from contracts.envelope import Draft

LEVELS = {SupervisionLevel.strict: "严管", SupervisionLevel.ordinary: "普管", SupervisionLevel.lenient: "宽管"}
GENDERS = {Gender.male: "男", Gender.female: "女"}


def parse(data: bytes) -> Draft[Any]:
    raise InboundError("kind_unsupported", "网格端暂不接收报文（走访记录随监管类报文开放）")


def render(message: ProjectedMessage) -> bytes:
    payload: dict[str, Any] = dict(message.get("payload") or {})
    person: dict[str, Any] = dict(payload.get("person") or {})
    residence = person.get("residence") or {}
    level = payload.get("supervision_level")
    task = {
        "message_id": message.get("message_id"),
        "kind": message.get("kind"),
        "title": spec_of(str(message.get("kind"))).title,
        "from": (message.get("sender") or {}).get("unit_name"),
        "sent_at": message.get("received_at"),
        "person": {
            "name": person.get("name"),
            "gender": GENDERS.get(person.get("gender")),  # type: ignore[arg-type]
            "id_number": person.get("id_number"),
            "phone": person.get("phone"),
            "address": residence.get("address"),
            "area_code": residence.get("area_code"),
        },
        "supervision_level": LEVELS.get(level) if level else None,  # type: ignore[arg-type]
        "visit_schedule": payload.get("visit_schedule"),
        "task": payload.get("task"),
        "officer": payload.get("officer"),
        "enrolled_on": payload.get("enrolled_on"),
    }
    return json.dumps(task, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


ADAPTER = Adapter(
    name="grid",
    media_type="application/json",
    parse=parse,
    render=render,
    kinds_in=frozenset(),
    kinds_out=frozenset({"enrollment.registered"}),
)
