"""Case timelines, conversations and the grid worker's task list: what each party may see of
the same case, typed once by whoever wrote it."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel
from sqlalchemy import select

from contracts.common import UnitType
from gateway.callers import ERRORS, Caller
from gateway.conversations import case_messages, conversation, entry, loop_states, visible
from gateway.errors import Refusal
from gateway.services import Services
from gateway.store import Delivery

router = APIRouter()


class Entry(BaseModel):
    message_id: str
    kind: str
    title: str
    in_reply_to: str | None
    sender: str
    received_at: datetime
    role: str  # sender | recipient
    message: dict[str, Any]  # the canonical message as the caller may see it (its projection)


class LoopState(BaseModel):
    message_id: str
    kind: str
    title: str
    opened_at: datetime
    status: str  # open | settled
    settled_by: str | None


class Timeline(BaseModel):
    case_key: str
    entries: list[Entry]
    loops: list[LoopState]


class Conversation(BaseModel):
    message_id: str
    entries: list[Entry]
    loops: list[LoopState]


class Task(BaseModel):
    delivery_id: str
    message_id: str
    delivered_at: datetime
    acked_at: datetime | None
    task: dict[str, Any]  # the grid's own JSON rendering


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


@router.get(
    "/v1/cases/{case_key}",
    response_model=Timeline,
    responses=ERRORS,
    summary="一案的跨机关时间线（人员键或案号；仅含本单位发出或收到的报文，按本单位可见范围）",
)
def case_timeline(
    request: Request, unit: Caller, case_key: Annotated[str, Path(min_length=1, max_length=64)]
) -> Timeline:
    services = _services(request)
    with services.store.read() as session:
        seen = visible(session, services.router, unit.code, case_messages(session, case_key))
    # Only where the caller's own view shows the key: a grid worker who guessed a case number
    # must not learn which of its people it belongs to.
    seen = [s for s in seen if case_key in ((s.view.get("case") or {}).get("case_number"), (s.view.get("case") or {}).get("person_key"))]
    if not seen:
        raise Refusal(404, "case_not_found", "本单位可见的报文中没有该案号或人员键")
    return Timeline(case_key=case_key, entries=[Entry(**entry(s)) for s in seen], loops=[LoopState(**s) for s in loop_states(seen)])


@router.get(
    "/v1/conversations/{message_id}",
    response_model=Conversation,
    responses=ERRORS,
    summary="报文所在的往来（原报文及全部答复），以及尚待答复的事项",
)
def conversation_of(request: Request, unit: Caller, message_id: str) -> Conversation:
    services = _services(request)
    with services.store.read() as session:
        seen = visible(session, services.router, unit.code, conversation(session, message_id))
    if not any(s.message.message_id == message_id for s in seen):
        raise Refusal(404, "message_not_found", f"本单位没有发出或收到报文{message_id}")
    return Conversation(message_id=message_id, entries=[Entry(**entry(s)) for s in seen], loops=[LoopState(**s) for s in loop_states(seen)])


@router.get("/v1/grid/tasks", response_model=list[Task], responses=ERRORS, summary="网格员：本网格的任务（走访、告警、通知）")
def grid_tasks(
    request: Request,
    unit: Caller,
    pending: Annotated[bool, Query(description="只列未确认（未ack）的")] = True,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[Task]:
    if unit.unit_type is not UnitType.grid:
        raise Refusal(403, "grid_only", "任务列表仅供网格使用；其他单位请用收件箱 /v1/inbox")
    services = _services(request)
    query = select(Delivery).where(Delivery.recipient_code == unit.code, Delivery.delivered_at.is_not(None))
    if pending:
        query = query.where(Delivery.acked_at.is_(None))
    with services.store.read() as session:
        deliveries = session.scalars(query.order_by(Delivery.delivered_at.desc()).limit(limit)).all()
    return [
        Task(
            delivery_id=d.delivery_id,
            message_id=d.message_id,
            delivered_at=d.delivered_at,
            acked_at=d.acked_at,
            task=json.loads(d.rendered or b"{}"),  # a grid's deliveries are rendered by the grid adapter: JSON
        )
        for d in deliveries
    ]
