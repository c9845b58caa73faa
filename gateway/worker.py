"""Consumers: render each delivery in its recipient's format into the inbox, and push webhooks.

A consumer is idempotent by delivery (one message id + one recipient): the inbox row is written
only if it is not there yet, so a redelivery after a crash has no second effect. A failing
delivery is retried through the delayed retry queues, then parked in the dead-letter queue.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import httpx
import pika
import structlog
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import AMQPError
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from adapters.base import registry
from gateway.broker import ATTEMPT_HEADER, DEAD, DELAY_HEADER, PUSH, RETRY, connection_parameters, declare_topology, is_live, queue_of, routing_key_of
from gateway.routing import Router
from gateway.settings import Settings
from gateway.store import STORE_UNAVAILABLE, Audit, Delivery, OutboxEntry, Store, StoredMessage, Unit, unavailable_because, utcnow

log = structlog.get_logger(__name__)

STOP_CHECK_SECONDS = 1.0  # how long a lane waits for deliveries before it looks whether it should stop
STORE_WAIT_SECONDS = 1.0  # how often a batch held while the store is unavailable is tried again


@dataclass(frozen=True)
class Arrived:
    """A message from the broker, held until the commit of its batch, then acked."""

    method: Any
    properties: pika.BasicProperties
    body: bytes
    push: bool


@dataclass(frozen=True)
class Rendered:
    """A delivery rendered for its recipient, waiting for its batch's write transaction."""

    arrived: Arrived
    delivery_id: str
    recipient: str
    adapter: str
    media_type: str
    document: bytes
    digest: str


def _arrival(into: list[Arrived], push: bool) -> Callable[..., None]:
    def on_message(_channel: BlockingChannel, method: Any, properties: pika.BasicProperties, body: bytes) -> None:
        into.append(Arrived(method, properties, body, push))

    return on_message


class Worker:
    def __init__(self, settings: Settings, store: Store, router: Router, broker_url: str, routing_keys: list[str]) -> None:
        self.settings, self.store, self.router = settings, store, router
        self.parameters = connection_parameters(broker_url, "xietong-worker")
        self.routing_keys = routing_keys
        self.http = httpx.Client(timeout=settings.webhook_timeout_seconds)
        self.stopping = threading.Event()

    def lanes(self) -> list[list[str]]:
        """The routing keys each lane consumes: the alerts, and the documents with the webhook pushes."""
        adapters = [a for a in self.routing_keys if a != PUSH]
        alerts = [routing_key_of(a, True) for a in adapters]
        documents = ([PUSH] if PUSH in self.routing_keys else []) + [routing_key_of(a, False) for a in adapters]
        return [keys for keys in (alerts, documents) if keys]

    def run(self) -> None:
        """Consume until stopped, each lane on a thread and a broker connection of its own.

        Alerts have a lane of their own here as in the broker: with one connection, an alert that
        arrived while a batch of a hundred documents was rendered and written waited for all of it
        (p50 40-70 ms under load). A lane that fails stops the others, so that the worker ends and
        its supervisor starts it again.

        The wait for the lanes is timed: a SIGTERM the kernel hands to one of the lanes' threads
        runs its handler in this thread only when this thread next runs Python, and an untimed
        wait would never return (the lanes end only once stopped)."""
        lanes = self.lanes()
        with ThreadPoolExecutor(len(lanes), thread_name_prefix="worker-lane") as pool:
            running = [pool.submit(self._lane, keys) for keys in lanes]
            try:
                while not wait(running, timeout=STOP_CHECK_SECONDS, return_when=FIRST_EXCEPTION).done:
                    continue
            finally:
                self.stopping.set()
        for lane in running:
            lane.result()

    def stop(self) -> None:
        """Each lane finishes (and acks) the batch in hand, then leaves its connection."""
        self.stopping.set()

    def _lane(self, keys: list[str]) -> None:
        while not self.stopping.is_set():
            self._consume(keys)

    @retry(
        retry=retry_if_exception_type(AMQPError),
        wait=wait_exponential(multiplier=0.2, max=2.0),
        stop=lambda state: state.args[0].stopping.is_set(),  # a stop ends the reconnecting too
        retry_error_callback=lambda _state: None,
        before_sleep=lambda state: log.warning("worker.disconnected", error=repr(state.outcome.exception() if state.outcome else None)),
    )
    def _consume(self, keys: list[str]) -> None:
        """Reconnecting (with backoff) to any broker node that answers, until stopped."""
        with pika.BlockingConnection(self.parameters) as connection:
            channel = connection.channel()
            channel.confirm_delivery()  # a retry or parking is confirmed before the original is acked
            declare_topology(channel, registry().keys(), self.settings.retry_delays_ms)
            channel.basic_qos(prefetch_count=self.settings.consumer_prefetch)
            arrived: list[Arrived] = []
            for key in keys:  # each queue has its own prefetch window
                channel.basic_consume(queue_of(key), _arrival(arrived, push=key == PUSH))
            log.info("worker.consuming", queues=[queue_of(k) for k in keys])
            while not self.stopping.is_set():
                connection.process_data_events(time_limit=STOP_CHECK_SECONDS)  # returns once something arrived
                batch, arrived[:] = arrived[:], []
                if batch:
                    self._handle(connection, channel, batch)

    def _handle(self, connection: pika.BlockingConnection, channel: BlockingChannel, batch: list[Arrived]) -> None:
        """What arrived together is placed in the inbox in one write transaction (group commit),
        then acked at once: an ack always follows the commit of its effect, so a crash between the
        two means a redelivery, which the inbox absorbs. A lane's batch holds alerts or documents,
        never both; alerts take the store's write lock ahead of the others.

        While the store is unavailable the batch is held, unacked, and tried again every
        STORE_WAIT_SECONDS (the connection kept alive meanwhile), as a redelivery would be. The
        deliveries are not at fault: a store that took no writes (a full disk, a lock held past
        the timeout) had been counted against each of them, and parked them all once it outlasted
        their retries (two and a half minutes by default); one that answered nothing had ended the
        worker, started again by its supervisor, again and again."""
        while True:
            try:
                self._place(channel, self._render_all(channel, batch), urgent=is_live(batch[0].method.routing_key))
                break
            except STORE_UNAVAILABLE as exc:
                log.warning("worker.store_unavailable", deliveries=len(batch), error=unavailable_because(exc))
                if self.stopping.is_set():
                    return  # left unacked: the broker hands them out again
                connection.sleep(STORE_WAIT_SECONDS)
        channel.basic_ack(batch[-1].method.delivery_tag, multiple=True)

    def _render_all(self, channel: BlockingChannel, batch: list[Arrived]) -> list[Rendered]:
        """Each delivery rendered for its recipient (webhook pushes are made at once); a failure is
        retried or parked alone."""
        wires: list[tuple[Arrived, Any]] = []
        for item in batch:
            try:
                wires.append((item, json.loads(item.body)))
            except ValueError as exc:
                self._retry_or_park(channel, item, exc)
        messages = self._messages({wire.get("message_id") for item, wire in wires if not item.push and isinstance(wire, dict)})
        rendered: list[Rendered] = []
        for item, wire in wires:
            structlog.contextvars.clear_contextvars()
            try:
                structlog.contextvars.bind_contextvars(delivery_id=wire["delivery_id"], message_id=wire.get("message_id"))
                if item.push:
                    self._push(wire)
                else:
                    rendered.append(self._render(item, wire, messages.get(wire["message_id"])))
            except STORE_UNAVAILABLE:
                raise  # no fault of this delivery's: the batch waits for the store
            except Exception as exc:  # any failure of one delivery must not stop the others
                self._retry_or_park(channel, item, exc)
        structlog.contextvars.clear_contextvars()
        return rendered

    def _messages(self, message_ids: set[Any]) -> dict[str, dict[str, Any]]:
        """The canonical messages a batch delivers, read once: a delivery on the broker names its
        message rather than carrying it, so acceptance writes each message once, not once more per
        recipient, under the store's write lock."""
        wanted = [m for m in message_ids if isinstance(m, str)]
        if not wanted:
            return {}
        with self.store.read(snapshot=False) as session:  # one statement
            rows = session.execute(select(StoredMessage.message_id, StoredMessage.body).where(StoredMessage.message_id.in_(wanted)))
            return {message_id: json.loads(body) for message_id, body in rows}

    def _render(self, item: Arrived, wire: dict[str, Any], message: dict[str, Any] | None) -> Rendered:
        """The delivery in its recipient's format and projection."""
        if message is None:
            raise LookupError(f"message {wire['message_id']} of delivery {wire['delivery_id']} is not in this gateway's store")
        adapter = registry()[wire["adapter"]]
        document = adapter.render(self.router.project(message, wire["projection"]))
        digest = hashlib.sha256(document).hexdigest()
        return Rendered(item, wire["delivery_id"], wire["recipient"], adapter.name, adapter.media_type, document, digest)

    def _place(self, channel: BlockingChannel, items: list[Rendered], urgent: bool) -> None:
        """Place rendered deliveries in the inbox, together; should the shared transaction fail,
        each alone, so that one bad delivery is retried or parked without the others."""
        if not items:
            return
        try:
            with self.store.write(urgent) as session:
                placed, missing = self._place_in(session, items)
        except STORE_UNAVAILABLE:
            raise  # no fault of these deliveries': the batch waits for the store
        except Exception as exc:
            if len(items) == 1:
                self._retry_or_park(channel, items[0].arrived, exc)
            else:
                log.warning("delivery.batch_failed", deliveries=len(items), error=repr(exc))
                for item in items:
                    self._place(channel, [item], urgent)
            return
        for item in placed:
            log.info("delivery.delivered", delivery_id=item.delivery_id, recipient=item.recipient, adapter=item.adapter)
        for item in missing:
            self._retry_or_park(channel, item.arrived, LookupError(f"delivery {item.delivery_id} is not in this gateway's store"))

    def _place_in(self, session: Session, items: list[Rendered]) -> tuple[list[Rendered], list[Rendered]]:
        """Write each delivery into the inbox once: those placed now, and those the store does not
        know. A few statements for the whole batch, since every other writer waits meanwhile."""
        now = utcnow()
        found = session.execute(select(Delivery.delivery_id, Delivery.delivered_at).where(Delivery.delivery_id.in_({i.delivery_id for i in items}))).all()
        known = {delivery_id for delivery_id, _ in found}
        waiting = {delivery_id for delivery_id, delivered_at in found if delivered_at is None}
        placed: list[Rendered] = []
        for item in items:
            if item.delivery_id in waiting:
                waiting.discard(item.delivery_id)  # a second copy in the same batch is a redelivery
                placed.append(item)
            elif item.delivery_id in known:
                log.info("delivery.redelivered", delivery_id=item.delivery_id)
        missing = [item for item in items if item.delivery_id not in known]
        if not placed:
            return placed, missing
        table = Delivery.__table__
        session.connection().execute(
            update(table)
            .where(table.c.delivery_id == bindparam("placed_id"))
            .values(
                delivered_at=now,
                # consumed, so published: the relay's mark, after the broker's confirm, may come later
                published_at=func.coalesce(table.c.published_at, now),
                rendered=bindparam("placed_document"),
                rendered_sha256=bindparam("placed_sha256"),
                media_type=bindparam("placed_media_type"),
                last_error=None,
            ),
            [{"placed_id": i.delivery_id, "placed_document": i.document, "placed_sha256": i.digest, "placed_media_type": i.media_type} for i in placed],
        )
        Audit(session).append_many(
            [("consumer", "delivery.delivered", i.delivery_id, {"recipient": i.recipient, "rendered_sha256": i.digest}) for i in placed]
        )
        recipients = {item.recipient for item in placed}
        hooked = {code for code, url in session.execute(select(Unit.code, Unit.webhook_url).where(Unit.code.in_(recipients))) if url}
        pushes = [
            {"routing_key": PUSH, "delivery_id": i.delivery_id, "body": json.dumps({"delivery_id": i.delivery_id}).encode(), "created_at": now}
            for i in placed
            if i.recipient in hooked
        ]
        if pushes:
            session.connection().execute(insert(OutboxEntry.__table__), pushes)
        return placed, missing

    def _push(self, wire: dict[str, Any]) -> None:
        """POST the rendered document to the recipient's webhook; 2xx is the proof of receipt."""
        delivery_id = wire["delivery_id"]
        with self.store.read() as session:
            row = session.execute(
                select(Delivery, Unit.webhook_url).join(Unit, Unit.code == Delivery.recipient_code).where(Delivery.delivery_id == delivery_id)
            ).first()
        if row is None or row[0].pushed_at is not None or not row[1]:
            return
        delivery, url = row
        response = self._post(
            url,
            content=delivery.rendered,
            headers={
                "Content-Type": delivery.media_type or "application/octet-stream",
                "X-Xietong-Delivery-Id": delivery_id,
                "X-Xietong-Message-Id": delivery.message_id,
            },
        )
        with self.store.write() as session:
            session.execute(update(Delivery).where(Delivery.delivery_id == delivery_id).values(pushed_at=utcnow()))
            Audit(session).append("consumer", "delivery.pushed", delivery_id, status=response.status_code)
        log.info("delivery.pushed", status=response.status_code)

    @retry(
        retry=retry_if_exception_type(httpx.TransportError),
        stop=stop_after_attempt(3),
        wait=wait_exponential(multiplier=0.2, max=1.0),
        reraise=True,
    )
    def _post(self, url: str, content: bytes | None, headers: dict[str, str]) -> httpx.Response:
        """A webhook call; brief network blips are retried here, longer outages by the retry queues."""
        return self.http.post(url, content=content, headers=headers).raise_for_status()

    def _retry_or_park(self, channel: BlockingChannel, item: Arrived, exc: Exception) -> None:
        method, properties, body = item.method, item.properties, item.body
        headers = dict(properties.headers or {})
        attempt = int(headers.get(ATTEMPT_HEADER, 0)) + 1
        delays = self.settings.retry_delays_ms
        parked = attempt >= self.settings.delivery_attempts
        log.warning("delivery.failed", attempt=attempt, parked=parked, error=repr(exc))
        self._record_failure(properties.message_id, attempt, repr(exc), parked)
        headers[ATTEMPT_HEADER] = attempt
        if not parked:
            headers[DELAY_HEADER] = delays[min(attempt - 1, len(delays) - 1)]
        again = pika.BasicProperties(
            delivery_mode=pika.DeliveryMode.Persistent, headers=headers, message_id=properties.message_id, content_type=properties.content_type
        )
        channel.basic_publish(DEAD if parked else RETRY, method.routing_key, body, again)

    def _record_failure(self, delivery_id: str | None, attempt: int, error: str, parked: bool) -> None:
        if not delivery_id:
            return
        try:
            with self.store.write() as session:
                session.execute(update(Delivery).where(Delivery.delivery_id == delivery_id).values(attempts=attempt, last_error=error[:2000]))
                Audit(session).append("consumer", "delivery.dead_lettered" if parked else "delivery.failed", delivery_id, attempt=attempt, error=error[:500])
        except Exception:
            log.exception("delivery.failure_not_recorded")
