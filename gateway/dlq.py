"""Operating the dead-letter queue `xietong.dead`: list, show and replay parked deliveries.

Browsing a quorum queue has no "peek". We consume with manual acknowledgement, hold every
message unacked while we read, then cancel the consumer and close the channel: the broker
returns all unacked messages to the queue at once. This is preferred over basic_get + reject
(requeue) one by one, which would hand the same message straight back to the next basic_get
and loop, and over nack(requeue) while still consuming, which redelivers to ourselves. Nothing
is acked, so nothing is lost if we crash half-way. (On RabbitMQ 4, whose quorum queues have a
default delivery limit, returns by channel closure do not count as failed deliveries.)

Replay acks a dead message only after the broker confirmed its copy on `xietong.deliveries`
and the replay is in the audit chain; a crash in between leaves a duplicate, which workers
absorb (they are idempotent by delivery).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pika
import structlog
from pika.adapters.blocking_connection import BlockingChannel
from sqlalchemy import select

from adapters.base import registry
from gateway.broker import ATTEMPT_HEADER, DEAD, DELAY_HEADER, DELIVERIES, connection_parameters, declare_topology
from gateway.settings import Settings
from gateway.store import Audit, Delivery, Store, StoredMessage

log = structlog.get_logger(__name__)

IDLE_SECONDS = 1.0  # no message for this long: we have seen the whole queue


@dataclass
class Parked:
    """One message of the dead queue, still unacked on the channel that read it."""

    delivery_tag: int
    routing_key: str
    properties: pika.BasicProperties
    body: bytes

    @property
    def wire(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self.body))
        except ValueError:
            return {}

    @property
    def delivery_id(self) -> str:
        return str(self.properties.message_id or self.wire.get("delivery_id", "?"))

    @property
    def attempts(self) -> int:
        return int((self.properties.headers or {}).get(ATTEMPT_HEADER, 0))


@dataclass
class DeliveryInfo:
    kind: str
    recipient: str
    last_error: str | None


@contextmanager
def dead_channel(settings: Settings, url: str, limit: int) -> Iterator[BlockingChannel]:
    connection = pika.BlockingConnection(connection_parameters(url, "xietong-dlq"))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        declare_topology(channel, registry().keys(), settings.retry_delays_ms)
        channel.basic_qos(prefetch_count=limit)
        yield channel
    finally:
        if connection.is_open:
            connection.close()  # returns every unacked message to the dead queue


def read_all(channel: BlockingChannel, limit: int) -> list[Parked]:
    """Everything in the dead queue now (up to limit), held unacked on this channel."""
    expected = channel.queue_declare(DEAD, passive=True).method.message_count
    parked: list[Parked] = []
    if expected == 0:
        return parked
    for method, properties, body in channel.consume(DEAD, inactivity_timeout=IDLE_SECONDS):
        if method is None:
            break
        parked.append(Parked(method.delivery_tag, method.routing_key, properties, body))
        if len(parked) >= min(expected, limit):
            break
    channel.cancel()  # pending buffered messages are requeued; ours stay unacked until close
    return parked


def delivery_info(store: Store, delivery_ids: Iterable[str]) -> dict[str, DeliveryInfo]:
    with store.read() as session:
        rows = session.execute(
            select(Delivery.delivery_id, StoredMessage.kind, Delivery.recipient_code, Delivery.last_error)
            .join(StoredMessage, StoredMessage.message_id == Delivery.message_id)
            .where(Delivery.delivery_id.in_(list(delivery_ids)))
        ).all()
    return {row[0]: DeliveryInfo(row[1], row[2], row[3]) for row in rows}


def list_dead(settings: Settings, url: str, limit: int = 10000) -> list[tuple[Parked, DeliveryInfo | None]]:
    with dead_channel(settings, url, limit) as channel:
        parked = read_all(channel, limit)
    store = Store(settings.db_url)
    info = delivery_info(store, [p.delivery_id for p in parked])
    store.engine.dispose()
    return [(p, info.get(p.delivery_id)) for p in parked]


def replay(settings: Settings, url: str, delivery_ids: set[str] | None, limit: int = 10000) -> list[str]:
    """Republish the chosen dead messages (all when delivery_ids is None) with attempts reset."""
    store = Store(settings.db_url)
    replayed: list[str] = []
    try:
        with dead_channel(settings, url, limit) as channel:
            for parked in read_all(channel, limit):
                if delivery_ids is not None and parked.delivery_id not in delivery_ids:
                    continue  # left unacked: back in the dead queue on close
                headers = {k: v for k, v in (parked.properties.headers or {}).items() if k != DELAY_HEADER}
                headers[ATTEMPT_HEADER] = 0
                properties = pika.BasicProperties(
                    delivery_mode=pika.DeliveryMode.Persistent,
                    headers=headers,
                    message_id=parked.properties.message_id,
                    content_type=parked.properties.content_type,
                )
                # confirm mode: returns only once the broker has it; raises if unroutable or nacked
                channel.basic_publish(DELIVERIES, parked.routing_key, parked.body, properties, mandatory=True)
                with store.write() as session:
                    Audit(session).append("operator", "delivery.replayed", parked.delivery_id, routing_key=parked.routing_key, attempts=parked.attempts)
                channel.basic_ack(parked.delivery_tag)
                log.info("dlq.replayed", delivery_id=parked.delivery_id, routing_key=parked.routing_key, attempts=parked.attempts)
                replayed.append(parked.delivery_id)
    finally:
        store.engine.dispose()
    return replayed
