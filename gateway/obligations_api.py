"""What each unit owes and is owed, with its statutory due date: `GET /v1/obligations`.

A unit sees an obligation only when it sent or received the message that opened it (as with
conversations), and sees the case number and the closing message only as its own view shows them.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from gateway.callers import ERRORS, Caller
from gateway.conversations import visible
from gateway.obligations import case_messages, escalations, obligations
from gateway.services import Services
from gateway.store import utcnow

router = APIRouter()


class PartyOut(BaseModel):
    unit_code: str | None  # None: the person under correction
    name: str


class ObligationOut(BaseModel):
    obligation_id: str
    rule: str
    title: str
    basis: str  # 法律依据
    opened_by: str  # the message that opened it
    kind: str
    case_number: str | None  # as the caller's own view of the opening message shows it
    opened_at: datetime
    owed_by: list[PartyOut]
    owed_to: list[PartyOut]
    due_on: date | None
    due_note: str | None  # why there is no due date
    status: Literal["open", "met", "overdue"]
    closed_by: str | None  # the message that met it, when the caller sees that message
    closed_at: datetime | None
    late: bool  # met after the due date
    escalated_at: datetime | None
    alert_unit: str | None  # the unit the escalation alerts, e.g. the police station of the residence
    side: Literal["owes", "owed", "party"]  # the caller owes it, is owed it, or was told of it


@router.get(
    "/v1/obligations",
    response_model=list[ObligationOut],
    responses=ERRORS,
    summary="法定期限内的应办事项：本单位应办的、他方应向本单位办理的（仅含本单位发出或收到的报文所产生的）",
)
def list_obligations(
    request: Request,
    unit: Caller,
    status: Annotated[Literal["open", "overdue", "met"] | None, Query(description="open 未到期 / overdue 已逾期 / met 已办结")] = None,
) -> list[ObligationOut]:
    services: Services = request.app.state.services
    rules = services.deadlines
    with services.store.read() as session:
        stored = case_messages(session, rules)
        views = {seen.message.message_id: seen.view for seen in visible(session, services.router, unit.code, stored)}
        found = [
            o
            for o in obligations([json.loads(m.body) for m in stored], rules, utcnow())
            if o.opened_by in views and status in (None, o.status)
        ]
        escalated = escalations(session, [o.opened_by for o in found])
    out: list[ObligationOut] = []
    for o in sorted(found, key=lambda o: (o.due_on or date.max, o.opened_at)):
        entry = escalated.get((o.opened_by, o.rule))
        owes = any(p.unit_code == unit.code for p in o.owed_by)
        owed = any(p.unit_code == unit.code for p in o.owed_to)
        out.append(
            ObligationOut(
                obligation_id=o.id,
                rule=o.rule,
                title=o.title,
                basis=o.basis,
                opened_by=o.opened_by,
                kind=o.kind,
                case_number=(views[o.opened_by].get("case") or {}).get("case_number"),
                opened_at=o.opened_at,
                owed_by=[PartyOut(unit_code=p.unit_code, name=p.name) for p in o.owed_by],
                owed_to=[PartyOut(unit_code=p.unit_code, name=p.name) for p in o.owed_to],
                due_on=o.due_on,
                due_note=o.due_note,
                status=o.status,
                closed_by=o.closed_by if o.closed_by in views else None,
                closed_at=o.closed_at if o.closed_by in views else None,
                late=o.late,
                escalated_at=entry.at if entry else None,
                alert_unit=entry.details.get("alert_unit") if entry else None,
                side="owes" if owes else "owed" if owed else "party",
            )
        )
    return out
