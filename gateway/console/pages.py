"""The console's pages (工作台, 案件时间线, 报文追踪, 死信, 实时警情): each renders what the API's own
functions return for the signed-in unit."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Annotated, Any

import pika.exceptions
import structlog
from fastapi import Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from sqlalchemy import String, cast, or_, select

from contracts.common import UnitType
from gateway import live
from gateway.cases_api import case_timeline, grid_tasks
from gateway.chain import verify_chain
from gateway.cli import broker_url
from gateway.console.web import AGENCIES, Signed, api_endpoint, page, router, services_of, signed_in
from gateway.directory import UnitInfo
from gateway.dlq import list_dead
from gateway.errors import Refusal
from gateway.meetings_api import list_issues
from gateway.obligations_api import ObligationOut, list_obligations
from gateway.risk import cases_at_risk
from gateway.store import AuditEntry, Delivery, StoredMessage, utcnow

log = structlog.get_logger(__name__)

EVENTS = {
    "message.accepted": "报文受理（报文与各送达同时落库）",
    "delivery.published": "已发布至消息队列",
    "delivery.delivered": "已送达收件箱",
    "delivery.pushed": "已推送至对方系统",
    "delivery.retrieved": "对方已取回",
    "delivery.acked": "对方已签收",
    "delivery.failed": "投递失败，待重试",
    "delivery.dead_lettered": "多次失败，转入死信",
    "delivery.replayed": "死信已重放",
    "obligation.overdue": "逾期，已督办",
}
DELIVERY_STATUS = {"accepted": "已受理", "published": "已发布", "delivered": "已送达", "retrieved": "已取回", "acked": "已签收"}
OBLIGATION_STATUS = {"open": "办理中", "overdue": "已逾期", "met": "已办结"}


@router.get("/")
def board(request: Request, unit: Signed) -> HTMLResponse:
    """What this unit owes and is owed (overdue first), and what waits in its inbox to be signed for."""
    pending = list_obligations(request, unit, None)
    owes = [o for o in pending if o.side == "owes" and o.status != "met"]
    owed = [o for o in pending if o.side == "owed" and o.status != "met"]
    inbox = api_endpoint(request, "inbox")(unit=unit, pending=True, limit=100)
    tasks = grid_tasks(request, unit, pending=True, limit=100) if unit.unit_type is UnitType.grid else []
    context = {"owes": _overdue_first(owes), "owed": _overdue_first(owed), "inbox": inbox, "tasks": tasks, "status": OBLIGATION_STATUS}
    context["as_json"] = _as_json
    if unit.unit_type is UnitType.committee:
        context |= _coordination(request, unit, [o for o in pending if o.status == "overdue"])
    return page(request, "board.html", context)


def _coordination(request: Request, unit: UnitInfo, overdue: list[ObligationOut]) -> dict[str, Any]:
    """The coordinators' part of the board: the open joint-meeting issues, the division's overdue
    obligations by the agency that owes them (each raised to the joint meeting in one click), and
    its cases at risk."""
    services = services_of(request)
    units = services.directory.units
    by_agency: dict[str, list[ObligationOut]] = defaultdict(list)
    late: dict[str, list[str]] = defaultdict(list)
    for o in overdue:
        for party in o.owed_by:
            owing = units.get(party.unit_code or "")
            by_agency[AGENCIES[owing.agency] if owing else party.name].append(o)
        if o.case_number:
            late[o.case_number].append(o.title)
    with services.store.read() as session:
        at_risk = cases_at_risk(session, services.directory, unit.division_code, late, utcnow())
    issues = list_issues(request, unit, None)
    return {
        "by_agency": sorted(by_agency.items(), key=lambda item: -len(item[1])),
        "at_risk": at_risk,
        "open_issues": [i for i in issues if i.status != "closed"],
        "raised": {i.origin_ref: i.issue_id for i in issues if i.origin == "obligation"},
    }


def _overdue_first(found: list[ObligationOut]) -> list[ObligationOut]:
    return sorted(found, key=lambda o: o.status != "overdue")


@router.get("/cases")
def case_page(request: Request, unit: Signed, key: Annotated[str, Query(max_length=64)] = "") -> HTMLResponse:
    """A case's timeline across agencies, exactly as GET /v1/cases gives it to this unit."""
    key = key.strip()
    timeline = case_timeline(request, unit, key) if key else None
    units = services_of(request).directory.units
    return page(request, "case.html", {"key": key, "timeline": timeline, "units": units, "as_json": _as_json})


def _as_json(view: dict[str, Any]) -> str:
    return json.dumps(view, ensure_ascii=False, indent=2)


@router.get("/messages/{message_id}")
def trace(request: Request, unit: Signed, message_id: str) -> HTMLResponse:
    """A message the unit sent: each delivery's status, attempts and retrieval, and the audit entries
    of the message and its deliveries with their hashes, checked against the whole chain."""
    status = api_endpoint(request, "message_status")(message_id=message_id, unit=unit)
    services = services_of(request)
    delivery_ids = [d.delivery_id for d in status.deliveries]
    with services.store.read() as session:
        accepted = session.scalar(select(AuditEntry.id).where(AuditEntry.subject == message_id, AuditEntry.event == "message.accepted"))
        published = (AuditEntry.event == "delivery.published") & (AuditEntry.id >= (accepted or 0))
        mentions = or_(*[cast(AuditEntry.details, String).contains(d) for d in delivery_ids]) if delivery_ids else False
        entries = session.scalars(
            select(AuditEntry).where(or_(AuditEntry.subject.in_([message_id, *delivery_ids]), published & mentions)).order_by(AuditEntry.id)
        ).all()
    verdict = verify_chain(services.store)
    context = {"status": status, "entries": entries, "verdict": verdict, "events": EVENTS, "delivery_status": DELIVERY_STATUS}
    return page(request, "trace.html", context)


@router.get("/dlq")
def dead_letters(request: Request, unit: Signed) -> HTMLResponse:
    """Parked deliveries this unit sent or was to receive; a coordinator sees all of its division's."""
    services = services_of(request)
    try:
        parked = list_dead(services.settings, broker_url(services.settings))
    except pika.exceptions.AMQPError:
        raise Refusal(503, "broker_unavailable", "消息中间件暂时无法连接，死信队列读取不到，请稍后再试") from None
    ids = [p.delivery_id for p, _ in parked]
    with services.store.read() as session:
        parties = {
            delivery_id: (sender, recipient)
            for delivery_id, sender, recipient in session.execute(
                select(Delivery.delivery_id, StoredMessage.sender_code, Delivery.recipient_code)
                .join(StoredMessage, StoredMessage.message_id == Delivery.message_id)
                .where(Delivery.delivery_id.in_(ids))
            ).all()
        }
    units = services.directory.units

    def may_see(delivery_id: str) -> bool:
        sender, recipient = parties.get(delivery_id, ("", ""))
        if unit.code in (sender, recipient):
            return True
        return unit.unit_type is UnitType.committee and recipient in units and units[recipient].division_code == unit.division_code

    shown = [(p, info, parties[p.delivery_id]) for p, info in parked if may_see(p.delivery_id)]
    log.info("console.dlq_listed", unit=unit.code, parked=len(parked), shown=len(shown))
    return page(request, "dlq.html", {"parked": shown, "units": units})


@router.get("/live")
def live_page(request: Request, unit: Signed) -> HTMLResponse:
    return page(request, "live.html", {})


@router.get("/live/stream", response_class=StreamingResponse)
async def live_stream(request: Request) -> StreamingResponse:
    """The live alert stream for the page's EventSource, which cannot send X-Api-Key: the same
    stream as GET /v1/live, authenticated by the session cookie."""
    unit = signed_in(request)
    if unit is None:
        raise Refusal(401, "unauthenticated", "未登录或登录已过期，请重新登录控制台")
    return await live.live_alerts(request, unit, request.headers.get("Last-Event-ID"))
