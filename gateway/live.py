"""The live alert stream (server-sent events): a police station's command desk sees each alert
for its jurisdiction the moment its delivery lands in the inbox, already in its own format.

The stream reads the inbox (the store), so it shows exactly what was delivered and can resume
after a dropped connection from `Last-Event-ID` without losing an alert: one reader per API
process (`Hub`) polls for every stream, and a stream reads the store itself to catch up. A read
that fails is logged and tried again at the next poll, rather than closing every desk's stream.
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
MOST_WAITING = 1000  # alerts found for one stream and not yet sent
RESTART_SECONDS = 1.0  # after the hub failed; its streams catch up from the store meanwhile


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


def _delivered(delivery: Delivery) -> datetime:
    """When the delivery landed in the inbox (the store keeps naive UTC)."""
    return delivery.delivered_at.replace(tzinfo=UTC) if delivery.delivered_at else datetime.now(UTC)


def _event(delivery: Delivery, kind: str, sender_name: str) -> str:
    delivered = _delivered(delivery)
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
    services: Services, unit_codes: tuple[str, ...], since: datetime, alert_kinds: frozenset[str], sent: list[str]
) -> list[tuple[Delivery, str, str]]:
    query = (
        select(Delivery, StoredMessage.kind, Unit.name)
        .join(StoredMessage, StoredMessage.message_id == Delivery.message_id)
        .join(Unit, Unit.code == StoredMessage.sender_code)
        .where(
            Delivery.recipient_code.in_(unit_codes),
            Delivery.delivered_at >= _naive_utc(since - LOOK_BACK),
            StoredMessage.kind.in_(alert_kinds),
            Delivery.delivery_id.not_in(sent),
        )
        .order_by(Delivery.delivered_at)
        .limit(BATCH)
    )
    with services.store.read(snapshot=False) as session:  # one statement
        return [(d, kind, name) for d, kind, name in session.execute(query).all()]


Found = tuple[Delivery, str, str]  # a delivered alert, its kind and its sender's name


class _Subscription:
    """What the hub found for one open stream and the stream has not taken yet; beyond
    `MOST_WAITING` (a desk that stopped reading) the stream reads the store again instead."""

    def __init__(self) -> None:
        self.found: list[Found] = []
        self.overflowed = False
        self.arrived = asyncio.Event()

    def hand(self, found: Found) -> None:
        if len(self.found) < MOST_WAITING:
            self.found.append(found)
        else:
            self.overflowed = True
        self.arrived.set()


class Hub:
    """One reader of the inbox for every live stream of this API process: each poll is one query
    for all the units subscribed, and what it finds goes to their streams. A stream reads the store
    itself only to catch up: when it opens (from its Last-Event-ID) and should it fall behind.
    With a query per stream every 20 ms, thirty police desks made 1,500 reads a second of an idle
    gateway, and every alert was looked for thirty times. While nothing was committed since its
    last read, a poll asks the database only that (`Store.commits_elsewhere`), not the inbox."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.alert_kinds = live_kinds()
        self.streams: dict[str, set[_Subscription]] = {}  # by unit code
        self.subscribed = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def open(self, unit_code: str) -> _Subscription:
        if self.task is None:
            self._start()
        subscription = _Subscription()
        self.streams.setdefault(unit_code, set()).add(subscription)
        self.subscribed.set()
        return subscription

    def _start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._poll_forever())
        self.task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        """Should the hub ever fail (its reads' failures are caught; this would be a bug), every
        open stream reads what it missed from the store itself and a new hub takes over a second
        later: no desk's stream goes quiet while it still looks connected. A failure that comes
        back at every read (an alert the hub cannot hand on) then costs a log line and a catch-up
        a second, not a new hub and a read as fast as the loop turns."""
        if task.cancelled():
            return
        log.error("live.hub_failed", exc_info=task.exception())
        for subscription in {s for streams in self.streams.values() for s in streams}:
            subscription.overflowed = True
            subscription.arrived.set()
        asyncio.get_running_loop().call_later(RESTART_SECONDS, self._start)

    def close(self, unit_code: str, subscription: _Subscription) -> None:
        streams = self.streams.get(unit_code, set())
        streams.discard(subscription)
        if not streams:
            self.streams.pop(unit_code, None)

    async def read(self, unit_codes: tuple[str, ...], since: datetime, sent: list[str]) -> list[Found] | None:
        """The alerts delivered to these units since `since` (less LOOK_BACK), but those sent; None
        when the read failed: the next one reads the same window again, so nothing is missed."""
        try:
            return await run_in_threadpool(_poll, self.services, unit_codes, since, self.alert_kinds, sent)
        except SQLAlchemyError:
            log.exception("live.poll_failed", units=list(unit_codes))
            return None

    async def _poll_forever(self) -> None:
        poll_seconds = self.services.settings.live_poll_seconds
        since, sent = datetime.now(UTC), _Sent()  # each stream catches up itself with what came before
        read_at: int | None = None  # the store's commit count when the last read began, if it left nothing behind
        while True:
            if not self.streams:
                self.subscribed.clear()
                await self.subscribed.wait()
                since, sent, read_at = datetime.now(UTC), _Sent(), None
            commits = self.services.store.commits_elsewhere()  # before the read: a commit after it is seen next time
            if commits is not None and commits == read_at:
                await asyncio.sleep(poll_seconds)  # nothing committed since: an idle hub costs no query
                continue
            began = datetime.now(UTC)
            read = await self.read(tuple(self.streams), since, sent.ids())
            fresh = read or []
            complete = read is not None and len(fresh) < BATCH
            read_at = commits if complete else None
            for found in fresh:
                since = max(since, sent.add(found[0]))
                for subscription in self.streams.get(found[0].recipient_code, ()):
                    subscription.hand(found)
            # All delivered before the read is found. LOOK_BACK covers what committed late, and a
            # worker's clock up to that much behind this host's (one host on SQLite; mind it elsewhere).
            if complete:
                since = max(since, began)
            sent.forget_before(since - LOOK_BACK)
            if len(fresh) < BATCH:
                await asyncio.sleep(poll_seconds)


class _Sent:
    """The deliveries already handed on within LOOK_BACK, by when each was delivered: a later read
    looks back that far for commits that came late, and skips these."""

    def __init__(self) -> None:
        self.at: dict[str, datetime] = {}

    def add(self, delivery: Delivery) -> datetime:
        delivered = self.at[delivery.delivery_id] = _delivered(delivery)
        return delivered

    def __contains__(self, delivery_id: str) -> bool:
        return delivery_id in self.at

    def ids(self) -> list[str]:
        return list(self.at)

    def forget_before(self, horizon: datetime) -> None:
        for delivery_id in [i for i, at in self.at.items() if at < horizon]:
            del self.at[delivery_id]


async def _stream(hub: Hub, unit_code: str, since: datetime) -> AsyncIterator[str]:
    """The unit's alerts from `since`: caught up from the store, then as the hub finds them."""
    subscription = hub.open(unit_code)  # before the catch-up read, so that nothing falls between the two
    sent = _Sent()
    catching_up = True
    try:
        yield ": 协同告警流已连接\n\n"
        while True:
            if catching_up:
                subscription.overflowed = False
                fresh = await hub.read((unit_code,), since, sent.ids())
                if fresh is None:
                    await asyncio.sleep(hub.services.settings.live_poll_seconds)
                    continue
                catching_up = len(fresh) == BATCH
            else:
                try:
                    async with asyncio.timeout(HEARTBEAT_SECONDS):  # no task of its own, as wait_for makes: one hop less
                        await subscription.arrived.wait()
                except TimeoutError:
                    yield ": heartbeat\n\n"
                    continue
                subscription.arrived.clear()
                fresh, subscription.found = subscription.found, []
                catching_up = subscription.overflowed  # what the hub dropped is read from the store
            for delivery, kind, name in fresh:
                if delivery.delivery_id in sent:  # found by the catch-up and by the hub
                    continue
                since = max(since, sent.add(delivery))
                log.info("live.alert_sent", unit=unit_code, delivery_id=delivery.delivery_id, kind=kind)
                yield _event(delivery, kind, name)
            sent.forget_before(since - LOOK_BACK)
    finally:
        hub.close(unit_code, subscription)


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
    log.info("live.subscribed", unit=unit.code, since=since.isoformat())
    return StreamingResponse(
        _stream(request.app.state.live, unit.code, since),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
