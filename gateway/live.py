"""The live alert stream (server-sent events): a police station's command desk sees each alert
for its jurisdiction the moment its delivery lands in the inbox, already in its own format.

The stream reads the inbox itself (the store), so it shows exactly what was delivered and can
resume after a dropped connection from `Last-Event-ID` without losing an alert. A read that
fails is logged and tried again at the next poll, rather than closing every desk's stream.
Deliveries can commit slightly out of time order (several workers), so each poll looks back
`LOOK_BACK` and skips what it already sent.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Annotated

import structlog
from fastapi import APIRouter, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from contracts.catalog import kinds
from gateway.callers import ERRORS, Caller
from gateway.errors import Refusal
from gateway.services import Services
from gateway.store import Delivery, StoredMessage, Unit

log = structlog.get_logger(__name__)
router = APIRouter()

LOOK_BACK = timedelta(seconds=5)
HEARTBEAT_SECONDS = 15.0
BATCH = 200


@cache
def live_kinds() -> frozenset[str]:
    """The kinds that are alerts, as the live stream and the API's admission know them."""
    return frozenset(kind for kind, spec in kinds().items() if spec.live)


def _cursor_time(last_event_id: str | None) -> datetime:
    """Where a (re)connecting subscriber resumes: after its last event, or from now."""
    if last_event_id:
        try:
            moment = datetime.fromisoformat(last_event_id.split("/", 1)[0])
        except ValueError:
            raise Refusal(400, "last_event_id_invalid", f"Last-Event-ID“{last_event_id[:80]}”不是本流发出的事件编号") from None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return datetime.now(UTC)


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _event(delivery: Delivery, kind: str, sender_name: str) -> str:
    delivered = delivery.delivered_at.replace(tzinfo=UTC) if delivery.delivered_at else datetime.now(UTC)
    data = {
        "delivery_id": delivery.delivery_id,
        "message_id": delivery.message_id,
        "kind": kind,
        "title": kinds()[kind].title,
        "sender_name": sender_name,
        "delivered_at": delivered.isoformat(),
        "media_type": delivery.media_type,
        "document": (delivery.rendered or b"").decode("utf-8"),
    }
    event_id = f"{delivered.isoformat()}/{delivery.delivery_id}"
    return f"id: {event_id}\nevent: alert\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _poll(
    services: Services, unit_code: str, since: datetime, alert_kinds: frozenset[str], sent: list[str]
) -> list[tuple[Delivery, str, str]]:
    query = (
        select(Delivery, StoredMessage.kind, Unit.name)
        .join(StoredMessage, StoredMessage.message_id == Delivery.message_id)
        .join(Unit, Unit.code == StoredMessage.sender_code)
        .where(
            Delivery.recipient_code == unit_code,
            Delivery.delivered_at >= _naive_utc(since - LOOK_BACK),
            StoredMessage.kind.in_(alert_kinds),
            Delivery.delivery_id.not_in(sent),
        )
        .order_by(Delivery.delivered_at)
        .limit(BATCH)
    )
    with services.store.read() as session:
        return [(d, kind, name) for d, kind, name in session.execute(query).all()]


async def _stream(services: Services, unit_code: str, since: datetime) -> AsyncIterator[str]:
    alert_kinds = live_kinds()
    sent: dict[str, datetime] = {}
    quiet = 0.0
    poll_seconds = services.settings.live_poll_seconds
    yield ": 协同告警流已连接\n\n"
    while True:
        try:
            fresh = await run_in_threadpool(_poll, services, unit_code, since, alert_kinds, list(sent))
        except SQLAlchemyError:  # the next poll reads the same window again: nothing is missed
            log.exception("live.poll_failed", unit=unit_code)
            fresh = []
        for delivery, kind, name in fresh:
            delivered = (delivery.delivered_at or datetime.now(UTC).replace(tzinfo=None)).replace(tzinfo=UTC)
            sent[delivery.delivery_id] = delivered
            since = max(since, delivered)
            log.info("live.alert_sent", unit=unit_code, delivery_id=delivery.delivery_id, kind=kind)
            yield _event(delivery, kind, name)
        horizon = since - LOOK_BACK
        for delivery_id in [i for i, at in sent.items() if at < horizon]:
            del sent[delivery_id]
        if len(fresh) == BATCH:
            continue
        quiet = 0.0 if fresh else quiet + poll_seconds
        if quiet >= HEARTBEAT_SECONDS:
            quiet = 0.0
            yield ": heartbeat\n\n"
        await asyncio.sleep(poll_seconds)


@router.get(
    "/v1/live",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **ERRORS},
    summary="实时告警流（server-sent events）：本单位收到的越界、失联、人机分离、脱管等告警",
)
async def live_alerts(
    request: Request,
    unit: Caller,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=200)] = None,
) -> StreamingResponse:
    """Each event's id resumes the stream: reconnect with it in `Last-Event-ID` and nothing is missed."""
    since = _cursor_time(last_event_id)
    services: Services = request.app.state.services
    log.info("live.subscribed", unit=unit.code, since=since.isoformat())
    return StreamingResponse(
        _stream(services, unit.code, since),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
