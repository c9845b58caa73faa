"""What each unit owes and is owed, with its statutory due date: `GET /v1/obligations`.

A unit sees an obligation only when it sent or received the message that opened it (as with
conversations), and sees the case number and the closing message only as its own view shows them;
a joint meeting's decision, when it owes or is owed it; the committee (政法委), every obligation of
its division, without message payloads (`gateway.obligations.sightings`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from gateway.callers import ERRORS, Caller
from gateway.obligations import Sighting, sightings
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
    closed_note: str | None  # what the owing unit said when it marked an assigned obligation done
    late: bool  # met after the due date
    escalated_at: datetime | None
    alert_unit: str | None  # the unit the escalation alerts, e.g. the police station of the residence
    notice: str | None  # the message id of the committee's overdue notice (督办通知) the escalation sent
    side: Literal["owes", "owed", "party", "coordinating"]  # the caller owes it, is owed it, was told of it, or coordinates it


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
    with services.store.read() as session:
        found = sightings(session, services.deadlines, services.router, unit, utcnow())
    return [obligation_out(s) for s in found if status in (None, s.obligation.status)]


def obligation_out(sighting: Sighting) -> ObligationOut:
    o, entry = sighting.obligation, sighting.escalation
    return ObligationOut(
        obligation_id=o.id,
        rule=o.rule,
        title=o.title,
        basis=o.basis,
        opened_by=o.opened_by,
        kind=o.kind,
        case_number=sighting.case_number,
        opened_at=o.opened_at,
        owed_by=[PartyOut(unit_code=p.unit_code, name=p.name) for p in o.owed_by],
        owed_to=[PartyOut(unit_code=p.unit_code, name=p.name) for p in o.owed_to],
        due_on=o.due_on,
        due_note=o.due_note,
        status=o.status,
        closed_by=sighting.closed_by,
        closed_at=sighting.closed_at,
        closed_note=o.closed_note,
        late=o.late,
        escalated_at=entry.at if entry else None,
        alert_unit=entry.details.get("alert_unit") if entry else None,
        notice=entry.details.get("notice") if entry else None,
        side=sighting.side,
    )
