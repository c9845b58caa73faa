"""Consumers: render each delivery in its recipient's format into the inbox, and push webhooks.

A consumer is idempotent by delivery (one message id + one recipient): the inbox row is written
only if it is not there yet, so a redelivery after a crash has no second effect. A failing
delivery is retried through the delayed retry queues, then parked in the dead-letter queue.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import httpx
import pika
import structlog
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import AMQPError
from sqlalchemy import select, update
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from adapters.base import registry
from gateway.broker import ATTEMPT_HEADER, DEAD, DELAY_HEADER, PUSH, RETRY, connection_parameters, declare_topology, queue_of
from gateway.routing import Router
from gateway.settings import Settings
from gateway.store import Audit, Delivery, OutboxEntry, Store, Unit, utcnow

log = structlog.get_logger(__name__)


class Worker:
    def __init__(self, settings: Settings, store: Store, router: Router, broker_url: str, routing_keys: list[str]) -> None:
        self.settings, self.store, self.router = settings, store, router
        self.parameters = connection_parameters(broker_url, "xietong-worker")
        self.routing_keys = routing_keys
        self.http = httpx.Client(timeout=settings.webhook_timeout_seconds)

    def run(self) -> None:
        """Consume until stopped, reconnecting (with backoff) to any broker node that answers."""
        while True:
            self._consume()

    @retry(
        retry=retry_if_exception_type(AMQPError),
        wait=wait_exponential(multiplier=0.2, max=2.0),
        before_sleep=lambda state: log.warning("worker.disconnected", error=repr(state.outcome.exception() if state.outcome else None)),
    )
    def _consume(self) -> None:
        connection = pika.BlockingConnection(self.parameters)
        channel = connection.channel()
        channel.confirm_delivery()  # a retry or parking is confirmed before the original is acked
        declare_topology(channel, registry().keys(), self.settings.retry_delays_ms)
        channel.basic_qos(prefetch_count=self.settings.consumer_prefetch)
        for key in self.routing_keys:
            handler = self._push if key == PUSH else self._deliver
            channel.basic_consume(queue_of(key), self._callback(handler))
        log.info("worker.consuming", queues=[queue_of(k) for k in self.routing_keys])
        channel.start_consuming()

    def _callback(self, handler: Callable[[dict[str, Any]], None]) -> Callable[..., None]:
        def on_message(channel: BlockingChannel, method: Any, properties: pika.BasicProperties, body: bytes) -> None:
            structlog.contextvars.clear_contextvars()
            try:
                wire = json.loads(body)
                structlog.contextvars.bind_contextvars(delivery_id=wire["delivery_id"], message_id=wire.get("message", {}).get("message_id"))
                handler(wire)
            except Exception as exc:  # any failure of one delivery must not stop the others
                self._retry_or_park(channel, method, properties, body, exc)
            channel.basic_ack(method.delivery_tag)

        return on_message

    def _deliver(self, wire: dict[str, Any]) -> None:
        """Render the delivery for its recipient and place it in the inbox (once)."""
        delivery_id, message = wire["delivery_id"], wire["message"]
        adapter = registry()[wire["adapter"]]
        rendered = adapter.render(self.router.project(message, wire["projection"]))
        digest = hashlib.sha256(rendered).hexdigest()
        with self.store.write() as session:
            done = session.execute(
                update(Delivery)
                .where(Delivery.delivery_id == delivery_id, Delivery.delivered_at.is_(None))
                .values(delivered_at=utcnow(), rendered=rendered, rendered_sha256=digest, media_type=adapter.media_type, last_error=None)
            ).rowcount
            if not done:
                if session.get(Delivery, delivery_id) is None:
                    raise LookupError(f"delivery {delivery_id} is not in this gateway's store")
                log.info("delivery.redelivered")
                return
            Audit(session).append("consumer", "delivery.delivered", delivery_id, recipient=wire["recipient"], rendered_sha256=digest)
            if session.scalar(select(Unit.webhook_url).where(Unit.code == wire["recipient"])):
                session.add(
                    OutboxEntry(routing_key=PUSH, delivery_id=delivery_id, body=json.dumps({"delivery_id": delivery_id}).encode(), created_at=utcnow())
                )
        log.info("delivery.delivered", recipient=wire["recipient"], adapter=adapter.name)

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

    def _retry_or_park(self, channel: BlockingChannel, method: Any, properties: pika.BasicProperties, body: bytes, exc: Exception) -> None:
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
